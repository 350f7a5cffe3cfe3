"""``app.py`` itself: bad input ends it with one line, status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

from tests.platform_synth import assert_each_refused_in_one_line

KNOWN = "env, backend_ecs_exec, frontend_ecs_exec, prometheus_ecs_exec, grafana_ecs_exec, ci, ci_oidc_provider_arn"
CASES = {
    "unknown profile": (
        {"env": "staging"},
        "error: context env: unknown profile; choose one of dev, prod (got 'staging')",
    ),
    "non-boolean toggle": (
        {"backend_ecs_exec": "maybe"},
        "error: context backend_ecs_exec: must be true or false (got 'maybe')",
    ),
    # prod names its domain; the zone's id is the account's own and synth makes no lookups.
    "production without its hosted zone": (
        {"env": "prod"},
        "error: context hosted_zone_id: profile prod serves davidshaevel.com: give the id of its Route 53 public "
        "hosted zone davidshaevel.com with -c hosted_zone_id=Z... (aws route53 list-hosted-zones-by-name "
        "--dns-name davidshaevel.com) or in DomainSpec.hosted_zone_id (got None)",
    ),
    "a hosted zone for a profile without a domain": (
        {"env": "dev", "hosted_zone_id": "Z0123456789ABC"},
        "error: context hosted_zone_id: profile dev names no domain (EdgeSpec.domain) for a hosted zone to serve "
        "(got 'Z0123456789ABC')",
    ),
    "a hosted zone id that is not one": (
        {"env": "prod", "hosted_zone_id": "davidshaevel.com"},
        "error: context hosted_zone_id: not a Route 53 hosted zone id (Z followed by capitals and digits) "
        "(got 'davidshaevel.com')",
    ),
    # `cdk synth -c ENV=prod` once synthesized dev, silently.
    "misspelt profile key": (
        {"ENV": "prod"},
        f"error: context ENV: unknown key; did you mean env? the app reads {KNOWN} (got 'prod')",
    ),
}


def test_bad_context_exits_with_one_line_and_no_output(tmp_path: Path) -> None:
    assert_each_refused_in_one_line(tmp_path, CASES)
