"""The platform's security groups and the rules between them, as a network template holds them.

Plain data in, plain data out (no CDK): the one reader of the rules. The reachability check
(every synth), the diagram and the tests read synthesized templates through these functions.
"""

from __future__ import annotations

from typing import Any

from platform_spec import PlatformSpec
from platform_spec.connections import peers

Rule = tuple[str, str, int]  # (source peer, destination peer, port)
INGRESS = ("AWS::EC2::SecurityGroupIngress", "SourceSecurityGroupId")
EGRESS = ("AWS::EC2::SecurityGroupEgress", "DestinationSecurityGroupId")


def group_description(spec: PlatformSpec, peer: str) -> str:
    """How each group names its party, so a template can be read back by party."""
    return f"{spec.stack_prefix} {peer}"


def group_of(props: dict[str, Any], key: str = "GroupId") -> str | None:
    """The logical id in a ``Fn::GetAtt [X, GroupId]``, if that is what ``key`` holds."""
    group = props.get(key)
    return group["Fn::GetAtt"][0] if isinstance(group, dict) and "Fn::GetAtt" in group else None


def group_peers(spec: PlatformSpec, template: dict[str, Any]) -> dict[str, str]:
    """Security group logical id -> the party of the spec it belongs to."""
    by_description = {group_description(spec, peer): peer for peer in peers(spec)}
    return {
        logical_id: by_description[description]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup"
        for description in [resource["Properties"].get("GroupDescription")]
        if description in by_description
    }


def rules_between(template: dict[str, Any], groups: dict[str, str], direction: tuple[str, str]) -> dict[Rule, str]:
    """(source, destination, port) -> logical id of each single-port rule between two of ``groups``."""
    kind, other = direction
    found: dict[Rule, str] = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] != kind or props.get("FromPort") != props.get("ToPort"):
            continue
        owner, peer = groups.get(group_of(props) or ""), groups.get(group_of(props, other) or "")
        if owner is None or peer is None:
            continue
        pair = (peer, owner) if direction == INGRESS else (owner, peer)
        found[(*pair, props["FromPort"])] = logical_id
    return found


def outside_sources(template: dict[str, Any], group_logical_id: str) -> list[tuple[str, int | None, str]]:
    """(source, port, logical id) of each ingress rule of the group whose source is not a security
    group: an address range or a prefix list, inline on the group or a rule of its own."""
    found: list[tuple[str, int | None, str]] = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup" and logical_id == group_logical_id:
            rules = props.get("SecurityGroupIngress", [])
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress" and group_of(props) == group_logical_id:
            rules = [] if "SourceSecurityGroupId" in props else [props]
        else:
            continue
        for rule in rules:
            source = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourcePrefixListId")
            port = rule.get("FromPort") if rule.get("FromPort") == rule.get("ToPort") else None
            found.append((str(source), port, logical_id))
    return found
