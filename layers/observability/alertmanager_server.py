"""Alertmanager on Fargate: its configuration from S3, found by Prometheus through Cloud Map, publishing
to the alarm and heartbeat topics with its task role's credentials."""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from compliance.nag_findings import acknowledge_ecs_exec
from layers.compute.cloud_map_registration import CloudMapRegistration
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
from layers.shared.workload_containers import Container, S3Copy, WorkloadContainers
from platform_spec import AlertmanagerSpec

CONFIG_DIRECTORY = "/etc/alertmanager/config"
CONFIG_FILE = "alertmanager.yml"
CONFIG_VOLUME = "config"
# Silences and the notification log: lost with the task, which at worst repeats a notification.
DATA_DIRECTORY = "/alertmanager"
METRICS_PATH = "/metrics"


class AlertmanagerServer(Construct):
    """One Alertmanager task. Its configuration is copied from S3 by an init container, as
    Prometheus's is, so a new configuration is a new task. It runs alone (no cluster peers:
    ``--cluster.listen-address=`` empty), stopping before its replacement starts, so two never
    notify at once."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alertmanager: AlertmanagerSpec,
        images: ThirdPartyImages,
        placement: Placement,
        config: StoredConfig,
        topics: tuple[sns.ITopic, ...],
        topic_key: kms.IKey,
        logging: Logging,
    ) -> None:
        """``alertmanager``: what to run, from the spec. ``images``: its image, the volume owner and
        the configuration loader, as its tasks pull them. ``placement``: the cluster, its security
        group and the namespace it registers in. ``config``: its rendered configuration in the configuration bucket.
        ``topics``: what it publishes to (the alarm and heartbeat topics). ``topic_key``: the alarm
        topic's key, which encrypts both and its task role may use. ``logging``: its log group's key
        and retention."""
        super().__init__(scope, construct_id)
        self.log_group = logging.log_group(self, "Logs")
        self.task_definition = linux_task_definition(
            self,
            "Task",
            cpu=alertmanager.cpu,
            memory_mib=alertmanager.memory_mib,
            volumes=[ecs.Volume(name=CONFIG_VOLUME)],
        )
        containers = WorkloadContainers(
            self,
            "Containers",
            task_definition=self.task_definition,
            ecs_exec=alertmanager.ecs_exec,
            volume_owner_image=images.volume_owner,
            log_group=self.log_group,
        )
        loader = containers.add_s3_copy(
            "ConfigLoader",
            S3Copy(
                container_name="config-loader",
                image=images.config_loader,
                source=config.url,
                volume=CONFIG_VOLUME,
                mount_path="/config",
                file_name=CONFIG_FILE,
            ),
        )
        self.container = containers.add(
            "Alertmanager",
            Container(
                name=alertmanager.name,
                image=images.image(alertmanager.image),
                user=alertmanager.user,
                command=[
                    f"--config.file={CONFIG_DIRECTORY}/{CONFIG_FILE}",
                    f"--storage.path={DATA_DIRECTORY}",
                    f"--web.listen-address=:{alertmanager.port}",
                    "--cluster.listen-address=",
                ],
                port=alertmanager.port,
                health_check=wget_health_check(alertmanager.port, "/-/healthy"),
                writable_paths=(DATA_DIRECTORY,),
                mount_points=[
                    ecs.MountPoint(container_path=CONFIG_DIRECTORY, source_volume=CONFIG_VOLUME, read_only=True)
                ],
            ),
        )
        containers.start_after(self.container, loader)
        task_role = self.task_definition.task_role
        config.grant_read(task_role)
        # Publishing to an encrypted topic takes the key too (SNS developer guide, "Enabling
        # compatibility between event sources from AWS services and encrypted topics").
        iam.Grant.add_to_principal(
            grantee=task_role, actions=["sns:Publish"], resource_arns=[topic.topic_arn for topic in topics]
        )
        iam.Grant.add_to_principal(
            grantee=task_role, actions=["kms:GenerateDataKey", "kms:Decrypt"], resource_arns=[topic_key.key_arn]
        )
        self.service = private_fargate_service(
            self,
            "Service",
            placement=placement,
            task_definition=self.task_definition,
            ecs_exec=alertmanager.ecs_exec,
            rollout=STOP_FIRST,
            desired_count=1,
        )
        config.written_before(self.service)
        self.registration = CloudMapRegistration(
            self,
            "Discovery",
            namespace=placement.registering_in(),
            name=alertmanager.name,
            service=self.service,
            container=self.container,
            container_port=alertmanager.port,
        )
        if alertmanager.ecs_exec:
            acknowledge_ecs_exec(self.task_definition, placement.exec_log_group)
