"""The guard ``make diff`` runs: a change that would replace or remove state is refused."""

from __future__ import annotations

import copy
import json
import os
import secrets
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

from compliance.replacements import replacements
from layers.data.config_bucket import ConfigBucket
from platform_spec.names import COMPUTE, DATA, OBSERVABILITY
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
    # A name of this run's own: another run in the same checkout has its marker beside it.
    marker = root / "cdk.out" / f"kept-by-make-diff-{os.getpid()}-{secrets.token_hex(4)}.txt"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("a synth the user made")
    try:
        # -o install: the recipe is under test, not the install it depends on, which would
        # reinstall the dependencies another run may be using where they look out of date.
        result = subprocess.run(
            ["make", "--no-print-directory", "-o", "install", "diff", "BASE=no-such-tag-v0"],
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


def _resource(templates: dict[str, dict[str, Any]], stack: str, kind: str, **properties: Any) -> str:
    (logical_id,) = [
        str(k)
        for k, v in templates[stack]["Resources"].items()
        if v["Type"] == kind and all(v["Properties"].get(p) == value for p, value in properties.items())
    ]
    return logical_id


def test_a_replacement_under_a_name_still_taken_is_refused(
    dev: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Cloud Map service whose health-check setting (replacement-only) changes would be replaced
    in the same namespace, under the same name: the old one still holds it."""
    service = next(s for s in dev.spec.services if s.container_port is not None)
    compute = dev.stack_name(COMPUTE)
    new = copy.deepcopy(_templates(dev))
    cloud_map = _resource(new, compute, "AWS::ServiceDiscovery::Service", Name=service.name)
    new[compute]["Resources"][cloud_map]["Properties"]["HealthCheckCustomConfig"] = {"FailureThreshold": 2}
    (risk,) = state_risks(_templates(dev), new)
    assert risk.name_clash
    assert str(risk) == (
        f"{compute}: AWS::ServiceDiscovery::Service {cloud_map} would be replaced (HealthCheckCustomConfig changed) "
        f'but keeps Name "{service.name}": CloudFormation creates the new one before it deletes the old, and the '
        "old one still holds it"
    )
    for name, templates in (("base", _templates(dev)), ("new", new)):
        (tmp_path / name).mkdir()
        for stack, template in templates.items():
            (tmp_path / name / f"{stack}.template.json").write_text(json.dumps(template))
    assert main([str(tmp_path / "base"), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"NAME CLASH: {risk}" in out
    assert "1 resource(s) would be replaced under a name that is still taken" in out[-1]


def test_a_mount_target_replaced_in_its_file_system_is_refused(dev: Synthesized) -> None:
    """Mount targets have no name, but a file system takes one per zone: a replaced one clashes too."""
    data = dev.stack_name(DATA)
    new = copy.deepcopy(_templates(dev))
    mount_target = sorted(k for k, v in new[data]["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget")[0]
    new[data]["Resources"][mount_target]["Properties"]["IpAddress"] = "10.0.0.10"
    (risk,) = state_risks(_templates(dev), new)
    assert risk.name_clash
    assert risk.logical_id == mount_target
    assert "would be replaced (IpAddress changed) but keeps FileSystemId" in risk.reason


def test_a_renamed_namespace_takes_its_services_along_without_a_clash(dev: Synthesized) -> None:
    """A new namespace name replaces the namespace, and every Cloud Map service in it (those of the
    compute stack through a Ref, Prometheus's and Alertmanager's through another stack's output):
    each is created in the new namespace, where its name is free. Nothing is refused."""
    compute = dev.stack_name(COMPUTE)
    new = copy.deepcopy(_templates(dev))
    namespace = _resource(new, compute, "AWS::ServiceDiscovery::PrivateDnsNamespace", Name=dev.spec.namespace)
    new[compute]["Resources"][namespace]["Properties"]["Name"] = f"renamed.{dev.spec.namespace}"
    replaced = replacements(_templates(dev), new)
    services = [key for key in replaced if new[key[0]]["Resources"][key[1]]["Type"] == "AWS::ServiceDiscovery::Service"]
    assert {stack for stack, _ in services} == {compute, dev.stack_name(OBSERVABILITY)}
    assert state_risks(_templates(dev), new) == []


def test_state_replaced_along_with_what_it_names_is_refused(dev: Synthesized) -> None:
    """The database's subnet group takes a name only when created (DBSubnetGroupName); a new one
    replaces the group, and the database names the group in a replacement-only property."""
    data = dev.stack_name(DATA)
    new = copy.deepcopy(_templates(dev))
    subnets = _resource(new, data, "AWS::RDS::DBSubnetGroup")
    new[data]["Resources"][subnets]["Properties"]["DBSubnetGroupName"] = f"{dev.spec.stack_prefix}-database"
    (risk,) = state_risks(_templates(dev), new)
    assert risk.resource_type == "AWS::RDS::DBInstance"
    assert not risk.name_clash
    assert risk.reason == f"would be replaced (DBSubnetGroupName names {data}/{subnets}, which is replaced)"
