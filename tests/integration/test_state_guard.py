"""The guard ``make diff`` runs: a change that would replace or remove state is refused."""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

from cdk_constructs.config_bucket import ConfigBucket
from platform_spec.names import DATA
from stacks import data_stack
from tests.platform_synth import Synthesized, synth_spec
from tools.state_guard import main, state_risks


def _templates(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {synth.stack_name(layer): synth.template_json(layer) for layer in synth.spec.layers}


def test_an_unchanged_platform_passes(profile: Synthesized) -> None:
    assert state_risks(_templates(profile), _templates(profile)) == []


def test_a_renamed_stateful_construct_is_refused(
    dev: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class RenamedConfigBucket(ConfigBucket):
        def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
            del construct_id
            super().__init__(scope, "Configuration", **kwargs)

    monkeypatch.setattr(data_stack, "ConfigBucket", RenamedConfigBucket)
    renamed = synth_spec(tmp_path / "renamed", dev.spec)
    risks = state_risks(_templates(dev), _templates(renamed))
    removed = [r for r in risks if r.resource_type == "AWS::S3::Bucket"]
    assert len(removed) == 1
    assert removed[0].stack == dev.stack_name(DATA)
    assert removed[0].logical_id.startswith("ConfigBucket")
    assert "would be removed" in str(removed[0])
    assert main([str(dev.outdir), str(renamed.outdir)]) == 1
    assert f"STATE AT RISK: {dev.stack_name(DATA)}: AWS::S3::Bucket ConfigBucket" in capsys.readouterr().out


def test_an_immutable_property_change_is_a_replacement(dev: Synthesized) -> None:
    new = copy.deepcopy(_templates(dev))
    data = new[dev.stack_name(DATA)]["Resources"]
    (database,) = [k for k, v in data.items() if v["Type"] == "AWS::RDS::DBInstance"]
    data[database]["Properties"]["DBInstanceIdentifier"] = f"{dev.spec.database_identifier}-2"
    (risk,) = state_risks(_templates(dev), new)
    assert str(risk) == (
        f"{dev.stack_name(DATA)}: AWS::RDS::DBInstance {database} would be replaced (DBInstanceIdentifier changed)"
    )


def test_a_stack_gone_from_the_app_takes_its_state_with_it_when_deleted(dev: Synthesized) -> None:
    new = {name: t for name, t in _templates(dev).items() if name != dev.stack_name(DATA)}
    risks = state_risks(_templates(dev), new)
    assert risks
    assert all("its stack is no longer in the app: deleting that stack would delete it" in r.reason for r in risks)


def test_a_renamed_platform_is_new_stacks_and_nothing_at_risk(
    dev: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make diff`` of a platform just renamed (docs/adopting.md): its base has the old names, none
    of which the change has. cdk deploy creates the new stacks and leaves the old alone."""
    renamed = synth_spec(tmp_path / "renamed", replace(dev.spec, project=f"{dev.spec.project}-renamed"))
    assert main([str(dev.outdir), str(renamed.outdir)]) == 0
    out = capsys.readouterr().out
    assert "STATE AT RISK" not in out
    assert f"none of the base's stacks ({', '.join(sorted(_templates(dev)))}) is in this change" in out
    assert "a renamed platform deploys new stacks" in out


def test_the_command_refuses_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "x.template.json").write_text(json.dumps({"Resources": {}}))
    assert main([str(tmp_path / "absent"), str(tmp_path / "new")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no templates in {tmp_path / 'absent'}"


def test_make_diff_refuses_a_base_that_does_not_exist_and_keeps_cdk_out() -> None:
    """The README once named a tag that did not exist, and `make diff` deleted cdk.out first."""
    root = Path(__file__).resolve().parents[2]
    marker = root / "cdk.out" / "kept-by-make-diff.txt"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("a synth the user made")
    try:
        result = subprocess.run(
            ["make", "--no-print-directory", "diff", "BASE=no-such-tag-v0"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0
        assert "BASE=no-such-tag-v0 names no commit, branch or tag" in result.stderr
        assert marker.exists(), "make diff removed cdk.out before it failed"
    finally:
        marker.unlink(missing_ok=True)
