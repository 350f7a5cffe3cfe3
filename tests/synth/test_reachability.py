"""The reachability check that runs on every synth."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aws_cdk import IPolicyValidationContext
from aws_cdk import aws_ec2 as ec2

from compliance.reachability_check import ReachabilityCheck, reachability_problems
from layers.network import security_groups
from platform_spec.connections import DATABASE, PROMETHEUS, NetworkPath, service_peer
from platform_spec.names import COMPUTE, DATA, NETWORK
from tests.picking import first_or_skip
from tests.platform_synth import Synthesized, synth_spec


def _messages(spec: Any, template: dict[str, Any]) -> list[str]:
    return [problem.message for problem in reachability_problems(spec, template)]


def test_the_shipped_profiles_are_reachable(profile: Synthesized) -> None:
    assert _messages(profile.spec, profile.template_json(NETWORK)) == []


def _drop_rule(template: dict[str, Any], kind: str, port: int) -> dict[str, Any]:
    edited = copy.deepcopy(template)
    (logical_id, _) = next(
        (k, v)
        for k, v in edited["Resources"].items()
        if v["Type"] == kind
        and v["Properties"].get("FromPort") == port
        and "prometheus scrapes" in v["Properties"].get("Description", "")
    )
    del edited["Resources"][logical_id]
    return edited


@pytest.mark.parametrize(
    ("kind", "side"), [("AWS::EC2::SecurityGroupIngress", "ingress"), ("AWS::EC2::SecurityGroupEgress", "egress")]
)
def test_a_missing_side_is_named(dev: Synthesized, kind: str, side: str) -> None:
    scraped = dev.spec.scraped_services[0]
    template = _drop_rule(dev.template_json(NETWORK), kind, scraped.port)
    peer = service_peer(scraped)
    owner = peer if side == "ingress" else PROMETHEUS
    assert _messages(dev.spec, template) == [
        f"{PROMETHEUS} -> {peer}:{scraped.port} (prometheus scrapes {scraped.name} {scraped.metrics_path}): "
        f"missing the {side} rule on {owner}'s group"
    ]


def test_anything_else_reaching_the_database_fails(dev: Synthesized) -> None:
    template = copy.deepcopy(dev.template_json(NETWORK))
    resources = template["Resources"]
    groups = {
        r["Properties"]["GroupDescription"].split(" ", 1)[1]: k
        for k, r in resources.items()
        if r["Type"] == "AWS::EC2::SecurityGroup"
    }
    # A service the spec does not let use the database.
    outsider = service_peer(
        first_or_skip((s for s in dev.spec.services if not s.uses_database), "service without the database")
    )
    port, cidr = dev.spec.database.port, dev.spec.network.cidr
    resources["OutsiderToDatabase"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": [groups[DATABASE], "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [groups[outsider], "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
        },
    }
    resources[groups[DATABASE]]["Properties"]["SecurityGroupIngress"] = [
        {"CidrIp": cidr, "IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    ]
    assert _messages(dev.spec, template) == [
        f"{outsider} -> {DATABASE}:{port}: reaches the database, which the spec does not allow",
        f"{cidr} -> {DATABASE}: reaches the database, which the spec does not allow",
    ]


def test_removing_a_rule_from_the_code_fails_the_synth(
    dev: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a developer deleting one line of layers/network/security_groups.py would see."""
    original = security_groups.PlatformSecurityGroups._open
    scraped = dev.spec.scraped_services[0]
    peer = service_peer(scraped)

    def open_without_scrape_ingress(self: security_groups.PlatformSecurityGroups, path: NetworkPath) -> None:
        if path.source == PROMETHEUS and path.destination == peer:
            self._groups[path.source].add_egress_rule(
                self._groups[path.destination], ec2.Port.tcp(path.port), path.purpose
            )
            return
        original(self, path)

    monkeypatch.setattr(security_groups.PlatformSecurityGroups, "_open", open_without_scrape_ingress)
    with pytest.raises(RuntimeError) as failure:
        synth_spec(tmp_path, dev.spec, checks=True)
    assert (
        f"{PROMETHEUS} -> {peer}:{scraped.port} (prometheus scrapes {scraped.name} {scraped.metrics_path}): "
        f"missing the ingress rule on {peer}'s group" in str(failure.value)
    )


def test_the_check_fails_when_it_cannot_find_the_network_template(dev: Synthesized) -> None:
    """A check that cannot see what it checks must fail, naming what it looked for."""
    others = [str(dev.outdir / f"{dev.stack_name(layer)}.template.json") for layer in (DATA, COMPUTE)]
    context = cast(IPolicyValidationContext, SimpleNamespace(template_paths=others))
    report = ReachabilityCheck(dev.spec).validate(context)
    assert report.success is False
    (violation,) = report.violations
    assert violation.description == (
        f"cannot check reachability: no {dev.stack_name(NETWORK)}.template.json among the synthesized templates "
        f"({dev.stack_name(COMPUTE)}.template.json, {dev.stack_name(DATA)}.template.json)"
    )
