"""ECR's pull-through cache for the third-party images: the tasks pull them from the account's own
registry, so none needs a public registry, and in prod none needs the internet to start."""

from __future__ import annotations

from aws_cdk import aws_ecr as ecr
from constructs import Construct

from platform_spec.workloads import ImageMirrorSpec, cache_prefix


class ImageMirror(Construct):
    """One pull-through cache rule per registry of ``mirror``. On the first pull of an image ECR
    creates its repository under the rule's prefix and copies the image from upstream (Amazon ECR
    user guide, "Sync an upstream registry with an Amazon ECR private registry",
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html). Those
    repositories are ECR's, not this stack's: they stay when the stack goes, with what they cached.

    Who pulls needs, beside the usual pull actions, ``ecr:BatchImportUpstreamImage`` and
    ``ecr:CreateRepository`` on the repository (user guide, "IAM permissions required to sync an
    upstream registry", https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html):
    ``layers.shared.mirrored_images`` grants them on each image's own repository.

    An image first pulled by digest is reported missing (aws/containers-roadmap#2837): the data
    stack's ``MirrorWarmer`` (``layers/data/mirror_warmer.py``) has each pin imported by its
    tag, after ``rules``, before any task pulls it."""

    def __init__(self, scope: Construct, construct_id: str, *, stack_prefix: str, mirror: ImageMirrorSpec) -> None:
        """``stack_prefix``: the first part of every cached repository's name. ``mirror``: the
        registries to cache, from the spec."""
        super().__init__(scope, construct_id)
        self.rules = {
            registry.host: ecr.CfnPullThroughCacheRule(
                self,
                registry.name,
                ecr_repository_prefix=cache_prefix(stack_prefix, registry),
                upstream_registry=registry.upstream_registry,
                upstream_registry_url=registry.host,
            )
            for registry in mirror.registries
        }
