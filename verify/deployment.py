"""What the verify command checks, read from the stacks' outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platform_spec import PlatformSpec, ServiceSpec, names
from platform_spec.names import COMPUTE, DELIVERY, OBSERVABILITY, TARGETS_PROBE


class NotDeployedError(Exception):
    """A stack of the profile does not exist (or lacks an output) in the account and region."""


@dataclass(frozen=True)
class Release:
    """What the compute stack says a service runs: the released tag and its task definition."""

    image_tag: str
    task_definition_arn: str


@dataclass(frozen=True)
class DeployedService:
    name: str
    service_arn: str
    cloud_map_service_id: str | None
    """``None`` for a service without a port: nothing finds it through Cloud Map (a worker)."""
    log_group: str
    target_group_arn: str | None
    """Its target groups, comma-separated; ``None`` for services the load balancer does not route to
    (Prometheus, internal services, workers)."""
    release: Release | None = None
    """``None`` for the platform's own services, which run pinned images."""
    may_sleep: bool = False
    """``min_tasks = 0``: no task while no request comes is its normal state."""


@dataclass(frozen=True)
class TargetsProbe:
    task_definition_arn: str
    subnets: tuple[str, ...]
    security_group: str
    log_group: str
    container: str


@dataclass(frozen=True)
class Deployment:
    cluster: str
    services: tuple[DeployedService, ...]
    probe: TargetsProbe
    public_url: str
    """Where viewers reach the platform, without a trailing slash (``https://d111.cloudfront.net``,
    or ``https://davidshaevel.com`` with a domain): the compute stack's output."""
    api_health_path: str | None
    """The API service's health path (``/api/health``), asked for through the edge where the API
    service is public; ``None`` where it is reached only inside the VPC."""


def _stack_outputs(cloudformation: Any, stack_name: str, environment: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            raise NotDeployedError(
                f"stack {stack_name} does not exist: is profile {environment} deployed here?"
            ) from None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def load_deployment(spec: PlatformSpec, cloudformation: Any) -> Deployment:
    compute = _stack_outputs(cloudformation, spec.stack_name(COMPUTE), spec.environment)
    observability = _stack_outputs(cloudformation, spec.stack_name(OBSERVABILITY), spec.environment)
    delivery = _stack_outputs(cloudformation, spec.stack_name(DELIVERY), spec.environment)

    def read(values: dict[str, str], key: str, stack: str) -> str:
        if key not in values:
            raise NotDeployedError(f"stack {spec.stack_name(stack)} has no output {key}: deploy the current code")
        return values[key]

    def service_output(service: ServiceSpec, attribute: str) -> str | None:
        wanted = names.service_outputs(registered=service.has_port, public=service.is_public)
        return read(compute, names.output_key(service.name, attribute), COMPUTE) if attribute in wanted else None

    services = [
        DeployedService(
            name=service.name,
            service_arn=read(compute, names.output_key(service.name, names.SERVICE_ARN), COMPUTE),
            cloud_map_service_id=service_output(service, names.CLOUD_MAP_SERVICE_ID),
            log_group=read(compute, names.output_key(service.name, names.LOG_GROUP), COMPUTE),
            target_group_arn=service_output(service, names.TARGET_GROUP_ARN),
            release=Release(
                image_tag=read(compute, names.output_key(service.name, names.RELEASED_IMAGE_TAG), COMPUTE),
                task_definition_arn=read(compute, names.output_key(service.name, names.TASK_DEFINITION_ARN), COMPUTE),
            ),
            may_sleep=service.min_tasks == 0,
        )
        for service in spec.services
    ]
    # The observability stack's own workloads: each registered in Cloud Map, none behind the load balancer.
    services.extend(
        DeployedService(
            name=name,
            service_arn=read(observability, names.output_key(name, names.SERVICE_ARN), OBSERVABILITY),
            cloud_map_service_id=read(observability, names.output_key(name, names.CLOUD_MAP_SERVICE_ID), OBSERVABILITY),
            log_group=read(observability, names.output_key(name, names.LOG_GROUP), OBSERVABILITY),
            target_group_arn=None,
        )
        for name in (spec.prometheus.name, spec.alertmanager.name)
    )
    api = spec.service(spec.delivery.api_service)
    return Deployment(
        cluster=read(compute, names.CLUSTER_NAME, COMPUTE),
        services=tuple(services),
        probe=TargetsProbe(
            task_definition_arn=read(delivery, names.PROBE_TASK_DEFINITION, DELIVERY),
            subnets=tuple(read(delivery, names.PROBE_SUBNETS, DELIVERY).split(",")),
            security_group=read(delivery, names.PROBE_SECURITY_GROUP, DELIVERY),
            log_group=read(delivery, names.PROBE_LOG_GROUP, DELIVERY),
            container=TARGETS_PROBE,
        ),
        public_url=read(compute, names.PUBLIC_URL, COMPUTE),
        api_health_path=api.health_check_path if api.is_public else None,
    )
