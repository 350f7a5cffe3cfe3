"""Prometheus on Fargate: configuration from S3, TSDB on EFS, discovered through Cloud Map."""

from __future__ import annotations

from aws_cdk import aws_aps as aps
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance.nag_findings import acknowledge_ecs_exec
from layers.compute.cloud_map_registration import CloudMapRegistration
from layers.data.prometheus_file_system import DATA_DIRECTORY, PrometheusFileSystem
from layers.observability.config_object import StoredConfig
from layers.shared.fargate import (
    STOP_FIRST,
    Placement,
    linux_task_definition,
    private_fargate_service,
    wget_health_check,
)
from layers.shared.log_groups import Logging
from layers.shared.mirrored_images import ThirdPartyImages
from layers.shared.rendered_config import PROMETHEUS_CONFIG
from layers.shared.workload_containers import Container, S3Copy, WorkloadContainers
from platform_spec import PrometheusSpec

CONFIG_DIRECTORY = "/etc/prometheus/config"
CONFIG_VOLUME = "config"
DATA_VOLUME = "tsdb"


class PrometheusServer(Construct):
    """One Prometheus task. An init container copies the rendered configuration and
    rules (whose keys carry their content hash) from S3 into a task volume;
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
        images: ThirdPartyImages,
        placement: Placement,
        storage: PrometheusFileSystem,
        config: StoredConfig,
        remote_write_workspace: aps.CfnWorkspace | None,
        logging: Logging,
    ) -> None:
        """``prometheus``: what to run, from the spec. ``images``: its image, the volume owner and the
        configuration loader, as its tasks pull them. ``placement``: the cluster, Prometheus's security group and the
        namespace it registers in. ``storage``: the data stack's TSDB file system and access
        point. ``config``: its rendered configuration file in the configuration bucket.
        ``remote_write_workspace``: the managed workspace it writes to, if any. ``logging``: its
        log group's key and retention."""
        super().__init__(scope, construct_id)
        self.log_group = logging.log_group(self, "Logs")
        file_system, access_point = storage.file_system, storage.access_point
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
            volume_owner_image=images.volume_owner,
            log_group=self.log_group,
        )
        # Its configuration and its rules: the tree under the configuration's prefix.
        loader = containers.add_s3_copy(
            "ConfigLoader",
            S3Copy(
                container_name="config-loader",
                image=images.config_loader,
                source=config.url,
                volume=CONFIG_VOLUME,
                mount_path="/config",
            ),
        )
        self.container = self._add_prometheus(containers, prometheus, images.image(prometheus.image))
        containers.start_after(self.container, loader)
        task_role = self.task_definition.task_role
        config.grant_read(task_role)
        iam.Grant.add_to_principal(
            grantee=task_role,
            actions=["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            resource_arns=[file_system.file_system_arn],
            conditions={"StringEquals": {"elasticfilesystem:AccessPointArn": access_point.access_point_arn}},
        )
        if remote_write_workspace is not None:
            iam.Grant.add_to_principal(
                grantee=task_role, actions=["aps:RemoteWrite"], resource_arns=[remote_write_workspace.attr_arn]
            )
        self.service = private_fargate_service(
            self,
            "Service",
            placement=placement,
            task_definition=self.task_definition,
            ecs_exec=prometheus.ecs_exec,
            rollout=STOP_FIRST,
            desired_count=1,
        )
        config.written_before(self.service)
        if prometheus.ecs_exec:
            acknowledge_ecs_exec(self.task_definition, placement.exec_log_group)
        self.registration = CloudMapRegistration(
            self,
            "Discovery",
            namespace=placement.registering_in(),
            name=prometheus.name,
            service=self.service,
            container=self.container,
            container_port=prometheus.port,
        )

    def _add_prometheus(
        self, containers: WorkloadContainers, prometheus: PrometheusSpec, image: ecs.ContainerImage
    ) -> ecs.ContainerDefinition:
        return containers.add(
            "Prometheus",
            Container(
                name=prometheus.name,
                image=image,
                user=prometheus.user,
                command=[
                    f"--config.file={CONFIG_DIRECTORY}/{PROMETHEUS_CONFIG}",
                    f"--storage.tsdb.path={DATA_DIRECTORY}",
                    f"--storage.tsdb.retention.time={prometheus.retention_days}d",
                    f"--web.listen-address=:{prometheus.port}",
                    # No --web.enable-lifecycle: a new configuration is a new task, so nothing needs
                    # the reload and shutdown endpoints anyone reaching the port could call.
                ],
                port=prometheus.port,
                health_check=wget_health_check(prometheus.port, "/-/healthy"),
                # The TSDB volume is written through the access point as its POSIX user.
                mount_points=[
                    ecs.MountPoint(container_path=CONFIG_DIRECTORY, source_volume=CONFIG_VOLUME, read_only=True),
                    ecs.MountPoint(container_path=DATA_DIRECTORY, source_volume=DATA_VOLUME, read_only=False),
                ],
            ),
        )
