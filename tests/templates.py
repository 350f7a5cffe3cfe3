"""Reading synthesized templates the way several test files do: the rules between the
platform's security groups, and the whole platform as the run-time rules see it."""

from __future__ import annotations

from typing import Any

from aws_model.cloudformation import Deployment
from aws_model.ledger import LedgerEntry, ledger
from aws_model.ledger.external_secrets import external_secrets
from platform_spec import ServiceSpec
from platform_spec.checks import image_parts
from platform_spec.names import COMPUTE, EDGE, NETWORK
from platform_spec.regions import CLOUDFRONT_REGION
from platform_spec.workloads import cached_repository
from tests.platform_synth import Synthesized

Templates = dict[str, dict[str, Any]]


def templates_of(synth: Synthesized) -> Templates:
    """Every stack of the profile, the us-east-1 edge stack included where it has one."""
    return {synth.stack_name(layer): synth.template_json(layer) for layer in synth.spec.layers}


def deployment_of(synth: Synthesized, templates: Templates | None = None) -> Deployment:
    """The profile's stacks as deployed: each in its region."""
    templates = templates or templates_of(synth)
    edge = synth.stack_name(EDGE)
    return Deployment(
        templates,
        region=synth.spec.region,
        stack_regions={edge: CLOUDFRONT_REGION} if edge in templates else None,
    )


def ledger_of(synth: Synthesized, deployment: Deployment) -> list[LedgerEntry]:
    """The access ledger of the profile's deployment, with the secrets its spec names but no stack creates."""
    return ledger(deployment, external_secrets=external_secrets(synth.spec, account=deployment.account))


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


def task_definition(synth: Synthesized, service: ServiceSpec) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(logical id, task definition properties, the service's container) by container name."""
    for logical_id, resource in _compute_resources(synth, "AWS::ECS::TaskDefinition").items():
        for container in resource["Properties"]["ContainerDefinitions"]:
            if container["Name"] == service.container_name:
                return logical_id, resource["Properties"], container
    raise AssertionError(f"no task definition runs container {service.container_name}")


def ecs_service(synth: Synthesized, service: ServiceSpec) -> dict[str, Any]:
    task_id, _, _ = task_definition(synth, service)
    matches = [
        r["Properties"]
        for r in _compute_resources(synth, "AWS::ECS::Service").values()
        if r["Properties"]["TaskDefinition"] == {"Ref": task_id}
    ]
    assert len(matches) == 1, service.name
    properties: dict[str, Any] = matches[0]
    return properties


def _compute_resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.template_json(COMPUTE)["Resources"].items() if v["Type"] == kind}


def deployment_alarm_names(templates: Templates) -> set[str]:
    """The alarms ECS watches during services' deployments (their ``DeploymentAlarms``): their
    action is ECS's roll-back, not a notice."""
    return {
        name
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::Service"
        for name in resource["Properties"].get("DeploymentConfiguration", {}).get("Alarms", {}).get("AlarmNames", [])
    }


def pulled_image(synth: Synthesized, image: str) -> str:
    """A third-party image of the spec as task definitions name it, resolved as deployed: from a
    registry the spec caches, through the data stack's pull-through cache by digest
    (``layers/shared/mirrored_images.py``); from any other, as the spec names it."""
    registry = synth.spec.image_mirror.registry(image)
    if registry is None:
        return image
    deployment = deployment_of(synth)
    repository = cached_repository(synth.spec.stack_prefix, registry, image)
    return f"{deployment.account}.dkr.ecr.{deployment.region}.amazonaws.com/{repository}@{image_parts(image)[3]}"


def image_of(synth: Synthesized, layer: str, container: dict[str, Any]) -> str:
    """The image ``container`` (of the ``layer`` stack's template) names, resolved as deployed."""
    return str(deployment_of(synth).resolve(synth.stack_name(layer), container["Image"]))
