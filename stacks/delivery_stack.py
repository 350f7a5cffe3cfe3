"""Delivery stack: migrations and smoke-test tasks, the deployment state machine, the targets probe."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from layers.compute.handles import ReleasedCompute
from layers.data.handles import DeliveryState
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.observability.handles import Notifications
from layers.release.deployment_state_machine import DeploymentStateMachine
from layers.release.release_stack_role import ReleaseStackRole
from layers.release.release_tasks import MigrationsTask, SmokeTestsTask, TargetsProbeTask, release_targets
from layers.shared.fargate import task_subnet_ids
from layers.shared.fargate_cluster import FargateCluster
from platform_spec import PlatformSpec, names


class DeliveryStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        state: DeliveryState,
        public_url: str,
        released: ReleasedCompute,
        notifications: Notifications,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        logging, repositories = state.logging, state.repositories
        self.migrations = MigrationsTask(
            self, "Migrations", spec=spec, repositories=repositories, database=state.database, logging=logging
        )
        self.smoke_tests = SmokeTestsTask(
            self, "SmokeTests", spec=spec, repositories=repositories, public_url=public_url, logging=logging
        )
        self.targets_probe = TargetsProbeTask(self, "TargetsProbe", spec=spec, logging=logging)
        cluster = FargateCluster(
            self,
            "Cluster",
            spec=spec,
            vpc=vpc,
            logs_key=logging.key,
        )
        # CloudFormation's role for the release's updates of the compute stack: image tags only.
        stack_role = ReleaseStackRole(
            self, "ReleaseStackRole", cluster_name=spec.cluster_name, services=released.services, hooks=released.hooks
        )
        self.deployment = DeploymentStateMachine(
            self,
            "Deployment",
            spec=spec,
            targets=release_targets(
                self,
                spec=spec,
                cluster=cluster.cluster,
                tasks=(self.migrations, self.smoke_tests),
                security_groups=security_groups,
                repositories=repositories,
                topic=notifications.topic,
                stack_role=stack_role.role,
            ),
            one_off_task_definitions=[self.migrations.task_definition, self.smoke_tests.task_definition],
            topic_key=notifications.key,
            logging=logging,
        )
        probe_group = sealed(self, "TargetsProbeGroup", security_groups.targets_probe)
        for key, value in (
            (names.STATE_MACHINE_ARN, self.deployment.state_machine.state_machine_arn),
            (names.PROBE_TASK_DEFINITION, self.targets_probe.task_definition.task_definition_arn),
            (names.PROBE_SUBNETS, Fn.join(",", task_subnet_ids(vpc))),
            (names.PROBE_SECURITY_GROUP, probe_group.security_group_id),
            (names.PROBE_LOG_GROUP, self.targets_probe.log_group.log_group_name),
        ):
            CfnOutput(self, key, value=value)
