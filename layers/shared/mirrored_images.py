"""A third-party image as a task pulls it: through the data stack's pull-through cache when the
spec caches its registry (``PlatformSpec.image_mirror``), by digest; else from its registry."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance.nag_findings import acknowledge_ecr_pull
from platform_spec import PlatformSpec
from platform_spec.checks import image_parts
from platform_spec.workloads import cached_repository

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
# The first pull of an image imports it and, the first time, creates its repository (Amazon ECR
# user guide, "IAM permissions required to sync an upstream registry with an Amazon ECR private
# registry": https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
IMPORT_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")


class MirroredImage(ecs.ContainerImage):
    """``<account>.dkr.ecr.<region>.amazonaws.com/<cached repository>@sha256:<digest>``; binding it
    lets the task's execution role pull, import and create exactly that repository."""

    def __init__(self, *, repository: str, digest: str) -> None:
        super().__init__()
        self.repository = repository
        self.digest = digest

    def bind(self, scope: Construct, container_definition: ecs.ContainerDefinition) -> ecs.ContainerImageConfig:
        stack = Stack.of(scope)
        task_definition = container_definition.task_definition
        role = task_definition.obtain_execution_role()
        arn = stack.format_arn(service="ecr", resource="repository", resource_name=self.repository)
        role.add_to_principal_policy(iam.PolicyStatement(actions=[*PULL_ACTIONS, *IMPORT_ACTIONS], resources=[arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        acknowledge_ecr_pull(task_definition)
        registry = f"{stack.account}.dkr.ecr.{stack.region}.{stack.url_suffix}"
        return ecs.ContainerImageConfig(image_name=f"{registry}/{self.repository}@{self.digest}")


def third_party_image(spec: PlatformSpec, image: str) -> ecs.ContainerImage:
    """``image`` (a reference the spec pinned by digest) as the task pulls it."""
    registry = spec.image_mirror.registry(image)
    if registry is None:
        return ecs.ContainerImage.from_registry(image)
    return MirroredImage(repository=cached_repository(spec.stack_prefix, registry, image), digest=image_parts(image)[3])


@dataclass(frozen=True)
class ThirdPartyImages:
    """The spec's third-party images as tasks pull them: the helpers, and any other by reference."""

    spec: PlatformSpec

    def image(self, reference: str) -> ecs.ContainerImage:
        return third_party_image(self.spec, reference)

    @property
    def config_loader(self) -> ecs.ContainerImage:
        return self.image(self.spec.helper_images.config_loader)

    @property
    def volume_owner(self) -> ecs.ContainerImage:
        return self.image(self.spec.helper_images.volume_owner)

    @property
    def database_client(self) -> ecs.ContainerImage:
        return self.image(self.spec.helper_images.database_client)
