"""A Fargate task definition for a job that runs to completion (migrations, smoke tests, probes)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.workload_containers import WorkloadContainers
from cdk_helpers.fargate import linux_task_definition
from cdk_helpers.log_groups import log_retention
from spec.model import ContainerUser

SCRATCH = "/tmp"


class OneOffTask(Construct):
    """One essential container, run as the user its image names, with a read-only root
    filesystem; ``/tmp`` is writable by that user and is ``HOME``, so npm and friends
    have somewhere to cache. ``volume_owner_image`` hands ``/tmp`` over (see
    ``WorkloadContainers``): ``image`` itself where it has a shell, so a task on an
    application image pulls from its repository only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        container_name: str,
        image: ecs.ContainerImage,
        user: ContainerUser,
        volume_owner_image: ecs.ContainerImage,
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
            self, "Task", cpu=cpu, memory_mib=memory_mib, architecture=architecture
        )
        containers = WorkloadContainers(
            self,
            "Containers",
            task_definition=self.task_definition,
            ecs_exec=False,
            volume_owner_image=volume_owner_image,
            log_group=self.log_group,
        )
        self.container = containers.add(
            "Container",
            container_name=container_name,
            image=image,
            user=user,
            command=command,
            entry_point=entry_point,
            environment={"HOME": SCRATCH, **(environment or {})},
            secrets=secrets,
            writable_paths=[SCRATCH],
        )
        self._acknowledge(from_ecr=isinstance(image, ecs.EcrImage))

    def _acknowledge(self, *, from_ecr: bool) -> None:
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-ECS2",
                reason="The environment holds only non-secret settings derived from the spec (URLs, database "
                "host, name and user, HOME, the bootstrap's SQL); any credential arrives as an ECS secret.",
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
