"""``python -m tools.diagram CLOUD_ASSEMBLY``: the platform as a Graphviz graph, drawn from the synthesized app.

Nodes come from the templates (ECS services with their Cloud Map names and
ports, the load balancer, CloudFront, the database, the file system, the state
machine), edges from the security-group rules of the network template, labelled
with the rule's own description. Run by ``make diagram``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from compliance.security_group_rules import INGRESS, group_peers, rules_between
from platform_spec import spec_from_context
from platform_spec.connections import DATABASE, FILE_SYSTEM, GRAFANA, LOAD_BALANCER, PROMETHEUS, service_peer
from platform_spec.names import COMPUTE, DATA, DELIVERY, NETWORK, OBSERVABILITY, TARGETS_PROBE

EDGE_LABEL_WIDTH = 22
"""Characters per line of an edge's label."""


def _templates(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in sorted(directory.glob("*.template.json"))
    }


def _resources(templates: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for t in templates.values() for r in t["Resources"].values() if r["Type"] == kind]


def render(directory: Path) -> str:
    templates = _templates(directory)
    network_name = next(name for name in templates if name.endswith(f"-{NETWORK}"))
    environment = network_name.split("-", 1)[0]
    spec = spec_from_context({"env": environment})
    registered = {
        (r["ContainerName"], r["ContainerPort"])
        for s in _resources(templates, "AWS::ECS::Service")
        for r in s["Properties"].get("ServiceRegistries", [])
    }
    labels: dict[str, str] = {
        LOAD_BALANCER: f"internal ALB\\n:{spec.edge.origin_port}",
        DATABASE: "PostgreSQL (RDS)",
        FILE_SYSTEM: "EFS (Prometheus TSDB)",
        TARGETS_PROBE: "targets probe\\n(verify)",
    }
    for service in spec.services:
        tasks = f"{service.min_tasks}-{service.max_tasks} tasks"
        if service.container_port is None:
            labels[service_peer(service)] = f"{service.name}\\nworker, {tasks}"
            continue
        assert (service.container_name, service.container_port) in registered, service.name
        reached = (service.route or "default route") if service.is_public else service.kind
        address = f"{spec.dns_name(service)}:{service.container_port}"
        labels[service_peer(service)] = f"{service.name}\\n{address}\\n{reached}, {tasks}"
    if (spec.prometheus.name, spec.prometheus.port) in registered:
        labels[PROMETHEUS] = f"Prometheus\\n{spec.prometheus.name}.{spec.namespace}:{spec.prometheus.port}"
    if spec.grafana and _resources(templates, "AWS::ElasticLoadBalancingV2::ListenerRule"):
        labels[GRAFANA] = f"Grafana\\n{spec.grafana.route}"
    lines = [
        "digraph platform {",
        # Top to bottom, labels wrapped: read at a README's width, a left-to-right graph of long
        # labels was four times as wide as high, and its text too small to read.
        '  graph [rankdir=TB, nodesep=0.3, ranksep=0.5, fontname="Helvetica", fontsize=15, label="'
        + f"{spec.stack_prefix}: drawn from the synthesized templates"
        + '", labelloc=t];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f8", fontname="Helvetica", fontsize=14];',
        '  edge [fontname="Helvetica", fontsize=12];',
        '  viewers [label="viewers", shape=ellipse];',
    ]
    if _resources(templates, "AWS::CloudFront::Distribution"):
        waf = " + WAF" if _resources(templates, "AWS::WAFv2::WebACL") else ""
        lines.append(f'  cloudfront [label="CloudFront{waf}\\nHTTPS only"];')
        lines.append('  viewers -> cloudfront [label="HTTPS"];')
        lines.append(f'  cloudfront -> "{LOAD_BALANCER}" [label="VPC origin :{spec.edge.origin_port}"];')
    stacks = {
        COMPUTE: [LOAD_BALANCER, *(service_peer(s) for s in spec.services)],
        OBSERVABILITY: [PROMETHEUS, GRAFANA],
        DATA: [DATABASE, FILE_SYSTEM],
        DELIVERY: [TARGETS_PROBE],
    }
    for stack, members in stacks.items():
        present = [m for m in members if m in labels]
        lines.append(f'  subgraph "cluster_{stack}" {{ label="{spec.stack_name(stack)}"; style=dashed;')
        lines.extend(f'    "{m}" [label="{labels[m]}"];' for m in present)
        if stack == DELIVERY and _resources(templates, "AWS::StepFunctions::StateMachine"):
            lines.append('    deployment [label="deployment state machine\\nmigrations, rollout, smoke tests"];')
        lines.append("  }")
    network = templates[network_name]
    rules = rules_between(network, group_peers(spec, network), INGRESS)
    for (source, destination, port), logical_id in sorted(rules.items()):
        description = network["Resources"][logical_id]["Properties"].get("Description", "")
        if source in labels and destination in labels:
            label = "\\n".join(textwrap.wrap(f"{description} :{port}", EDGE_LABEL_WIDTH))
            lines.append(f'  "{source}" -> "{destination}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def source_marker(dot: str) -> str:
    """The comment ``make diagram`` puts in the SVG: which DOT it was drawn from."""
    return f"<!-- drawn from docs/architecture.dot sha256:{hashlib.sha256(dot.encode()).hexdigest()} -->"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not any(Path(argv[0]).glob("*-network.template.json")):
        print("usage: python -m tools.diagram CLOUD_ASSEMBLY_DIRECTORY (run `make diagram`)", file=sys.stderr)
        return 2
    sys.stdout.write(render(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
