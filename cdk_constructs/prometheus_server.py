"""Prometheus on Fargate: configuration from S3, TSDB on EFS, discovered through Cloud Map."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from cdk_constructs.cloud_map_registration import CloudMapRegistration
from cdk_constructs.config_object import grant_read_objects
from cdk_constructs.prometheus_file_system import DATA_DIRECTORY
from cdk_constructs.workload_containers import WorkloadContainers
from cdk_helpers.fargate import linux_task_definition, private_fargate_service
from cdk_helpers.log_groups import log_retention
from compliance.nag_findings import acknowledge_ecs_exec
from spec.model import ROOT, HelperImagesSpec, PrometheusSpec

CONFIG_DIRECTORY = "/etc/prometheus/config"
CONFIG_FILE = "prometheus.yml"
CONFIG_VOLUME = "config"
DATA_VOLUME = "tsdb"


class PrometheusServer(Construct):
    """One Prometheus task. An init container copies the rendered configuration
    object (whose key carries its content hash) from S3 into a task volume;
    Prometheus starts after it succeeded. A new configuration is therefore a new
    task definition revision and a rolling replacement: the running server
    cannot keep a stale file. Deployments stop the old task before starting the
    new one (0/100): two servers cannot hold the TSDB lock on one volume."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prometheus: PrometheusSpec,
        helper_images: HelperImagesSpec,
        cluster: ecs.ICluster,
        exec_log_group: logs.ILogGroup,
        namespace: servicediscovery.IPrivateDnsNamespace,
        security_group: ec2.ISecurityGroup,
        capacity: list[ecs.CapacityProviderStrategy],
        file_system: efs.IFileSystem,
        access_point: efs.IAccessPoint,
        config_bucket: s3.IBucket,
        config_key: kms.IKey,
        config_object_key: str,
        remote_write_workspace_arn: str | None,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention(log_retention_days)
        )
        self.task_definition = linux_task_definition(
            self,
            "Task",
            cpu=prometheus.cpu,
            memory_mib=prometheus.memory_mib,
            volumes=[
                ecs.Volume(name=CONFIG_VOLUME),
                ecs.Volume(
                    name=DATA_VOLUME,
                    efs_volume_configuration=ecs.EfsVolumeConfiguration(
                        file_system_id=file_system.file_system_id,
                        transit_encryption="ENABLED",
                        authorization_config=ecs.AuthorizationConfig(
                            access_point_id=access_point.access_point_id, iam="ENABLED"
                        ),
                    ),
                ),
            ],
        )
        containers = WorkloadContainers(
            self,
            "Containers",
            task_definition=self.task_definition,
            ecs_exec=prometheus.ecs_exec,
            volume_owner_image=ecs.ContainerImage.from_registry(helper_images.volume_owner),
            log_group=self.log_group,
        )
        loader = self._add_config_loader(containers, helper_images, config_bucket, config_object_key)
        self.container = self._add_prometheus(containers, prometheus, loader)
        task_role = self.task_definition.task_role
        grant_read_objects(task_role, bucket=config_bucket, key=config_key, object_keys=[config_object_key])
        iam.Grant.add_to_principal(
            grantee=task_role,
            actions=["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            resource_arns=[file_system.file_system_arn],
            conditions={"StringEquals": {"elasticfilesystem:AccessPointArn": access_point.access_point_arn}},
        )
        if remote_write_workspace_arn is not None:
            iam.Grant.add_to_principal(
                grantee=task_role, actions=["aps:RemoteWrite"], resource_arns=[remote_write_workspace_arn]
            )
        self.service = private_fargate_service(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            security_group=security_group,
            capacity=capacity,
            ecs_exec=prometheus.ecs_exec,
            min_healthy_percent=0,
            max_healthy_percent=100,
            desired_count=1,
        )
        if prometheus.ecs_exec:
            acknowledge_ecs_exec(self.task_definition, exec_log_group)
        self.registration = CloudMapRegistration(
            self,
            "Discovery",
            namespace=namespace,
            name=prometheus.name,
            service=self.service,
            container=self.container,
            container_port=prometheus.port,
        )

    def _add_config_loader(
        self, containers: WorkloadContainers, helper_images: HelperImagesSpec, bucket: s3.IBucket, object_key: str
    ) -> ecs.ContainerDefinition:
        return containers.add(
            "ConfigLoader",
            container_name="config-loader",
            image=ecs.ContainerImage.from_registry(helper_images.config_loader),
            user=ROOT,
            essential=False,
            command=["s3", "cp", f"s3://{bucket.bucket_name}/{object_key}", f"/config/{CONFIG_FILE}"],
            mount_points=[ecs.MountPoint(container_path="/config", source_volume=CONFIG_VOLUME, read_only=False)],
        )

    def _add_prometheus(
        self, containers: WorkloadContainers, prometheus: PrometheusSpec, loader: ecs.ContainerDefinition
    ) -> ecs.ContainerDefinition:
        container = containers.add(
            "Prometheus",
            container_name=prometheus.name,
            image=ecs.ContainerImage.from_registry(prometheus.image),
            user=prometheus.user,
            command=[
                f"--config.file={CONFIG_DIRECTORY}/{CONFIG_FILE}",
                f"--storage.tsdb.path={DATA_DIRECTORY}",
                f"--storage.tsdb.retention.time={prometheus.retention_days}d",
                f"--web.listen-address=:{prometheus.port}",
                # No --web.enable-lifecycle: a new configuration is a new task, so nothing needs
                # the reload and shutdown endpoints anyone reaching the port could call.
            ],
            port=prometheus.port,
            # The image is busybox-based: wget is there, curl is not.
            health_check=ecs.HealthCheck(
                command=["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{prometheus.port}/-/healthy"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
            # The TSDB volume is written through the access point as its POSIX user.
            mount_points=[
                ecs.MountPoint(container_path=CONFIG_DIRECTORY, source_volume=CONFIG_VOLUME, read_only=True),
                ecs.MountPoint(container_path=DATA_DIRECTORY, source_volume=DATA_VOLUME, read_only=False),
            ],
        )
        container.add_container_dependencies(
            ecs.ContainerDependency(container=loader, condition=ecs.ContainerDependencyCondition.SUCCESS)
        )
        return container
