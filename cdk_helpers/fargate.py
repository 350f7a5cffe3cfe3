"""The task-definition and service settings every Fargate workload of the platform shares."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from constructs import Construct


def linux_task_definition(
    scope: Construct,
    construct_id: str,
    *,
    cpu: int,
    memory_mib: int,
    architecture: ecs.CpuArchitecture = ecs.CpuArchitecture.ARM64,
    volumes: Sequence[ecs.Volume] = (),
) -> ecs.FargateTaskDefinition:
    return ecs.FargateTaskDefinition(
        scope,
        construct_id,
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=architecture, operating_system_family=ecs.OperatingSystemFamily.LINUX
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
    cluster: ecs.ICluster,
    task_definition: ecs.TaskDefinition,
    security_group: ec2.ISecurityGroup,
    capacity: list[ecs.CapacityProviderStrategy],
    ecs_exec: bool,
    min_healthy_percent: int,
    max_healthy_percent: int,
    desired_count: int | None = None,
    health_check_grace_period: Duration | None = None,
) -> ecs.FargateService:
    """In the application subnets without a public address, rolled back by the circuit breaker,
    tags propagated. No fixed service name: it would block the replacement some changes need."""
    return ecs.FargateService(
        scope,
        construct_id,
        cluster=cluster,
        task_definition=task_definition,
        security_groups=[security_group],
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        assign_public_ip=False,
        desired_count=desired_count,
        capacity_provider_strategies=capacity,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        min_healthy_percent=min_healthy_percent,
        max_healthy_percent=max_healthy_percent,
        health_check_grace_period=health_check_grace_period,
        enable_execute_command=ecs_exec,
        propagate_tags=ecs.PropagatedTagSource.SERVICE,
        enable_ecs_managed_tags=True,
    )
