"""The containers of one Fargate task: each runs as the user its image names, and
every path it writes is a task volume handed to that user before it starts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import IResolveContext, IStableStringProducer, Lazy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from platform_spec import ROOT, ContainerUser

OWNER_CONTAINER = "volume-owner"
# Where the owner container mounts each volume it hands over.
OWNER_MOUNT_ROOT = "/volumes"


def volume_name(container_name: str, path: str) -> str:
    """``grafana`` + ``/var/lib/grafana`` -> ``grafana-var-lib-grafana``: one volume per path."""
    return f"{container_name}-{re.sub(r'[^A-Za-z0-9]+', '-', path).strip('-') or 'root'}"


@jsii.implements(IStableStringProducer)
class _OwnerScript:
    """The owner container's shell script, produced at synth once every volume is known."""

    def __init__(self, owners: dict[str, ContainerUser]) -> None:
        self._owners = owners

    def produce(self, context: IResolveContext | None = None) -> str:
        steps = [
            f"chown {user.uid}:{user.gid} {OWNER_MOUNT_ROOT}/{volume} && chmod 0700 {OWNER_MOUNT_ROOT}/{volume}"
            for volume, user in sorted(self._owners.items())
        ]
        return "set -eu; " + "; ".join(steps)


@dataclass(frozen=True)
class Container:
    """One container of a task, as ``WorkloadContainers.add`` runs it."""

    name: str
    image: ecs.ContainerImage
    user: ContainerUser
    """The user its image names (``USER`` in its Dockerfile)."""
    essential: bool = True
    command: Sequence[str] | None = None
    entry_point: Sequence[str] | None = None
    environment: Mapping[str, str] | None = None
    """Plain settings only; anything secret goes in ``secrets``."""
    secrets: Mapping[str, ecs.Secret] | None = None
    port: int | None = None
    """The TCP port it listens on, if any."""
    health_check: ecs.HealthCheck | None = None
    writable_paths: Sequence[str] = ()
    """Paths it writes: each a task volume of its own, handed to ``user`` before it starts."""
    mount_points: Sequence[ecs.MountPoint] = ()
    """Volumes the caller shares between containers."""


@dataclass(frozen=True)
class S3Copy:
    """A configuration copied from S3 into a task volume before the containers that use it start."""

    container_name: str
    image: ecs.ContainerImage
    """An image with the AWS CLI as its entry point (the spec's ``helper_images.config_loader``)."""
    source: str
    """``s3://bucket/key`` of one object, or ``s3://bucket/prefix/`` of many."""
    volume: str
    mount_path: str
    file_name: str | None = None
    """The one object's name in the volume; without it, everything under the prefix is copied."""


class WorkloadContainers(Construct):
    """Adds containers to ``task_definition`` the way every workload of the platform runs them.

    - Each container runs as the ``user`` its image names (``USER`` in its Dockerfile).
    - The root filesystem is read-only, unless ECS Exec is on for the task: the SSM agent
      that ECS Exec starts in every container must write its state and logs there, and the
      ECS developer guide lists ``readonlyRootFilesystem`` as not supported with ECS Exec
      (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html#ecs-exec-considerations).
      With ECS Exec on, each container also gets an init process, as the guide recommends,
      so the agent's child processes are reaped.
    - Each writable path is a task volume of its own. Fargate creates such a volume owned
      by root with mode 0755 (ECS developer guide, "Bind mounts"), which a non-root user
      cannot write; so a short non-essential container running as root (``volume-owner``)
      hands each volume to its user, and the container waits for it to succeed. It runs
      ``volume_owner_image``'s ``sh``, ``chown`` and ``chmod``: for an application task its
      own image, which the task pulls anyway, so the task needs no other registry.
    - Logs go to ``log_group``, one stream prefix per container.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task_definition: ecs.TaskDefinition,
        ecs_exec: bool,
        volume_owner_image: ecs.ContainerImage,
        log_group: logs.ILogGroup,
    ) -> None:
        """``task_definition``: the task the containers are added to. ``ecs_exec``: whether ECS Exec is
        on for it (the workload's spec; never for a one-off task): root filesystems then stay writable.
        ``volume_owner_image``: what the ``volume-owner`` container runs. ``log_group``: the workload's
        log group."""
        super().__init__(scope, construct_id)
        self.task_definition = task_definition
        self.ecs_exec = ecs_exec
        self._volume_owner_image = volume_owner_image
        self._log_group = log_group
        self._owners: dict[str, ContainerUser] = {}
        self._owner: ecs.ContainerDefinition | None = None
        self._waiting: set[str] = set()

    def add(self, construct_id: str, container: Container) -> ecs.ContainerDefinition:
        """A container of the task. Its ``writable_paths`` become volumes its user owns;
        its ``mount_points`` are volumes the caller shares between containers."""
        definition = self._container(construct_id, container)
        definition.add_mount_points(*container.mount_points)
        for path in container.writable_paths:
            volume = volume_name(container.name, path)
            self.task_definition.add_volume(name=volume)
            definition.add_mount_points(ecs.MountPoint(container_path=path, source_volume=volume, read_only=False))
            if not container.user.is_root:
                self._hand_over(volume, container.user, definition)
        return definition

    def add_s3_copy(self, construct_id: str, copy: S3Copy) -> ecs.ContainerDefinition:
        """A short non-essential container, as root, that copies ``copy.source`` into its volume;
        ``start_after`` makes a container wait for it to succeed."""
        target = f"{copy.mount_path}/{copy.file_name}" if copy.file_name else copy.mount_path
        return self.add(
            construct_id,
            Container(
                name=copy.container_name,
                image=copy.image,
                user=ROOT,
                essential=False,
                command=["s3", "cp", *([] if copy.file_name else ["--recursive"]), copy.source, target],
                mount_points=[
                    ecs.MountPoint(container_path=copy.mount_path, source_volume=copy.volume, read_only=False)
                ],
            ),
        )

    @staticmethod
    def start_after(container: ecs.ContainerDefinition, first: ecs.ContainerDefinition) -> None:
        """``container`` starts once ``first`` has exited 0."""
        container.add_container_dependencies(
            ecs.ContainerDependency(container=first, condition=ecs.ContainerDependencyCondition.SUCCESS)
        )

    def _container(self, construct_id: str, container: Container) -> ecs.ContainerDefinition:
        port = container.port
        return self.task_definition.add_container(
            construct_id,
            container_name=container.name,
            image=container.image,
            user=container.user.ecs_user,
            essential=container.essential,
            command=list(container.command) if container.command is not None else None,
            entry_point=list(container.entry_point) if container.entry_point is not None else None,
            environment=dict(container.environment) if container.environment else None,
            secrets=dict(container.secrets) if container.secrets else None,
            port_mappings=[ecs.PortMapping(container_port=port, protocol=ecs.Protocol.TCP)] if port else None,
            health_check=container.health_check,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=container.name, log_group=self._log_group),
            readonly_root_filesystem=not self.ecs_exec,
            linux_parameters=(
                ecs.LinuxParameters(self, f"{construct_id}Linux", init_process_enabled=True) if self.ecs_exec else None
            ),
        )

    def _hand_over(self, volume: str, user: ContainerUser, container: ecs.ContainerDefinition) -> None:
        owner = self._owner_container()
        self._owners[volume] = user
        owner.add_mount_points(
            ecs.MountPoint(container_path=f"{OWNER_MOUNT_ROOT}/{volume}", source_volume=volume, read_only=False)
        )
        if container.container_name not in self._waiting:
            self._waiting.add(container.container_name)
            container.add_container_dependencies(
                ecs.ContainerDependency(container=owner, condition=ecs.ContainerDependencyCondition.SUCCESS)
            )

    def _owner_container(self) -> ecs.ContainerDefinition:
        if self._owner is None:
            self._owner = self._container(
                "VolumeOwner",
                Container(
                    name=OWNER_CONTAINER,
                    image=self._volume_owner_image,
                    user=ROOT,
                    essential=False,
                    entry_point=["sh", "-c"],
                    command=[Lazy.string(_OwnerScript(self._owners))],
                ),
            )
        return self._owner
