"""Delivery stack: migrations and smoke-test tasks, the deployment state machine, the targets probe."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.deployment_state_machine import DeploymentStateMachine, cfn_execution_role_arn
from cdk_constructs.fargate_cluster import FargateCluster
from cdk_constructs.image_repositories import ImageRepositories
from cdk_constructs.one_off_task import OneOffTask
from cdk_constructs.security_groups import PlatformSecurityGroups, sealed
from cdk_helpers.database_access import database_environment, grant_database_access
from release.definition import OneOffRun, ReleaseTargets
from spec import outputs
from spec.model import PlatformSpec, ServiceSpec
from spec.names import TARGETS_PROBE
from stacks.compute_stack import ComputeStack
from stacks.data_stack import DataStack
from stacks.observability_stack import ObservabilityStack

MIGRATIONS_CONTAINER = "migrations"
SMOKE_TESTS_CONTAINER = "smoke-tests"


class DeliveryStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        data: DataStack,
        compute: ComputeStack,
        observability: ObservabilityStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        delivery = spec.delivery
        migrating = spec.service(delivery.migrations_service)
        smoke_service = spec.service(delivery.smoke_test_service)
        repositories = data.repositories
        # Migrations and smoke tests run on their service's image, in its group: their own
        # image hands /tmp over, so they reach no registry the service does not.
        migrations_image = ecs.ContainerImage.from_ecr_repository(
            repositories.repository(migrating, used_from=self), tag=migrating.initial_image_tag
        )
        self.migrations = OneOffTask(
            self,
            "Migrations",
            container_name=MIGRATIONS_CONTAINER,
            image=migrations_image,
            user=migrating.run_as,
            volume_owner_image=migrations_image,
            command=list(delivery.migrate_command),
            # Migrations sign in as the migrator, the schema's owner; never as the master user.
            environment=database_environment(data.database, user=spec.database.migrator_user),
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        grant_database_access(self.migrations.task_definition, data.database, user=spec.database.migrator_user)
        smoke_image = ecs.ContainerImage.from_ecr_repository(
            repositories.repository(smoke_service, used_from=self), tag=smoke_service.initial_image_tag
        )
        self.smoke_tests = OneOffTask(
            self,
            "SmokeTests",
            container_name=SMOKE_TESTS_CONTAINER,
            image=smoke_image,
            user=smoke_service.run_as,
            volume_owner_image=smoke_image,
            command=list(delivery.smoke_test_command),
            environment={
                "API_URL": spec.service_url(spec.service(delivery.api_service)),
                "WEB_URL": compute.edge.public_url,
                # Paths the edge must answer 404 to: the smoke tests check it from outside.
                "INTERNAL_PATHS": ",".join(spec.edge_internal_paths()),
            },
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        self.targets_probe = OneOffTask(
            self,
            "TargetsProbe",
            container_name=TARGETS_PROBE,
            image=ecs.ContainerImage.from_registry(spec.prometheus.image),
            user=spec.prometheus.user,
            volume_owner_image=ecs.ContainerImage.from_registry(spec.helper_images.volume_owner),
            # The Prometheus image is busybox-based: wget prints the targets to the task's log.
            entry_point=["wget", "-q", "-O", "-", f"{spec.prometheus_url}/api/v1/targets?state=active"],
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        cluster = FargateCluster.named(
            self,
            "Cluster",
            cluster_name=spec.cluster_name,
            vpc=vpc,
            exec_log_group=logs.LogGroup.from_log_group_name(self, "ExecSessions", spec.exec_log_group_name),
            logs_key=data.logs_key,
        )
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets
        self.deployment = DeploymentStateMachine(
            self,
            "Deployment",
            spec=spec,
            targets=ReleaseTargets(
                compute_stack=compute.stack_name,
                cfn_execution_role_arn=cfn_execution_role_arn(self),
                cluster_arn=cluster.cluster_arn,
                subnets=tuple(s.subnet_id for s in subnets),
                topic_arn=observability.alarms.topic.topic_arn,
                repositories={s.name: repositories.repository_name(s) for s in spec.services},
                # Migrations run in their service's group (its path to the database); the
                # smoke tests in their own, which reaches the API service and the internet.
                migrations=self._run(
                    "Migrations",
                    self.migrations,
                    service=migrating,
                    repositories=repositories,
                    security_group=security_groups.service(migrating),
                ),
                smoke_tests=self._run(
                    "SmokeTests",
                    self.smoke_tests,
                    service=smoke_service,
                    repositories=repositories,
                    security_group=security_groups.smoke_tests,
                ),
            ),
            one_off_task_definitions=[self.migrations.task_definition, self.smoke_tests.task_definition],
            topic_key=observability.alarms.topic_key,
            logs_key=data.logs_key,
            log_retention_days=spec.log_retention_days,
        )
        # The release updates the compute stack; deploy this stack after it.
        self.add_stack_dependency(compute)
        probe_group = sealed(self, "TargetsProbeGroup", security_groups.targets_probe)
        for key, value in (
            (outputs.STATE_MACHINE_ARN, self.deployment.state_machine.state_machine_arn),
            (outputs.PROBE_TASK_DEFINITION, self.targets_probe.task_definition.task_definition_arn),
            (outputs.PROBE_SUBNETS, Fn.join(",", [s.subnet_id for s in subnets])),
            (outputs.PROBE_SECURITY_GROUP, probe_group.security_group_id),
            (outputs.PROBE_LOG_GROUP, self.targets_probe.log_group.log_group_name),
        ):
            CfnOutput(self, key, value=value)

    def _run(
        self,
        step: str,
        task: OneOffTask,
        *,
        service: ServiceSpec,
        repositories: ImageRepositories,
        security_group: ec2.ISecurityGroup,
    ) -> OneOffRun:
        """A one-off task as the release runs it: on ``service``'s image, in ``security_group``."""
        return OneOffRun(
            step=step,
            task_definition_arn=task.task_definition.task_definition_arn,
            repository_uri=repositories.repository(service, used_from=self).repository_uri,
            security_group_id=sealed(self, f"{step}Group", security_group).security_group_id,
        )
