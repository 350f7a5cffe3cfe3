"""The task-definition and service settings every Fargate workload of the platform shares, and
the typed bundles its workload constructs take (``Placement``, ``TaskReplacement``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from platform_spec.checks import Architecture
from platform_spec.health_checks import wget_probe
from platform_spec.rollouts import ROLLING as ROLLING_OUT
from platform_spec.rollouts import Canary, Linear, Rolling, Rollout


@dataclass(frozen=True)
class Placement:
    """Where a long-running workload's tasks run and how they are found and reached."""

    cluster: ecs.ICluster
    """The platform's cluster (the compute stack's, or the same one imported by name)."""
    security_group: ec2.ISecurityGroup
    """The workload's own group, whose rules the network stack holds."""
    spot: bool
    """All tasks on Fargate Spot, or all on demand."""
    exec_log_group: logs.ILogGroup
    """The cluster's ECS Exec session log group: its findings are acknowledged by this name."""
    namespace: servicediscovery.IPrivateDnsNamespace | None = None
    """The Cloud Map namespace the workload registers in, if it registers."""

    @property
    def capacity(self) -> list[ecs.CapacityProviderStrategy]:
        return capacity_strategy(spot=self.spot)

    def registering_in(self) -> servicediscovery.IPrivateDnsNamespace:
        """The namespace, for a workload that must register."""
        if self.namespace is None:
            raise ValueError("this workload registers in Cloud Map: its placement must name the namespace")
        return self.namespace


@dataclass(frozen=True)
class TaskReplacement:
    """How a deployment replaces tasks: the share of the desired count kept running and allowed."""

    min_healthy_percent: int
    max_healthy_percent: int


ROLLING = TaskReplacement(min_healthy_percent=100, max_healthy_percent=200)
"""New tasks start and pass their checks before old ones stop: no gap in service."""
STOP_FIRST = TaskReplacement(min_healthy_percent=0, max_healthy_percent=100)
"""The old task stops before the new starts: for a task that holds a lock (Prometheus's TSDB)."""


TASK_SUBNET_TYPE = ec2.SubnetType.PRIVATE_WITH_EGRESS
"""Where every task of the platform runs: the application tier, without public addresses."""


def task_subnet_ids(vpc: ec2.IVpc) -> list[str]:
    """The application subnets' ids, for a task started by a hook, the release or verify."""
    return [subnet.subnet_id for subnet in vpc.select_subnets(subnet_type=TASK_SUBNET_TYPE).subnets]


def container_health_check(*command: str) -> ecs.HealthCheck:
    """``CMD command...`` with the timings every workload uses: every 30 s, 5 s to answer,
    unhealthy after 3 misses, the first 60 s not counted while the process starts."""
    return ecs.HealthCheck(
        command=["CMD", *command],
        interval=Duration.seconds(30),
        timeout=Duration.seconds(5),
        retries=3,
        start_period=Duration.seconds(60),
    )


def wget_health_check(port: int, path: str) -> ecs.HealthCheck:
    """For busybox and Alpine images (Prometheus, Grafana): wget is there, curl is not."""
    return container_health_check(*wget_probe(port, path))


def linux_task_definition(
    scope: Construct,
    construct_id: str,
    *,
    cpu: int,
    memory_mib: int,
    architecture: Architecture = "ARM64",
    volumes: Sequence[ecs.Volume] = (),
) -> ecs.FargateTaskDefinition:
    return ecs.FargateTaskDefinition(
        scope,
        construct_id,
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=getattr(ecs.CpuArchitecture, architecture),
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
        volumes=list(volumes) or None,
    )


def capacity_strategy(*, spot: bool) -> list[ecs.CapacityProviderStrategy]:
    """All tasks on Fargate Spot, or all on demand."""
    return [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT" if spot else "FARGATE", weight=1)]


def private_fargate_service(
    scope: Construct,
    construct_id: str,
    *,
    placement: Placement,
    task_definition: ecs.TaskDefinition,
    ecs_exec: bool,
    rollout: TaskReplacement,
    desired_count: int | None = None,
    health_check_grace_period: Duration | None = None,
    strategy: Rollout = ROLLING_OUT,
) -> ecs.FargateService:
    """In the application subnets without a public address, rolled back by the circuit breaker,
    tags propagated. No fixed service name: it would block the replacement some changes need.
    ``strategy``: the spec's roll-out (``platform_spec/rollouts.py``); ``rollout``: how many
    tasks a rolling one keeps and adds."""
    return ecs.FargateService(
        scope,
        construct_id,
        cluster=placement.cluster,
        task_definition=task_definition,
        security_groups=[placement.security_group],
        vpc_subnets=ec2.SubnetSelection(subnet_type=TASK_SUBNET_TYPE),
        assign_public_ip=False,
        desired_count=desired_count,
        capacity_provider_strategies=placement.capacity,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        min_healthy_percent=rollout.min_healthy_percent,
        max_healthy_percent=rollout.max_healthy_percent,
        health_check_grace_period=health_check_grace_period,
        enable_execute_command=ecs_exec,
        propagate_tags=ecs.PropagatedTagSource.SERVICE,
        enable_ecs_managed_tags=True,
        **deployment_options(strategy),
    )


def deployment_options(rollout: Rollout) -> dict[str, Any]:
    """The service's deployment strategy, traffic shifts and bake time, as ECS takes them."""
    if isinstance(rollout, Rolling):
        return {"deployment_strategy": ecs.DeploymentStrategy.ROLLING}
    bake = Duration.minutes(rollout.bake_minutes)
    if isinstance(rollout, Canary):
        shift = ecs.TrafficShiftConfig(
            step_percent=rollout.percent, step_bake_time=Duration.minutes(rollout.canary_minutes)
        )
        return {"deployment_strategy": ecs.DeploymentStrategy.CANARY, "canary_configuration": shift, "bake_time": bake}
    if isinstance(rollout, Linear):
        shift = ecs.TrafficShiftConfig(
            step_percent=rollout.step_percent, step_bake_time=Duration.minutes(rollout.step_minutes)
        )
        return {"deployment_strategy": ecs.DeploymentStrategy.LINEAR, "linear_configuration": shift, "bake_time": bake}
    return {"deployment_strategy": ecs.DeploymentStrategy.BLUE_GREEN, "bake_time": bake}
