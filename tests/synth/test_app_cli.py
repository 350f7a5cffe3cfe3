"""``app.py`` itself: bad input ends it with one line, status 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from platform_spec import spec_from_context
from platform_spec.ci import CONTEXT_KEYS as CI_CONTEXT_KEYS
from platform_spec.context import platform_keys
from platform_spec.profiles import DEFAULT_PROFILE, PROFILES
from tests import background
from tests.app_entry import start as start_app_entry
from tests.platform_synth import Synthesized, assert_each_refused_in_one_line, profile_context, synth_profile

DEFAULT = spec_from_context({})
KNOWN = ", ".join((*platform_keys(DEFAULT), *CI_CONTEXT_KEYS))
# A profile with a domain whose zone it does not name (prod, as shipped), and one without a domain.
WITH_DOMAIN = next(
    (name for name, build in PROFILES.items() if (d := build().edge.domain) and d.hosted_zone_id is None), None
)
WITHOUT_DOMAIN = next((name for name, build in PROFILES.items() if build().edge.domain is None), None)

CASES = {
    "unknown profile": (
        {"env": "no-such-profile"},
        f"error: context env: unknown profile; choose one of {', '.join(PROFILES)} (got 'no-such-profile')",
    ),
    "non-boolean toggle": (
        {f"{DEFAULT.services[0].name}_ecs_exec": "maybe"},
        f"error: context {DEFAULT.services[0].name}_ecs_exec: must be true or false (got 'maybe')",
    ),
    # `cdk synth -c ENV=prod` once synthesized dev, silently.
    "misspelt profile key": (
        {"ENV": DEFAULT_PROFILE},
        f"error: context ENV: unknown key; did you mean env? the app reads {KNOWN} (got '{DEFAULT_PROFILE}')",
    ),
}
if WITHOUT_DOMAIN is not None:
    CASES["a hosted zone for a profile without a domain"] = (
        {"env": WITHOUT_DOMAIN, "hosted_zone_id": "Z0123456789ABC"},
        f"error: context hosted_zone_id: profile {WITHOUT_DOMAIN} names no domain (EdgeSpec.domain) for a hosted "
        "zone to serve (got 'Z0123456789ABC')",
    )
if WITH_DOMAIN is not None:
    domain = PROFILES[WITH_DOMAIN]().edge.domain
    assert domain is not None
    # The zone's id is the account's own and synth makes no lookups.
    CASES["a domain without its hosted zone"] = (
        {"env": WITH_DOMAIN},
        f"error: context hosted_zone_id: profile {WITH_DOMAIN} serves {domain.name}: give the id of its Route 53 "
        f"public hosted zone {domain.hosted_zone_name} with -c hosted_zone_id=Z... (aws route53 "
        f"list-hosted-zones-by-name --dns-name {domain.hosted_zone_name}) or in DomainSpec.hosted_zone_id (got None)",
    )
    CASES["a hosted zone id that is not one"] = (
        {"env": WITH_DOMAIN, "hosted_zone_id": domain.name},
        "error: context hosted_zone_id: not a Route 53 hosted zone id (Z followed by capitals and digits) "
        f"(got '{domain.name}')",
    )


def test_bad_context_exits_with_one_line_and_no_output(tmp_path: Path) -> None:
    assert_each_refused_in_one_line(tmp_path, CASES)


def test_app_py_synthesizes_the_default_profile_validating_each_template_once(
    synthesized: dict[str, Synthesized], tmp_path: Path
) -> None:
    """``app.py`` whole, as ``cdk synth`` runs it (tests/app_entry.py, in the background). It starts
    CloudFormation Validate's engine in a thread while importing the app's modules: nothing else may
    use jsii's pipe meanwhile (a module constant such as ``Duration.minutes(5)`` would), the plugin
    it registers replaces the CDK's own (each template validated once, not twice), and the templates
    are the ones the suite's own synth of the profile holds."""
    run = background.take("app-entry", lambda: start_app_entry(profile_context(DEFAULT_PROFILE)))
    result = run.result()
    assert result["status"] == 0, result["output"][-3000:]
    assert result["engine_started"], "app.py starts the engine ahead"
    assert result["during_overlap"] == [], (
        "jsii messages from the main thread while the engine starts (no call at import time)"
    )
    manifest = json.loads((run.outdir / "manifest.json").read_text())
    stacks = [
        name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert result["counters"]["CloudFormationValidate.validate(cnt)"] == len(stacks)
    ours = (
        synthesized[DEFAULT_PROFILE]
        if DEFAULT_PROFILE in synthesized
        else synth_profile(tmp_path, profile_context(DEFAULT_PROFILE))
    )
    for stack in stacks:
        written = json.loads((run.outdir / f"{stack}.template.json").read_text())
        assert written == json.loads((ours.outdir / f"{stack}.template.json").read_text()), stack
