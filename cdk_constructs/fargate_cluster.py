"""The ECS cluster: Fargate and Fargate Spot, Container Insights, audited ECS Exec."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def exec_configuration(*, exec_log_group: logs.ILogGroup, logs_key: kms.IKey) -> ecs.ExecuteCommandConfiguration:
    """ECS Exec sessions encrypted with the logs key and logged to the session log group."""
    return ecs.ExecuteCommandConfiguration(
        kms_key=logs_key,
        logging=ecs.ExecuteCommandLogging.OVERRIDE,
        log_configuration=ecs.ExecuteCommandLogConfiguration(
            cloud_watch_log_group=exec_log_group, cloud_watch_encryption_enabled=True
        ),
    )


class FargateCluster(Construct):
    """A cluster whose ECS Exec sessions are encrypted and logged to CloudWatch."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        vpc: ec2.IVpc,
        exec_log_group: logs.ILogGroup,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.exec_log_group = exec_log_group
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
            execute_command_configuration=exec_configuration(exec_log_group=exec_log_group, logs_key=logs_key),
        )

    @staticmethod
    def named(
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        vpc: ec2.IVpc,
        exec_log_group: logs.ILogGroup,
        logs_key: kms.IKey,
    ) -> ecs.ICluster:
        """The cluster as another stack uses it: by its fixed name, with the same ECS Exec settings
        (so services there get the same session grants), and no reference to the compute stack."""
        return ecs.Cluster.from_cluster_attributes(
            scope,
            construct_id,
            cluster_name=cluster_name,
            vpc=vpc,
            execute_command_configuration=exec_configuration(exec_log_group=exec_log_group, logs_key=logs_key),
        )
