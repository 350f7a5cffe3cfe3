"""cfn-lint over every template of every profile, each in the region it deploys to: no errors, no
warnings."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint_file

from platform_spec.names import EDGE
from platform_spec.regions import CLOUDFRONT_REGION
from tests.platform_synth import Synthesized


def _findings(synth: Synthesized) -> list[str]:
    found = []
    for layer in synth.spec.layers:
        path = synth.outdir / f"{synth.stack_name(layer)}.template.json"
        region = CLOUDFRONT_REGION if layer == EDGE else synth.spec.region
        found += [
            f"{layer}: {m.rule.id} {m.message} ({m.path_string})"
            for m in lint_file(path, config=ManualArgs(regions=[region]))
        ]
    return found


def test_every_template_passes_cfn_lint(profile: Synthesized) -> None:
    assert _findings(profile) == []


def test_a_platform_outside_us_east_1_passes_cfn_lint_in_both_regions(outside: Synthesized) -> None:
    assert outside.spec.region != CLOUDFRONT_REGION
    assert EDGE in outside.spec.layers
    assert _findings(outside) == []


def test_every_ignored_rule_says_why(profile: Synthesized) -> None:
    for layer in profile.spec.layers:
        for logical_id, resource in profile.template_json(layer)["Resources"].items():
            config = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
            for rule in config.get("ignore_checks", []):
                assert config.get("ignore_reasons", {}).get(rule), (
                    f"{layer}/{logical_id} ignores {rule} without a reason"
                )
