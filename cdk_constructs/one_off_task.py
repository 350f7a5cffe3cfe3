"""A Fargate task definition for a job that runs to completion (migrations, smoke tests, probes)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.fargate_parts import linux_task_definition
from cdk_constructs.retention import log_retention

SCRATCH = "/tmp"


class OneOffTask(Construct):
    """One essential container with a read-only root filesystem; ``/tmp`` is
    writable and is ``HOME``, so npm and friends have somewhere to cache."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        container_name: str,
        image: ecs.ContainerImage,
        command: list[str] | None = None,
        entry_point: list[str] | None = None,
        environment: dict[str, str] | None = None,
        secrets: dict[str, ecs.Secret] | None = None,
        cpu: int = 256,
        memory_mib: int = 512,
        architecture: ecs.CpuArchitecture = ecs.CpuArchitecture.ARM64,
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
            cpu=cpu,
            memory_mib=memory_mib,
            architecture=architecture,
            volumes=[ecs.Volume(name="scratch")],
        )
        self.container = self.task_definition.add_container(
            "Container",
            container_name=container_name,
            image=image,
            command=command,
            entry_point=entry_point,
            environment={"HOME": SCRATCH, **(environment or {})},
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=container_name, log_group=self.log_group),
            readonly_root_filesystem=True,
            essential=True,
        )
        self.container.add_mount_points(
            ecs.MountPoint(container_path=SCRATCH, source_volume="scratch", read_only=False)
        )
        self._acknowledge(from_ecr=isinstance(image, ecs.EcrImage))

    def _acknowledge(self, *, from_ecr: bool) -> None:
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-ECS2",
                reason="The environment holds only non-secret settings derived from the spec (URLs, database "
                "host and name, HOME); credentials arrive as ECS secrets.",
            )
        )
        if from_ecr:
            Validations.of(self.task_definition.obtain_execution_role()).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                    reason="ecr:GetAuthorizationToken has no resource-level permissions; every other action of "
                    "this role names its repository, log group, secret or key.",
                )
            )
