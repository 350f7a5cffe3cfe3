"""A validation plugin run by every synth: every path the spec implies is open
both ways in the synthesized security groups, and nothing else reaches the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)

from compliance.security_group_rules import EGRESS, INGRESS, group_peers, outside_sources, rules_between
from platform_spec import PlatformSpec
from platform_spec.connections import DATABASE, LOAD_BALANCER, peers, required_paths, service_peer
from platform_spec.names import NETWORK

RULE = "platform-reachability"


@dataclass(frozen=True)
class Problem:
    message: str
    logical_id: str


def reachability_problems(spec: PlatformSpec, network_template: dict[str, Any]) -> list[Problem]:
    groups = group_peers(spec, network_template)
    problems = [Problem(f"no security group for {peer}", "") for peer in peers(spec) if peer not in groups.values()]
    ingress = rules_between(network_template, groups, INGRESS)
    egress = rules_between(network_template, groups, EGRESS)
    paths = list(required_paths(spec))
    migrations = spec.service(spec.delivery.migrations_service)
    for path in paths:
        key = (path.source, path.destination, path.port)
        label = f"{path.label} ({path.purpose})"
        if path.source == service_peer(migrations) and path.destination == DATABASE:
            label += ", also the migrations task's path"
        if key not in ingress:
            problems.append(Problem(f"{label}: missing the ingress rule on {path.destination}'s group", ""))
        if key not in egress:
            problems.append(Problem(f"{label}: missing the egress rule on {path.source}'s group", ""))
    allowed = {(p.source, p.destination, p.port) for p in paths if p.destination == DATABASE}
    for (source, destination, port), logical_id in ingress.items():
        if destination == DATABASE and (source, destination, port) not in allowed:
            problems.append(
                Problem(
                    f"{source} -> {DATABASE}:{port}: reaches the database, which the spec does not allow", logical_id
                )
            )
    database_group = next((lid for lid, peer in groups.items() if peer == DATABASE), None)
    for source, _port, logical_id in outside_sources(network_template, database_group or ""):
        problems.append(
            Problem(f"{source} -> {DATABASE}: reaches the database, which the spec does not allow", logical_id)
        )
    problems.extend(_edge_problems(spec, network_template, groups))
    return problems


def _edge_problems(spec: PlatformSpec, network_template: dict[str, Any], groups: dict[str, str]) -> list[Problem]:
    """CloudFront's VPC origin reaches the load balancer on the spec's origin port (443 with the
    platform's own domain, 80 without) from the origin-facing prefix list, and nothing from
    outside the platform reaches it on any other port or from anywhere else."""
    edge = spec.edge
    prefix_list = spec.origin_facing_prefix_list
    cloudfront = f"cloudfront ({prefix_list})"
    balancer_group = next((lid for lid, peer in groups.items() if peer == LOAD_BALANCER), "")
    admitted = outside_sources(network_template, balancer_group)
    problems = [
        Problem(
            f"{source} -> {LOAD_BALANCER}:{port}: reaches the load balancer, which only {cloudfront} may, on "
            f"{edge.origin_port}",
            logical_id,
        )
        for source, port, logical_id in admitted
        if (source, port) != (prefix_list, edge.origin_port)
    ]
    if not any((source, port) == (prefix_list, edge.origin_port) for source, port, _ in admitted):
        problems.append(
            Problem(
                f"{cloudfront} -> {LOAD_BALANCER}:{edge.origin_port} (CloudFront's VPC origin): missing the "
                f"ingress rule on {LOAD_BALANCER}'s group",
                "",
            )
        )
    return problems


@jsii.implements(IPolicyValidationPlugin)
class ReachabilityCheck:
    """Fails the synth, naming the path and the missing side, when the network
    template does not open what the spec implies."""

    def __init__(self, spec: PlatformSpec) -> None:
        self._spec = spec

    @property
    def name(self) -> str:
        return "PlatformReachability"

    @property
    def version(self) -> str | None:
        return None

    @property
    def rule_ids(self) -> list[str] | None:
        return [RULE]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        expected = f"{self._spec.stack_name(NETWORK)}.template.json"
        network = next((p for p in context.template_paths if Path(p).name == expected), None)
        if network is None:
            # A check that cannot find what it checks must fail, never pass quietly.
            return PolicyValidationPluginReport(
                success=False,
                violations=[
                    PolicyViolation(
                        rule_name=RULE,
                        description=f"cannot check reachability: no {expected} among the synthesized templates "
                        f"({', '.join(sorted(Path(p).name for p in context.template_paths)) or 'none'})",
                        violating_resources=[
                            PolicyViolatingResource(
                                locations=["Resources"],
                                resource_logical_id="SecurityGroups",
                                template_path=str(context.template_paths[0]) if context.template_paths else expected,
                            )
                        ],
                    )
                ],
            )
        problems = reachability_problems(self._spec, json.loads(Path(network).read_text()))
        violations = [
            PolicyViolation(
                rule_name=RULE,
                description=problem.message,
                violating_resources=[
                    PolicyViolatingResource(
                        locations=["Properties"],
                        resource_logical_id=problem.logical_id or "SecurityGroups",
                        template_path=network,
                    )
                ],
            )
            for problem in problems
        ]
        return PolicyValidationPluginReport(success=not violations, violations=violations)
