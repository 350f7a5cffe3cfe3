"""Reading synthesized templates the way several test files do: the rules between the
platform's security groups, and the whole platform as the run-time rules see it."""

from __future__ import annotations

from typing import Any

from compliance.cloudformation_values import Deployment
from platform_spec.names import LAYERS, NETWORK
from tests.platform_synth import Synthesized

Templates = dict[str, dict[str, Any]]


def templates_of(synth: Synthesized) -> Templates:
    return {synth.stack_name(layer): synth.template_json(layer) for layer in LAYERS}


def deployment_of(synth: Synthesized, templates: Templates | None = None) -> Deployment:
    return Deployment(templates or templates_of(synth), region=synth.spec.region)


Rule = tuple[str, str, int]  # (source peer, destination peer, port)


def group_peers(template: dict[str, Any], synth: Synthesized) -> dict[str, str]:
    """Security group logical id -> peer key, read from each group's description."""
    prefix = f"{synth.spec.stack_prefix} "
    return {
        logical_id: resource["Properties"]["GroupDescription"].removeprefix(prefix)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup"
        and resource["Properties"]["GroupDescription"].startswith(prefix)
    }


def group_ref(value: Any) -> str:
    """The logical id in a ``Fn::GetAtt [X, GroupId]``."""
    assert isinstance(value, dict), value
    assert "Fn::GetAtt" in value, value
    logical_id: str = value["Fn::GetAtt"][0]
    return logical_id


def rules(synth: Synthesized) -> tuple[set[Rule], set[Rule]]:
    """(ingress rules, egress rules) between the platform's groups, by peer name."""
    template = synth.template_json(NETWORK)
    groups = group_peers(template, synth)
    ingress: set[Rule] = set()
    egress: set[Rule] = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress" and "SourceSecurityGroupId" in props:
            assert props["FromPort"] == props["ToPort"]
            ingress.add(
                (
                    groups[group_ref(props["SourceSecurityGroupId"])],
                    groups[group_ref(props["GroupId"])],
                    props["FromPort"],
                )
            )
        elif resource["Type"] == "AWS::EC2::SecurityGroupEgress" and "DestinationSecurityGroupId" in props:
            assert props["FromPort"] == props["ToPort"]
            egress.add(
                (
                    groups[group_ref(props["GroupId"])],
                    groups[group_ref(props["DestinationSecurityGroupId"])],
                    props["FromPort"],
                )
            )
    return ingress, egress
