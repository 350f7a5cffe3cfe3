"""One ECR repository per application service."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from constructs import Construct

from platform_spec import ServiceSpec
from platform_spec.names import RELEASE_TAG_PREFIX

# Marked images at once: what runs, what a roll-back returns to, and during a release the
# image it is about to run (the release keeps the marks to these; layers.release.images).
MARKED_AT_MOST = 3


def lifecycle_rules(*, initial_tag: str, releases_kept: int, images_kept: int) -> list[ecr.LifecycleRule]:
    """Expire old images, never one that runs or that a roll-back may return to.

    ECR sorts the images a count rule selects by push time, not by when a tag was added
    (aws/containers-roadmap#2746), so "the newest released images" cannot mean the newest
    releases; nor do the newer selections name what runs (``tagPatternList`` is a pattern,
    ``sinceImagePulled`` only archives, and an archived image cannot be pulled: "Lifecycle
    policy properties"). The release therefore keeps the ``release-`` marks to exactly what
    runs and what a roll-back returns to: it marks the image it releases, and removes the
    marks no longer needed once it ends, success or failure (removing a tag leaves the image
    its build tag). The first rule selects every marked image and keeps more than can be marked
    (``releases_kept``, at least ``MARKED_AT_MOST``; the rest is room for the marks of
    releases stopped before they tidied, until the next one does), so it expires none; an
    image a rule selects by its tags cannot be expired by a rule of lower priority (Amazon ECR
    user guide, "Lifecycle policy evaluation rules"). Then the first deploy's image, then
    the newest ``images_kept`` other builds."""
    return [
        ecr.LifecycleRule(
            rule_priority=1,
            description="never expire a marked image: what runs and what a roll-back returns to",
            tag_status=ecr.TagStatus.TAGGED,
            tag_prefix_list=[RELEASE_TAG_PREFIX],
            max_image_count=max(releases_kept, MARKED_AT_MOST),
        ),
        ecr.LifecycleRule(
            rule_priority=2,
            description="keep the image a first deploy runs",
            tag_status=ecr.TagStatus.TAGGED,
            tag_prefix_list=[initial_tag],
            max_image_count=1,
        ),
        ecr.LifecycleRule(
            rule_priority=3,
            description=f"keep the newest {images_kept} other images",
            tag_status=ecr.TagStatus.ANY,
            max_image_count=images_kept,
        ),
    ]


class ImageRepositories(Construct):
    """Scan on push, immutable tags, a bounded history that keeps every image a service runs
    or may roll back to, retained when the stack goes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        services: tuple[ServiceSpec, ...],
        images_kept: int,
        releases_kept: int,
        key: kms.IKey,
    ) -> None:
        """``name_prefix``: the stack prefix, the first part of each repository's name
        (``<prefix>/<service>``). ``services``: the application services, one repository each.
        ``images_kept``: unreleased images each keeps. ``releases_kept``: marked (``release-``) images
        each keeps at most (``lifecycle_rules``). ``key``: the data key, which encrypts them."""
        super().__init__(scope, construct_id)
        self._names = {service.name: f"{name_prefix}/{service.name}" for service in services}
        self._repositories = {
            service.name: ecr.Repository(
                self,
                service.name,
                repository_name=self._names[service.name],
                image_scan_on_push=True,
                # The data key, like the platform's other state. Create-only: changing it later
                # would replace the repositories.
                encryption=ecr.RepositoryEncryption.KMS,
                encryption_key=key,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                lifecycle_rules=lifecycle_rules(
                    initial_tag=service.initial_image_tag, releases_kept=releases_kept, images_kept=images_kept
                ),
                # Named: kept once created, but removed when the first create rolls back,
                # so the retry finds the name free.
                removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            )
            for service in services
        }

    def repository_name(self, service: ServiceSpec) -> str:
        """The repository's fixed name (``dev-davidshaevel/backend``), usable from any stack."""
        return self._names[service.name]

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
