"""What runs on Fargate besides the application services (``platform_spec.services``): Prometheus
(its own module, ``platform_spec.prometheus``), Alertmanager, Grafana, the helper images, the
registries ECR caches them from, and the users containers run as.

Every third-party image is pinned by digest. The digests are the multi-platform index digests
published for each tag, as found in public repositories that pin the same tag (the upstream
registries are not reachable from where this was written): the registries' own answers were not
read (docs/security.md, "Images")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from platform_spec.checks import (
    check_cidr,
    check_fargate_size,
    check_pinned_image,
    check_port,
    check_posix_id,
    check_url_path,
    image_parts,
)
from platform_spec.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class ContainerUser:
    """The user a container's processes run as: the image's ``USER``, written here
    so the task definition states it and every writable path can be given to it.

    Fargate creates a task volume owned by root with mode 0755 unless the image
    declares a ``VOLUME`` at the same path, so a non-root user cannot write it
    until something running as root hands it over (see ``WritableVolumes``)."""

    uid: int
    gid: int

    def __post_init__(self) -> None:
        check_posix_id("user.uid", self.uid)
        check_posix_id("user.gid", self.gid)

    @property
    def ecs_user(self) -> str:
        """The task definition's ``user`` field: ``uid:gid``."""
        return f"{self.uid}:{self.gid}"

    @property
    def is_root(self) -> bool:
        return self.uid == 0


ROOT = ContainerUser(uid=0, gid=0)
NODE_USER = ContainerUser(uid=1000, gid=1000)
"""The ``node`` user of the official node images (``USER node``)."""


@dataclass(frozen=True, kw_only=True)
class AlertmanagerSpec:
    """Alertmanager: takes Prometheus's alerts, groups them, and publishes them to the alarm topic
    (SNS, signed with the task role's SigV4 credentials), where CloudWatch's alarms go too."""

    name: str = "alertmanager"
    """Its Cloud Map name (Prometheus finds it through its SRV record) and its scrape job's."""
    port: int = 9093
    user: ContainerUser = ContainerUser(uid=65534, gid=65534)
    """The user the official image runs as (``USER nobody``)."""
    image: str = (
        "quay.io/prometheus/alertmanager:v0.28.1"
        "@sha256:27c475db5fb156cab31d5c18a4251ac7ed567746a2483ff264516437a39b15ba"
    )
    """The official image on Quay, pinned by digest."""
    cpu: int = 256
    memory_mib: int = 512
    group_wait_seconds: int = 30
    """How long a new group of alerts waits for more before its first notification: what fires
    together (every service behind a fallen database) is one message."""
    group_interval_seconds: int = 300
    """How long before a group that changed is notified again (a new alert in it, or resolved)."""
    repeat_hours: int = 4
    """How often a page still firing is sent again; a ticket, once a day."""
    heartbeat_minutes: int = 5
    """How often the always-firing ``Watchdog`` alert is published to the heartbeat topic; its
    alarm fires after three periods of this length without one."""
    ecs_exec: bool = False

    def __post_init__(self) -> None:
        check_port("alertmanager.port", self.port)
        check_pinned_image("alertmanager.image", self.image, digest=True)
        check_fargate_size("alertmanager", self.cpu, self.memory_mib)
        for name, low, high in (
            ("group_wait_seconds", 1, 600),
            ("group_interval_seconds", 1, 3600),
            ("repeat_hours", 1, 72),
            ("heartbeat_minutes", 1, 60),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SpecError(f"alertmanager.{name}", value, f"must be a whole number from {low} to {high}")


@dataclass(frozen=True, kw_only=True)
class HelperImagesSpec:
    """Pinned images of the short-lived helper containers: the two that start before a
    workload run as root, which their work needs; the database client does not."""

    config_loader: str = (
        "public.ecr.aws/aws-cli/aws-cli:2.31.23@sha256:668ffb01408e03e1002b36886797c1a97b09f7d0f02fba3123f9fcd68a081dc5"
    )
    """Copies rendered configuration from S3 into a task volume (Prometheus, Grafana)."""
    volume_owner: str = (
        "public.ecr.aws/docker/library/busybox:1.37.0"
        "@sha256:bdf57e528e45e4433820e045b29b4597825a1c9e38353532d90a01445013f82e"
    )
    """Hands each writable task volume to the user of the container that writes it."""
    database_client: str = (
        "public.ecr.aws/docker/library/postgres:17.11-alpine"
        "@sha256:18cfe3ef5e6815560c98237d6216d1e5119702fb0f3894c8785dd58b8bbe5d73"
    )
    """psql for the database bootstrap (runs as its ``postgres`` user, not root). 17.11: libpq
    before 17.7 has CVE-2025-12818. ECR Public's ``docker/library`` carries Docker's official
    images under the same digests (busybox 1.37.0's index is pinned under both names)."""

    def __post_init__(self) -> None:
        check_pinned_image("helper_images.config_loader", self.config_loader, digest=True)
        check_pinned_image("helper_images.volume_owner", self.volume_owner, digest=True)
        check_pinned_image("helper_images.database_client", self.database_client, digest=True)

    @property
    def all(self) -> tuple[str, ...]:
        return (self.config_loader, self.volume_owner, self.database_client)


# ECR's EcrRepositoryPrefix: lowercase path segments, 2 to 30 characters in all.
_CACHE_PREFIX = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


@dataclass(frozen=True, kw_only=True)
class MirroredRegistry:
    """An upstream registry ECR's pull-through cache copies images from on first pull
    (``AWS::ECR::PullThroughCacheRule``). Only registries that need no credential: ECR Public
    and Quay. Docker Hub and GitHub's registry need a Secrets Manager credential
    (Amazon ECR user guide, "Sync an upstream registry with an Amazon ECR private registry"),
    so an image there (Grafana's) is pulled directly, through the NAT."""

    host: str
    """The registry as image references name it (``quay.io``)."""
    upstream_registry: str
    """ECR's name for it (the rule's ``UpstreamRegistry``): ``ecr-public``, ``quay``."""
    name: str
    """The last part of the cached repositories' prefix: ``<stack prefix>/<name>/<upstream path>``."""

    def __post_init__(self) -> None:
        if self.upstream_registry not in ("ecr-public", "quay"):
            raise SpecError(
                "image_mirror.registries.upstream_registry",
                self.upstream_registry,
                "must be 'ecr-public' or 'quay' (the upstreams a pull-through cache reaches without a credential)",
            )
        if not _CACHE_PREFIX.match(self.name):
            raise SpecError("image_mirror.registries.name", self.name, "must be lowercase letters, digits, '.-_'")


ECR_PUBLIC = MirroredRegistry(host="public.ecr.aws", upstream_registry="ecr-public", name="ecr-public")
QUAY = MirroredRegistry(host="quay.io", upstream_registry="quay", name="quay")


@dataclass(frozen=True, kw_only=True)
class ImageMirrorSpec:
    """The registries the data stack caches through ECR; an image from one of them is pulled from
    the account's own registry, by digest, so a task pulling it reaches only ECR (its endpoints,
    where the network has them) and S3."""

    registries: tuple[MirroredRegistry, ...] = (ECR_PUBLIC, QUAY)

    def __post_init__(self) -> None:
        hosts = [r.host for r in self.registries]
        names = [r.name for r in self.registries]
        for field_name, values in (("host", hosts), ("name", names)):
            if len(set(values)) != len(values):
                raise SpecError(f"image_mirror.registries.{field_name}", values, "must not repeat")

    def registry(self, image: str) -> MirroredRegistry | None:
        """The cached registry ``image`` comes from, or None when it is pulled directly."""
        host = image_parts(image)[0]
        return next((r for r in self.registries if r.host == host), None)

    def check_prefixes(self, stack_prefix: str) -> None:
        for registry in self.registries:
            prefix = cache_prefix(stack_prefix, registry)
            if not 2 <= len(prefix) <= CACHE_PREFIX_LIMIT:
                raise SpecError(
                    "image_mirror.registries.name",
                    registry.name,
                    f"makes the repository prefix {prefix!r}, over the {CACHE_PREFIX_LIMIT} characters ECR allows: "
                    "shorten it",
                )


CACHE_PREFIX_LIMIT = 30  # ECR's longest EcrRepositoryPrefix


def cache_prefix(stack_prefix: str, registry: MirroredRegistry) -> str:
    """The prefix of the repositories the cache creates for ``registry``: the stack prefix keeps
    two profiles in one account apart, as their own repositories are. A stack prefix too long for
    ECR's 30 characters keeps its start and a hash of the whole, so it stays distinct."""
    whole = f"{stack_prefix}/{registry.name}"
    if len(whole) <= CACHE_PREFIX_LIMIT:
        return whole
    digest = hashlib.sha256(stack_prefix.encode()).hexdigest()[:6]
    kept = max(CACHE_PREFIX_LIMIT - len(registry.name) - len(digest) - 2, 0)
    head = stack_prefix[:kept].rstrip("-")
    return f"{head}-{digest}/{registry.name}" if head else f"{digest}/{registry.name}"


def cached_repository(stack_prefix: str, registry: MirroredRegistry, image: str) -> str:
    """The repository ``image`` is cached in: ``<prefix>/<upstream path>``."""
    return f"{cache_prefix(stack_prefix, registry)}/{image_parts(image)[1]}"


@dataclass(frozen=True, kw_only=True)
class GrafanaSpec:
    """Grafana behind the load balancer under a sub-path, with Prometheus as its data source."""

    name: str = "grafana"
    """Its container's name, and the ``<name>_ecs_exec`` context key's."""
    port: int = 3300
    """Port Grafana listens on (not 3000: the frontend's)."""
    route: str = "/grafana"
    """Sub-path Grafana is served under, through CloudFront and the load balancer."""
    image: str = (
        "docker.io/grafana/grafana:13.2.3@sha256:b28bae15e219c998fb0e0424ed724930cc61b1f61fb404d47c862f9a23f9e572"
    )
    """A current release, pinned by digest. Grafana publishes to Docker Hub and GitHub's registry
    only, which a pull-through cache reaches only with a stored credential: it is pulled directly."""
    allowed_cidrs: tuple[str, ...] = ()
    """Who may reach Grafana: the edge's web ACL answers every other address 403 under its route.
    Empty: nobody (the profile names its operators' addresses)."""
    user: ContainerUser = ContainerUser(uid=472, gid=0)
    """The user the official image runs as (``GF_UID`` 472, ``GF_GID`` 0 in its Dockerfile)."""
    cpu: int = 256
    memory_mib: int = 512
    ecs_exec: bool = False

    def __post_init__(self) -> None:
        check_port("grafana.port", self.port)
        check_url_path("grafana.route", self.route)
        if self.route.endswith("/") or "*" in self.route:
            raise SpecError("grafana.route", self.route, "must be a plain sub-path such as '/grafana'")
        check_pinned_image("grafana.image", self.image, digest=True)
        for cidr in self.allowed_cidrs:
            check_cidr("grafana.allowed_cidrs", cidr)
        check_fargate_size("grafana", self.cpu, self.memory_mib)

    @property
    def health_check_path(self) -> str:
        return f"{self.route}/api/health"

    @property
    def route_pattern(self) -> str:
        return f"{self.route}/*"


# Prometheus has a module of its own (its discovery timing). It builds on ContainerUser above, so it
# is imported last; named here too (the alias exports it), where the spec's modules find it.
from platform_spec.prometheus import PrometheusSpec as PrometheusSpec  # noqa: E402, PLC0414
