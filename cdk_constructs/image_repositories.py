"""One ECR repository per application service."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
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
        self._repositories = {
            service.name: ecr.Repository(
                self,
                service.name,
                repository_name=f"{name_prefix}/{service.name}",
                image_scan_on_push=True,
                encryption=ecr.RepositoryEncryption.AES_256,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                lifecycle_rules=[
                    ecr.LifecycleRule(description=f"keep the newest {images_kept} images", max_image_count=images_kept)
                ],
                removal_policy=RemovalPolicy.RETAIN,
            )
            for service in services
        }

    def repository(self, service: ServiceSpec) -> ecr.IRepository:
        return self._repositories[service.name]
