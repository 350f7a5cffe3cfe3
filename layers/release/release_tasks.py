"""The one-off tasks of a release and of the verify command: migrations, smoke tests, the
targets probe. Each is a ``OneOffTask`` whose container follows from the spec."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from layers.compute.app_settings import ecs_secrets
from layers.data.image_repositories import ImageRepositories
from layers.data.postgres_database import PostgresDatabase
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.release.targets import OneOffRun, ReleaseTargets
from layers.shared.database_access import database_environment, grant_database_access
from layers.shared.fargate import task_subnet_ids
from layers.shared.log_groups import Logging
from layers.shared.mirrored_images import third_party_image
from layers.shared.one_off_task import OneOffTask
from layers.shared.workload_containers import Container
from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.names import COMPUTE, TARGETS_PROBE

MIGRATIONS_CONTAINER = "migrations"
SMOKE_TESTS_CONTAINER = "smoke-tests"


def _initial_image(scope: Construct, service: ServiceSpec, repositories: ImageRepositories) -> ecs.ContainerImage:
    """The service's image as the stacks define it; each release registers a copy with the new tag."""
    repository = repositories.repository(service, used_from=scope)
    return ecs.ContainerImage.from_ecr_repository(repository, tag=service.initial_image_tag)


class MigrationsTask(OneOffTask):
    """The migrations, on the migrating service's image (which hands ``/tmp`` over itself, so the
    task reaches no registry the service does not), with the service's own settings and secrets,
    signed in as the migrator: the schema's owner, never the master user."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        repositories: ImageRepositories,
        database: PostgresDatabase,
        logging: Logging,
    ) -> None:
        """``spec``: the platform, which names the migrating service and its command
        (``DeliverySpec``). ``repositories``: the data stack's, which hold that service's image.
        ``database``: the database it migrates, as the migrator user. ``logging``: its log group's key
        and retention."""
        self.service = spec.service(spec.delivery.migrations_service)
        image = _initial_image(scope, self.service, repositories)
        migrator = spec.database.migrator_user
        super().__init__(
            scope,
            construct_id,
            container=Container(
                name=MIGRATIONS_CONTAINER,
                image=image,
                user=self.service.run_as,
                command=list(spec.delivery.migrate_command),
                environment={**self.service.settings, **database_environment(database, user=migrator)},
            ),
            volume_owner_image=image,
            logging=logging,
            secrets=lambda role: ecs_secrets(self, self.service.secrets, execution_role=role),
        )
        grant_database_access(self.task_definition, database, user=migrator)


class SmokeTestsTask(OneOffTask):
    """The smoke tests, on their service's image and with its settings and secrets, against the API
    inside the VPC and the public URL outside it, including the paths the edge must answer 404 to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        repositories: ImageRepositories,
        public_url: str,
        logging: Logging,
    ) -> None:
        """``spec``: the platform, which names the smoke-test service, its command and the API they
        call. ``repositories``: the data stack's, which hold that service's image. ``public_url``: the
        distribution's URL (the compute stack's), given to the tests as ``WEB_URL``. ``logging``: its
        log group's key and retention."""
        self.service = spec.service(spec.delivery.smoke_test_service)
        image = _initial_image(scope, self.service, repositories)
        super().__init__(
            scope,
            construct_id,
            container=Container(
                name=SMOKE_TESTS_CONTAINER,
                image=image,
                user=self.service.run_as,
                command=list(spec.delivery.smoke_test_command),
                environment={
                    **self.service.settings,
                    "API_URL": spec.service_url(spec.service(spec.delivery.api_service)),
                    "WEB_URL": public_url,
                    "INTERNAL_PATHS": ",".join(spec.edge_internal_paths()),
                },
            ),
            volume_owner_image=image,
            logging=logging,
            secrets=lambda role: ecs_secrets(self, self.service.secrets, execution_role=role),
        )


class TargetsProbeTask(OneOffTask):
    """The verify command's look at Prometheus's active targets from inside the VPC: the
    Prometheus image is busybox-based, and its wget prints the targets to the task's log."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: PlatformSpec, logging: Logging) -> None:
        """``spec``: the platform, whose Prometheus image and URL the probe uses. ``logging``: its log
        group's key and retention, where the targets are printed."""
        super().__init__(
            scope,
            construct_id,
            container=Container(
                name=TARGETS_PROBE,
                image=third_party_image(spec, spec.prometheus.image),
                user=spec.prometheus.user,
                entry_point=["wget", "-q", "-O", "-", f"{spec.prometheus_url}/api/v1/targets?state=active"],
            ),
            volume_owner_image=third_party_image(spec, spec.helper_images.volume_owner),
            logging=logging,
        )


def release_targets(
    scope: Construct,
    *,
    spec: PlatformSpec,
    cluster: ecs.ICluster,
    tasks: tuple[MigrationsTask, SmokeTestsTask],
    security_groups: PlatformSecurityGroups,
    repositories: ImageRepositories,
    topic: sns.ITopic,
    stack_role: iam.IRole,
) -> ReleaseTargets:
    """What the release state machine acts on. Migrations run in their service's group (its path
    to the database); the smoke tests in their own, which reaches the API service and the internet."""
    migrations, smoke_tests = tasks

    def run(step: str, task: MigrationsTask | SmokeTestsTask, group: ec2.ISecurityGroup) -> OneOffRun:
        return OneOffRun(
            step=step,
            task_definition_arn=task.task_definition.task_definition_arn,
            repository_uri=repositories.repository(task.service, used_from=scope).repository_uri,
            security_group_id=sealed(scope, f"{step}Group", group).security_group_id,
        )

    return ReleaseTargets(
        compute_stack=spec.stack_name(COMPUTE),
        stack_role_arn=stack_role.role_arn,
        cluster_arn=cluster.cluster_arn,
        subnets=tuple(task_subnet_ids(cluster.vpc)),
        topic_arn=topic.topic_arn,
        repositories={s.name: repositories.repository_name(s) for s in spec.services},
        migrations=run("Migrations", migrations, security_groups.service(migrations.service)),
        smoke_tests=run("SmokeTests", smoke_tests, security_groups.smoke_tests),
    )
