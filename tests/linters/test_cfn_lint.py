"""cfn-lint over every template of both profiles: no errors, no warnings."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint_file

from platform_spec.names import LAYERS
from tests.platform_synth import Synthesized


@pytest.mark.parametrize("layer", LAYERS)
def test_template_passes_cfn_lint(profile: Synthesized, layer: str) -> None:
    path = profile.outdir / f"{profile.stack_name(layer)}.template.json"
    findings = lint_file(path, config=ManualArgs(regions=[profile.spec.region]))
    assert [f"{m.rule.id} {m.message} ({m.path_string})" for m in findings] == []


def test_every_ignored_rule_says_why(profile: Synthesized) -> None:
    for layer in LAYERS:
        for logical_id, resource in profile.template_json(layer)["Resources"].items():
            config = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
            for rule in config.get("ignore_checks", []):
                assert config.get("ignore_reasons", {}).get(rule), (
                    f"{layer}/{logical_id} ignores {rule} without a reason"
                )
