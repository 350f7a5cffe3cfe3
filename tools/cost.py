"""``python -m tools.cost CLOUD_ASSEMBLY``: the fixed monthly cost of the synthesized platform.

Reads every template of a cloud assembly and prices what is billed by the hour
or the month whether or not anyone uses the platform, at the list prices in
``tools/prices.json`` (which names its source and date). What is billed by use
is listed, not guessed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_spec import PlatformSpec, SpecError, spec_from_context

PRICES = json.loads((Path(__file__).parent / "prices.json").read_text())
PRICE_REGION = "us-east-1"
"""The region of the list prices in prices.json."""


@dataclass(frozen=True)
class Item:
    stack: str
    name: str
    monthly: float


def _hours(rate: float) -> float:
    return float(rate * PRICES["hours_per_month"])


def _ref_id(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _task_count(resources: dict[str, Any], service_id: str, service: dict[str, Any]) -> int:
    """DesiredCount if set; else the autoscaling minimum (what runs when idle: 0 for a service that
    sleeps until a request wakes it, priced at no task); else ECS's default of 1."""
    if "DesiredCount" in service["Properties"]:
        return int(service["Properties"]["DesiredCount"])
    for resource in resources.values():
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget" and service_id in json.dumps(
            resource["Properties"]["ResourceId"]
        ):
            return int(resource["Properties"]["MinCapacity"])
    return 1


def _fargate(resources: dict[str, Any], stack: str, service_id: str, service: dict[str, Any]) -> list[Item]:
    task = resources.get(_ref_id(service["Properties"]["TaskDefinition"]) or "", {}).get("Properties", {})
    architecture = task.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
    strategy = service["Properties"].get("CapacityProviderStrategy") or [{"CapacityProvider": "FARGATE"}]
    provider = strategy[0]["CapacityProvider"]
    rate = PRICES["hourly"]["fargate"][architecture][provider]
    vcpu, gb = int(task["Cpu"]) / 1024, int(task["Memory"]) / 1024
    tasks = _task_count(resources, service_id, service)
    containers = task.get("ContainerDefinitions", [])
    label = next((c["Name"] for c in containers if c.get("Essential", True)), service_id)
    monthly = tasks * _hours(vcpu * rate["vcpu"] + gb * rate["gb"])
    name = f"Fargate {label}: {tasks} x {vcpu:g} vCPU/{gb:g} GB {architecture} {provider}"
    instances = tasks if service["Properties"].get("ServiceRegistries") else 0
    items = [Item(stack, name, monthly)]
    if instances:
        items.append(
            Item(
                stack,
                f"Cloud Map instances of {label} ({instances})",
                instances * PRICES["monthly"]["cloud_map_instance"],
            )
        )
    return items


def _alarm_metrics(alarm: dict[str, Any]) -> int:
    metrics = alarm["Properties"].get("Metrics")
    return sum(1 for m in metrics if "MetricStat" in m) if metrics else 1


Pricer = Callable[[str, str, dict[str, Any], dict[str, Any]], list[Item]]
_MONTHLY, _HOURLY = PRICES["monthly"], PRICES["hourly"]


def _nat_gateway(stack: str, _: str, __: dict[str, Any], ___: dict[str, Any]) -> list[Item]:
    return [Item(stack, "NAT gateway", _hours(_HOURLY["nat_gateway"]))]


def _elastic_ip(stack: str, _: str, __: dict[str, Any], ___: dict[str, Any]) -> list[Item]:
    return [Item(stack, "public IPv4 address (Elastic IP)", _hours(_HOURLY["public_ipv4_address"]))]


def _instance(stack: str, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> list[Item]:
    instance_type = props["InstanceType"]
    volume = sum(m.get("Ebs", {}).get("VolumeSize", 8) for m in props.get("BlockDeviceMappings", [{}]))
    items = [
        Item(stack, f"EC2 {instance_type} ({logical_id})", _hours(_HOURLY["ec2"][instance_type])),
        Item(stack, f"EBS gp3 {volume} GB", volume * _MONTHLY["ebs_gp3_gb"]),
    ]
    if any(n.get("AssociatePublicIpAddress") for n in props.get("NetworkInterfaces", [])):
        items.append(Item(stack, "public IPv4 address (instance)", _hours(_HOURLY["public_ipv4_address"])))
    if props.get("Monitoring"):
        items.append(Item(stack, "EC2 detailed monitoring", _MONTHLY["ec2_detailed_monitoring_instance"]))
    return items


def _load_balancer(stack: str, _: str, props: dict[str, Any], __: dict[str, Any]) -> list[Item]:
    if props.get("Type", "application") != "application":
        return []
    scheme = props.get("Scheme", "internet-facing")
    items = [Item(stack, f"Application Load Balancer ({scheme})", _hours(_HOURLY["application_load_balancer"]))]
    if scheme == "internet-facing":
        zones = len(props.get("Subnets", [])) or 2
        items.append(
            Item(
                stack,
                f"public IPv4 addresses of the load balancer ({zones})",
                zones * _hours(_HOURLY["public_ipv4_address"]),
            )
        )
    return items


def _ecs_service(stack: str, logical_id: str, _: dict[str, Any], resources: dict[str, Any]) -> list[Item]:
    return _fargate(resources, stack, logical_id, resources[logical_id])


def _database(stack: str, _: str, props: dict[str, Any], __: dict[str, Any]) -> list[Item]:
    copies = 2 if props.get("MultiAZ") else 1
    instance_class, storage = props["DBInstanceClass"], int(props["AllocatedStorage"])
    items = [
        Item(
            stack,
            f"RDS PostgreSQL {instance_class} x{copies}",
            copies * _hours(_HOURLY["rds_postgresql"][instance_class]),
        ),
        Item(stack, f"RDS gp3 storage {storage} GB x{copies}", copies * storage * _MONTHLY["rds_gp3_storage_gb"]),
    ]
    if props.get("ManageMasterUserPassword"):
        items.append(Item(stack, "Secrets Manager secret (RDS master password)", _MONTHLY["secret"]))
    return items


def _flat(label: str, price_key: str) -> Pricer:
    def price(stack: str, logical_id: str, _: dict[str, Any], __: dict[str, Any]) -> list[Item]:
        return [Item(stack, label.format(logical_id=logical_id), _MONTHLY[price_key])]

    return price


def _web_acl(stack: str, _: str, props: dict[str, Any], __: dict[str, Any]) -> list[Item]:
    """The web ACL and each rule by the month; an AWS managed rule group is billed as one rule.
    IP sets cost nothing of their own, and requests are billed by use."""
    rules = props.get("Rules", [])
    managed = sum(1 for rule in rules if "ManagedRuleGroupStatement" in rule.get("Statement", {}))
    return [
        Item(
            stack,
            f"WAF web ACL, {len(rules)} rules (managed rule groups: {managed})",
            _MONTHLY["waf_web_acl"] + len(rules) * _MONTHLY["waf_rule"],
        )
    ]


def _endpoint(stack: str, _: str, props: dict[str, Any], __: dict[str, Any]) -> list[Item]:
    if props.get("VpcEndpointType") != "Interface":
        return []
    zones = len(props.get("SubnetIds", [])) or 1
    service = str(props.get("ServiceName", "")).split(".", 3)[-1]
    return [
        Item(
            stack, f"interface endpoint {service} x{zones} zones", zones * _hours(_HOURLY["interface_endpoint_per_az"])
        )
    ]


PRICERS: dict[str, Pricer] = {
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": _elastic_ip,
    "AWS::EC2::Instance": _instance,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::ECS::Service": _ecs_service,
    "AWS::RDS::DBInstance": _database,
    "AWS::KMS::Key": _flat("KMS key ({logical_id})", "kms_key"),
    "AWS::SecretsManager::Secret": _flat("Secrets Manager secret ({logical_id})", "secret"),
    "AWS::CloudWatch::Dashboard": _flat("CloudWatch dashboard", "dashboard"),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _flat("Route 53 hosted zone (Cloud Map namespace)", "hosted_zone"),
    "AWS::Route53::HostedZone": _flat("Route 53 hosted zone", "hosted_zone"),
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::EC2::VPCEndpoint": _endpoint,
}


def price_template(stack: str, template: dict[str, Any]) -> list[Item]:
    resources: dict[str, Any] = template.get("Resources", {})
    items: list[Item] = []
    for logical_id, resource in resources.items():
        pricer = PRICERS.get(resource["Type"])
        if pricer is not None:
            items.extend(pricer(stack, logical_id, resource.get("Properties", {}), resources))
    # Alarms are billed per metric they evaluate (a math expression counts each metric).
    alarms = sum(_alarm_metrics(r) for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm")
    if alarms:
        items.append(Item(stack, f"CloudWatch alarms ({alarms} metrics)", alarms * _MONTHLY["alarm_metric"]))
    return items


def price_assembly(directory: Path) -> list[Item]:
    items: list[Item] = []
    for path in sorted(directory.glob("*.template.json")):
        items.extend(price_template(path.name.removesuffix(".template.json"), json.loads(path.read_text())))
    return items


def report(items: list[Item]) -> str:
    lines = [f"Fixed monthly cost at list prices ({PRICES['source']}, {PRICES['as_of']})", ""]
    by_stack: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_stack[item.stack].append(item)
    for stack, stack_items in by_stack.items():
        lines.append(f"{stack}: ${sum(i.monthly for i in stack_items):.2f}")
        lines.extend(f"  {item.name:<62} ${item.monthly:>7.2f}" for item in stack_items)
    lines += ["", f"TOTAL fixed: ${sum(i.monthly for i in items):.2f} a month", "", "Billed by use, not included:"]
    lines.extend(f"  - {what}" for what in PRICES["usage_based"])
    return "\n".join(lines)


def budget_lines(total: float, spec: PlatformSpec) -> tuple[list[str], bool]:
    """What the profile's budget says of ``total``, and whether it holds; prices are us-east-1's."""
    lines = []
    if spec.region != PRICE_REGION:
        lines.append(f"Prices are {PRICE_REGION}'s: {spec.region} lists its own, often a few percent apart.")
    budget = spec.monthly_budget_usd
    if budget is None:
        return lines, True
    if total <= budget:
        lines.append(f"Budget: ${budget:.2f} a month (monthly_budget_usd); ${budget - total:.2f} to spare")
        return lines, True
    lines.append(
        f"OVER BUDGET: ${total:.2f} a month is ${total - budget:.2f} over {spec.environment}'s ${budget:.2f} "
        "(platform_spec/profiles.py, monthly_budget_usd)"
    )
    return lines, False


def main(argv: list[str], *, spec: PlatformSpec | None = None) -> int:
    """``python -m tools.cost CLOUD_ASSEMBLY [--env PROFILE]``: with the profile, its budget too."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.cost", description="The fixed monthly cost of a synthesized profile, at list prices."
    )
    parser.add_argument("assembly", metavar="CLOUD_ASSEMBLY_DIRECTORY", help="what `cdk synth` wrote (cdk.out)")
    parser.add_argument("--env", help="the profile it was synthesized from: holds it to its budget")
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    directory = Path(arguments.assembly)
    if not any(directory.glob("*.template.json")):
        print("usage: python -m tools.cost CLOUD_ASSEMBLY_DIRECTORY [--env PROFILE] (run `make cost`)", file=sys.stderr)
        return 2
    items = price_assembly(directory)
    print(report(items))
    if arguments.env is not None and spec is None:
        try:
            spec = spec_from_context({"env": arguments.env})
        except SpecError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if spec is None:
        return 0
    lines, holds = budget_lines(sum(item.monthly for item in items), spec)
    print("\n".join(["", *lines]) if lines else "", end="\n" if lines else "")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
