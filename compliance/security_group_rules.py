"""The platform's security groups and the rules between them, as a network template holds them.

Plain data in, plain data out (no CDK): the one reader of the rules. The reachability check
(every synth), the diagram and the tests read synthesized templates through these functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from platform_spec import PlatformSpec
from platform_spec.connections import peers

Rule = tuple[str, str, int]  # (source peer, destination peer, port)
INGRESS = ("AWS::EC2::SecurityGroupIngress", "SourceSecurityGroupId")
EGRESS = ("AWS::EC2::SecurityGroupEgress", "DestinationSecurityGroupId")
_INLINE = {INGRESS: "SecurityGroupIngress", EGRESS: "SecurityGroupEgress"}


class GroupRule(NamedTuple):
    """One rule of a security group, wherever the template holds it."""

    holder: str
    """The logical id of the resource that holds it: the group itself, or the rule's own resource."""
    group: Any
    """The group it belongs to, as the template names it (``Fn::GetAtt [X, GroupId]`` for a rule
    inline on group X; the rule resource's own ``GroupId`` otherwise, which may name a group of
    another stack)."""
    rule: Mapping[str, Any]
    """The rule's properties (``IpProtocol``, ports, and the source or destination)."""
    inline: bool


def group_rules(resources: Mapping[str, Mapping[str, Any]], direction: tuple[str, str]) -> Iterator[GroupRule]:
    """Every rule of ``direction`` (``INGRESS`` or ``EGRESS``) among ``resources`` (a template's
    ``Resources``): inline on a security group, or a resource of its own."""
    kind, _ = direction
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            for rule in props.get(_INLINE[direction], []):
                yield GroupRule(logical_id, {"Fn::GetAtt": [logical_id, "GroupId"]}, rule, inline=True)
        elif resource["Type"] == kind:
            yield GroupRule(logical_id, props.get("GroupId"), props, inline=False)


def group_description(spec: PlatformSpec, peer: str) -> str:
    """How each group names its party, so a template can be read back by party."""
    return f"{spec.stack_prefix} {peer}"


def group_of(props: Mapping[str, Any], key: str = "GroupId") -> str | None:
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
    _, other = direction
    found: dict[Rule, str] = {}
    for entry in group_rules(template["Resources"], direction):
        props = entry.rule
        if entry.inline or props.get("FromPort") != props.get("ToPort"):
            continue
        owner, peer = groups.get(group_of(props) or ""), groups.get(group_of(props, other) or "")
        if owner is None or peer is None:
            continue
        pair = (peer, owner) if direction == INGRESS else (owner, peer)
        found[(*pair, props["FromPort"])] = entry.holder
    return found


def outside_sources(template: dict[str, Any], group_logical_id: str) -> list[tuple[str, int | None, str]]:
    """(source, port, logical id) of each ingress rule of the group whose source is not a security
    group: an address range or a prefix list, inline on the group or a rule of its own."""
    found: list[tuple[str, int | None, str]] = []
    for entry in group_rules(template["Resources"], INGRESS):
        rule = entry.rule
        if group_of({"GroupId": entry.group}) != group_logical_id:
            continue
        if not entry.inline and "SourceSecurityGroupId" in rule:
            continue
        source = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourcePrefixListId")
        port = rule.get("FromPort") if rule.get("FromPort") == rule.get("ToPort") else None
        found.append((str(source), port, entry.holder))
    return found
