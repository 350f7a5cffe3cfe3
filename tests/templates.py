"""Reading synthesized templates the way several test files do: the rules between the
platform's security groups (through the reader the reachability check uses), and the whole
platform as the run-time rules see it."""

from __future__ import annotations

from typing import Any

from aws_model.cloudformation import Deployment
from aws_model.ledger import LedgerEntry, ledger
from aws_model.ledger.external_secrets import external_secrets
from compliance.security_group_rules import EGRESS, INGRESS, Rule, group_peers, rules_between
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


def rules(synth: Synthesized) -> tuple[set[Rule], set[Rule]]:
    """(ingress rules, egress rules) between the platform's groups, by peer name, read as the
    reachability check reads them (``compliance.security_group_rules``). Every rule that names
    another group is one of them: single-port, between two of the platform's parties."""
    template = synth.template_json(NETWORK)
    groups = group_peers(synth.spec, template)
    found: list[set[Rule]] = []
    for direction in (INGRESS, EGRESS):
        between = rules_between(template, groups, direction)
        kind, other = direction
        naming_a_group = [
            logical_id
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == kind and other in resource.get("Properties", {})
        ]
        assert sorted(between.values()) == sorted(naming_a_group), "a rule between groups not read as one"
        found.append(set(between))
    ingress, egress = found
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
