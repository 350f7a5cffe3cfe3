"""A Fargate task definition for a job that runs to completion (migrations, smoke tests, probes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance.nag_findings import acknowledge_ecr_pull
from layers.shared.fargate import linux_task_definition
from layers.shared.log_groups import Logging
from layers.shared.workload_containers import Container, WorkloadContainers
from platform_spec.checks import Architecture

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
        container: Container,
        volume_owner_image: ecs.ContainerImage,
        logging: Logging,
        cpu: int = 256,
        memory_mib: int = 512,
        architecture: Architecture = "ARM64",
        secrets: Callable[[iam.IRole], Mapping[str, ecs.Secret]] | None = None,
    ) -> None:
        """``container``: what runs (``HOME`` and a writable ``/tmp`` are added). ``volume_owner_image``:
        what hands ``/tmp`` over. ``logging``: its log group's key and retention. ``cpu``:
        the task's CPU units (default 256, Fargate's smallest). ``memory_mib``: its memory (default 512,
        the least with 256 units). ``architecture``: its platform (default ``ARM64``). ``secrets``: the
        container's secrets, made for the task's execution role once it exists; default None: the
        container's own ``secrets``."""
        super().__init__(scope, construct_id)
        self.log_group = logging.log_group(self, "Logs")
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
            replace(
                container,
                environment={"HOME": SCRATCH, **(container.environment or {})},
                secrets=secrets(self.task_definition.obtain_execution_role()) if secrets else container.secrets,
                writable_paths=[SCRATCH, *container.writable_paths],
            ),
        )
        self._acknowledge(from_ecr=isinstance(container.image, ecs.EcrImage))

    def _acknowledge(self, *, from_ecr: bool) -> None:
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-ECS2",
                reason="The environment holds only what the spec declares plain: what it derives (URLs, database "
                "host, name and user, HOME, the bootstrap's SQL and the RDS CAs it verifies with) and the service's "
                "own settings; any credential "
                "arrives as an ECS secret.",
            )
        )
        if from_ecr:
            acknowledge_ecr_pull(self.task_definition)
