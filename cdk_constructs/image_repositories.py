"""One ECR repository per application service."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from spec.model import ServiceSpec


class ImageRepositories(Construct):
    """Scan on push, immutable tags, a bounded history, kept when the stack goes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        services: tuple[ServiceSpec, ...],
        images_kept: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._names = {service.name: f"{name_prefix}/{service.name}" for service in services}
        self._repositories = {
            service.name: ecr.Repository(
                self,
                service.name,
                repository_name=self._names[service.name],
                image_scan_on_push=True,
                encryption=ecr.RepositoryEncryption.AES_256,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                lifecycle_rules=[
                    ecr.LifecycleRule(description=f"keep the newest {images_kept} images", max_image_count=images_kept)
                ],
                # Named: kept once created, but removed when the first create rolls back,
                # so the retry finds the name free.
                removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            )
            for service in services
        }

    def repository(self, service: ServiceSpec, *, used_from: Construct | None = None) -> ecr.IRepository:
        """The service's repository as a construct in ``used_from``'s stack sees it.

        Another stack imports it by its fixed name: a reference to this stack's
        ARN would reach CloudFormation inside ``Fn::Split`` (how CDK derives the
        registry URI), where stack-output references are not accepted."""
        repository = self._repositories[service.name]
        if used_from is None or Stack.of(used_from).node.path == Stack.of(self).node.path:
            return repository
        consumer = Stack.of(used_from)
        construct_id = f"{service.name}ImageRepository"
        existing = consumer.node.try_find_child(construct_id)
        if existing is not None:
            return existing  # type: ignore[return-value]
        return ecr.Repository.from_repository_name(consumer, construct_id, self._names[service.name])
