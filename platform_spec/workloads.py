"""What runs on Fargate: each application service, Prometheus, Grafana, the helper images,
and the users their containers run as."""

from __future__ import annotations

from dataclasses import dataclass

from platform_spec.checks import (
    CONTAINER_NAME_PATTERN,
    DNS_LABEL_PATTERN,
    Architecture,
    check_cidr,
    check_fargate_size,
    check_image_tag,
    check_pinned_image,
    check_port,
    check_posix_id,
    check_url_path,
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
class ServiceSpec:
    """One containerised application service behind the load balancer."""

    name: str
    """Cloud Map name and the stem of every resource name (``backend``)."""
    container_name: str
    """Name of the application container in the task (``backend``)."""
    container_port: int
    """Port the container listens on; every rule, registration and check uses it."""
    health_check_path: str
    """HTTP path that answers 200 when the service is healthy."""
    metrics_path: str
    """HTTP path Prometheus scrapes."""
    route: str | None
    """Load-balancer path pattern (``/api/*``); ``None`` makes it the default route."""
    cpu: int
    """Fargate CPU units for the task."""
    memory_mib: int
    """Fargate memory for the task, in MiB."""
    min_tasks: int
    """Fewest running tasks autoscaling keeps."""
    max_tasks: int
    """Most running tasks autoscaling allows."""
    ecs_exec: bool
    """Whether operators may open a shell in the task with ECS Exec."""
    initial_image_tag: str
    """The tag a first deploy runs: the default of the service's image-tag stack parameter.
    Releases change that parameter (the deployment state machine); a deploy keeps it."""
    calls: tuple[str, ...] = ()
    """Names of the services this one sends requests to."""
    uses_database: bool = False
    """Whether the service connects to PostgreSQL."""
    architecture: Architecture = "ARM64"
    """CPU architecture of the image and the task."""
    internal_paths: tuple[str, ...] = ()
    """Paths of this service the edge answers 404 to, besides ``metrics_path`` (always internal):
    reachable only inside the VPC."""
    writable_paths: tuple[str, ...] = ("/tmp",)
    """Directories the app writes to; everything else of the root filesystem is read-only.
    The image's own ``sh``, ``chown`` and ``chmod`` hand them to ``run_as`` as the task starts
    (a task that reaches AWS only through VPC endpoints cannot pull a helper image)."""
    reaches_internet: bool = False
    """Whether the app itself calls hosts outside the VPC over HTTPS. Where the network has
    interface endpoints, only such services keep HTTPS egress to any address; the others
    reach ECR, CloudWatch Logs and S3 through the endpoints and nothing else."""
    run_as: ContainerUser = NODE_USER
    """The user the image runs as (its ``USER``); the task runs the container as this user
    and gives it ``writable_paths``. Default: ``node`` (1000:1000) of the node images."""
    scale_at_cpu_percent: int = 60
    """Average CPU utilisation autoscaling holds the service at."""
    scale_at_requests_per_task: int = 1000
    """Load-balancer requests per task per minute autoscaling holds the service at."""

    def __post_init__(self) -> None:
        self._check_names()
        self._check_endpoints()
        self._check_sizing()
        self._check_relations()

    @property
    def _where(self) -> str:
        return f"services[{self.name}]"

    def _check_names(self) -> None:
        if not isinstance(self.name, str) or not DNS_LABEL_PATTERN.match(self.name):
            raise SpecError(
                "services[].name",
                self.name,
                "service name must be a DNS label: lowercase letters, digits and '-', starting with a letter",
            )
        if not isinstance(self.container_name, str) or not CONTAINER_NAME_PATTERN.match(self.container_name):
            raise SpecError(
                f"{self._where}.container_name",
                self.container_name,
                "container name must be letters, digits, '_' or '-'",
            )
        check_image_tag(f"{self._where}.initial_image_tag", self.initial_image_tag)

    def _check_endpoints(self) -> None:
        where = self._where
        check_port(f"{where}.container_port", self.container_port)
        check_url_path(f"{where}.health_check_path", self.health_check_path)
        check_url_path(f"{where}.metrics_path", self.metrics_path)
        if self.route is not None:
            check_url_path(f"{where}.route", self.route)
        for path in self.writable_paths:
            check_url_path(f"{where}.writable_paths", path)
        for path in self.internal_paths:
            check_url_path(f"{where}.internal_paths", path)

    def _check_sizing(self) -> None:
        where = self._where
        check_fargate_size(where, self.cpu, self.memory_mib)
        if isinstance(self.min_tasks, bool) or not isinstance(self.min_tasks, int) or self.min_tasks < 1:
            raise SpecError(f"{where}.min_tasks", self.min_tasks, "must be a whole number of at least 1")
        if isinstance(self.max_tasks, bool) or not isinstance(self.max_tasks, int):
            raise SpecError(f"{where}.max_tasks", self.max_tasks, "must be a whole number")
        if self.min_tasks > self.max_tasks:
            raise SpecError(f"{where}.min_tasks", self.min_tasks, f"min_tasks is above max_tasks ({self.max_tasks})")
        if not 10 <= self.scale_at_cpu_percent <= 90:
            raise SpecError(f"{where}.scale_at_cpu_percent", self.scale_at_cpu_percent, "must be from 10 to 90")
        if not 1 <= self.scale_at_requests_per_task <= 1_000_000:
            raise SpecError(
                f"{where}.scale_at_requests_per_task", self.scale_at_requests_per_task, "must be from 1 to 1000000"
            )
        if self.architecture not in ("ARM64", "X86_64"):
            raise SpecError(f"{where}.architecture", self.architecture, "must be ARM64 or X86_64")

    def _check_relations(self) -> None:
        where = self._where
        if not isinstance(self.ecs_exec, bool):
            raise SpecError(f"{where}.ecs_exec", self.ecs_exec, "must be true or false")
        if not isinstance(self.reaches_internet, bool):
            raise SpecError(f"{where}.reaches_internet", self.reaches_internet, "must be true or false")
        if self.name in self.calls:
            raise SpecError(f"{where}.calls", self.calls, "a service does not call itself")
        if len(set(self.calls)) != len(self.calls):
            raise SpecError(f"{where}.calls", self.calls, "a service is named twice")

    @property
    def database_user(self) -> str:
        """The PostgreSQL user the service signs in as with IAM authentication."""
        return self.name.replace("-", "_")

    @property
    def url_variable(self) -> str:
        """``BACKEND_URL``: the environment variable its callers read its URL from."""
        return f"{self.name.upper().replace('-', '_')}_URL"


@dataclass(frozen=True, kw_only=True)
class PrometheusSpec:
    """The Prometheus server that discovers every service through DNS SRV and scrapes it."""

    name: str = "prometheus"
    """Its Cloud Map name and the name of its self-scrape job."""
    port: int = 9090
    """Port Prometheus serves its API and UI on."""
    user: ContainerUser = ContainerUser(uid=65534, gid=65534)
    """The user the official image runs as (``USER nobody``); owns the TSDB on EFS."""
    image: str = "quay.io/prometheus/prometheus:v3.5.0"
    """The official image, pinned by version."""
    cpu: int = 512
    memory_mib: int = 1024
    retention_days: int = 15
    """How long the TSDB keeps samples."""
    scrape_interval_seconds: int = 30
    evaluation_interval_seconds: int = 30
    discovery_refresh_seconds: int = 30
    """How often the SRV records are asked again."""
    ecs_exec: bool = False
    remote_write: bool = False
    """Also send samples to an Amazon Managed Service for Prometheus workspace the stack creates."""

    def __post_init__(self) -> None:
        check_port("prometheus.port", self.port)
        check_pinned_image("prometheus.image", self.image)
        check_fargate_size("prometheus", self.cpu, self.memory_mib)
        if not 1 <= self.retention_days <= 3650:
            raise SpecError("prometheus.retention_days", self.retention_days, "must be from 1 to 3650")
        for name in ("scrape_interval_seconds", "evaluation_interval_seconds", "discovery_refresh_seconds"):
            value = getattr(self, name)
            if not 1 <= value <= 3600:
                raise SpecError(f"prometheus.{name}", value, "must be from 1 to 3600 seconds")


@dataclass(frozen=True, kw_only=True)
class HelperImagesSpec:
    """Pinned images of the short-lived helper containers: the two that start before a
    workload run as root, which their work needs; the database client does not."""

    config_loader: str = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
    """Copies rendered configuration from S3 into a task volume (Prometheus, Grafana)."""
    volume_owner: str = "public.ecr.aws/docker/library/busybox:1.37.0"
    """Hands each writable task volume to the user of the container that writes it."""
    database_client: str = "public.ecr.aws/docker/library/postgres:17.6-alpine"
    """psql for the database bootstrap (runs as its ``postgres`` user, not root)."""

    def __post_init__(self) -> None:
        check_pinned_image("helper_images.config_loader", self.config_loader)
        check_pinned_image("helper_images.volume_owner", self.volume_owner)
        check_pinned_image("helper_images.database_client", self.database_client)


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
    """A current release, pinned by digest."""
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
