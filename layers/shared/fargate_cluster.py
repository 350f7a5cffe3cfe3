"""The ECS cluster: Fargate and Fargate Spot, Container Insights, audited ECS Exec."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from layers.shared.fargate import Placement
from platform_spec import PlatformSpec


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
    """The platform's cluster, whose ECS Exec sessions are encrypted and logged to CloudWatch.

    The compute stack creates it (``create=True``); the other stacks import it by its fixed
    name with the same ECS Exec settings, so their services get the same session grants
    and hold no reference to the compute stack. The session log group is the data stack's,
    imported by its literal name (``PlatformSpec.exec_log_group_name``) everywhere."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        logs_key: kms.IKey,
        create: bool = False,
    ) -> None:
        """``spec``: names the cluster and its session log group, and says whether tasks run on Fargate
        Spot. ``vpc``: the platform's VPC. ``logs_key``: the data stack's logs key, which encrypts ECS
        Exec sessions. ``create``: make the cluster (the compute stack) rather than import it by name
        (every other stack; default)."""
        super().__init__(scope, construct_id)
        self.spot = spec.fargate_spot
        self.exec_log_group = logs.LogGroup.from_log_group_name(self, "ExecSessions", spec.exec_log_group_name)
        configuration = exec_configuration(exec_log_group=self.exec_log_group, logs_key=logs_key)
        self.cluster: ecs.ICluster = (
            ecs.Cluster(
                self,
                "Cluster",
                cluster_name=spec.cluster_name,
                vpc=vpc,
                container_insights_v2=ecs.ContainerInsights.ENABLED,
                enable_fargate_capacity_providers=True,
                execute_command_configuration=configuration,
            )
            if create
            else ecs.Cluster.from_cluster_attributes(
                self, "Cluster", cluster_name=spec.cluster_name, vpc=vpc, execute_command_configuration=configuration
            )
        )

    def placement(
        self,
        security_group: ec2.ISecurityGroup,
        *,
        namespace: servicediscovery.IPrivateDnsNamespace | None = None,
    ) -> Placement:
        """Tasks of this cluster in ``security_group``, registered in ``namespace`` if given."""
        return Placement(
            cluster=self.cluster,
            security_group=security_group,
            spot=self.spot,
            exec_log_group=self.exec_log_group,
            namespace=namespace,
        )
