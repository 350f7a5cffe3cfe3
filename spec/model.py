"""The typed description of the platform.

Every name, port, path and size the stacks use is written here once. The
dataclasses are frozen and validate themselves when they are built, so a
``PlatformSpec`` that exists is one the stacks can trust. Nothing here imports
CDK: the spec is plain data, cheap to build and to test.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

from spec.errors import SpecError
from spec.names import release_state_machine_name, stack_name, stack_prefix

Architecture = Literal["ARM64", "X86_64"]

# CPU units -> memory sizes (MiB) that Fargate accepts for that CPU.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# NFS, the only protocol EFS speaks.
NFS_PORT = 2049
HTTP_PORT = 80
HTTPS_PORT = 443

# Zones whose load balancers CloudFront VPC origins cannot reach ("Restrict access with VPC
# origins", supported Regions and Availability Zones:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html).
VPC_ORIGIN_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3"})

# Public (load balancer, NAT), private (application tasks), isolated (database).
SUBNET_TIERS = ("public", "application", "database")

_DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PROJECT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_NAMESPACE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_PINNED_IMAGE = re.compile(
    r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?P<digest>@sha256:[0-9a-f]{64})?$"
)
_ZONE_ID = re.compile(r"^[a-z]{2,5}[0-9]-az[0-9]{1,2}$")
_PREFIX_LIST = re.compile(r"^pl-[0-9a-f]{8,17}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def check_port(field_name: str, port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise SpecError(field_name, port, "port must be a whole number from 1 to 65535")


def check_url_path(field_name: str, path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise SpecError(field_name, path, "path must start with '/'")
    if any(ch.isspace() for ch in path):
        raise SpecError(field_name, path, "path must not contain white space")


def check_image_tag(field_name: str, tag: str) -> None:
    if not isinstance(tag, str) or not _IMAGE_TAG.match(tag):
        raise SpecError(
            field_name,
            tag,
            "image tag must be 1-128 characters of letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        )


def check_log_retention(field_name: str, days: int) -> None:
    if days not in LOG_RETENTION_DAYS:
        raise SpecError(field_name, days, "not a retention period CloudWatch Logs offers")


def check_posix_id(field_name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32 - 2:
        raise SpecError(field_name, value, "not a POSIX user or group id")


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
        if not isinstance(self.name, str) or not _DNS_LABEL.match(self.name):
            raise SpecError(
                "services[].name",
                self.name,
                "service name must be a DNS label: lowercase letters, digits and '-', starting with a letter",
            )
        if not isinstance(self.container_name, str) or not _CONTAINER_NAME.match(self.container_name):
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


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """The VPC: address range, zones and the way out to the internet."""

    cidr: str
    """VPC address range (``10.0.0.0/16``)."""
    max_azs: int
    """Availability zones the subnets span."""
    nat_gateways: int
    """NAT devices for the application subnets' egress (1 .. max_azs)."""
    nat: Literal["gateway", "instance"] = "gateway"
    """Managed NAT gateways, or a small NAT instance (a fraction of the cost, no high availability)."""
    nat_instance_type: str = "t4g.nano"
    """Instance type of the NAT instance (Graviton)."""
    zone_ids: tuple[str, ...] = ()
    """Availability Zone ids (``use1-az1``) of the subnets, one per zone; ``()`` takes the first
    ``max_azs`` zones the account lists. Ids, not names: names map to different zones in each
    account, and CloudFront VPC origins and Graviton NAT instances are missing from some zones."""
    subnet_prefix_length: int = 24
    """Prefix length of each subnet; three tiers per zone must fit the VPC."""
    interface_endpoints: bool = False
    """Interface VPC endpoints for what application tasks need to start (ECR, CloudWatch Logs,
    and SSM messages where ECS Exec is on), in every zone, so those tasks' HTTPS egress can be
    narrowed to the endpoints and S3. Each endpoint costs about $7.30 a month per zone."""
    s3_prefix_list: str = "pl-63a5400a"
    """The AWS-managed prefix list of S3 in the region (``com.amazonaws.us-east-1.s3``): the
    destination of tasks' S3 traffic through the gateway endpoint, in security-group rules."""

    def __post_init__(self) -> None:
        try:
            network = ipaddress.IPv4Network(self.cidr, strict=True)
        except (ValueError, TypeError) as error:
            raise SpecError("network.cidr", self.cidr, f"not an IPv4 network in CIDR form ({error})") from None
        if not 16 <= network.prefixlen <= 28:
            raise SpecError("network.cidr", self.cidr, "a VPC's prefix length must be from /16 to /28")
        # Without a synth-time lookup (which we never do) CDK can place subnets in
        # the first two zones of the region only, resolved at deploy time.
        if not 1 <= self.max_azs <= 2:
            raise SpecError("network.max_azs", self.max_azs, "must be 1 or 2 (zones are resolved at deploy time)")
        if not 1 <= self.nat_gateways <= self.max_azs:
            raise SpecError(
                "network.nat_gateways",
                self.nat_gateways,
                f"must be from 1 to max_azs ({self.max_azs})",
            )
        self._check_zone_ids()
        if not isinstance(self.interface_endpoints, bool):
            raise SpecError("network.interface_endpoints", self.interface_endpoints, "must be true or false")
        if not isinstance(self.s3_prefix_list, str) or not _PREFIX_LIST.match(self.s3_prefix_list):
            raise SpecError("network.s3_prefix_list", self.s3_prefix_list, "not a prefix list id such as 'pl-63a5400a'")
        if self.nat not in ("gateway", "instance"):
            raise SpecError("network.nat", self.nat, "must be 'gateway' or 'instance'")
        if not re.match(r"^[a-z][a-z0-9]*[0-9][a-z]*\.[a-z0-9]+$", self.nat_instance_type):
            raise SpecError("network.nat_instance_type", self.nat_instance_type, "not an EC2 instance type")
        if not network.prefixlen < self.subnet_prefix_length <= 28:
            raise SpecError(
                "network.subnet_prefix_length",
                self.subnet_prefix_length,
                f"must be longer than the VPC's /{network.prefixlen} and at most /28",
            )
        subnets_needed = len(SUBNET_TIERS) * self.max_azs
        subnets_available = 2 ** (self.subnet_prefix_length - network.prefixlen)
        if subnets_needed > subnets_available:
            raise SpecError(
                "network.cidr",
                self.cidr,
                f"too small for {subnets_needed} /{self.subnet_prefix_length} subnets "
                f"({len(SUBNET_TIERS)} tiers x {self.max_azs} zones)",
            )

    def _check_zone_ids(self) -> None:
        if not self.zone_ids:
            return
        for zone_id in self.zone_ids:
            if not isinstance(zone_id, str) or not _ZONE_ID.match(zone_id):
                raise SpecError("network.zone_ids", zone_id, "not an Availability Zone id such as 'use1-az1'")
            if zone_id in VPC_ORIGIN_UNSUPPORTED_ZONE_IDS:
                raise SpecError("network.zone_ids", zone_id, "CloudFront VPC origins are not available in this zone")
        if len(set(self.zone_ids)) != len(self.zone_ids):
            raise SpecError("network.zone_ids", self.zone_ids, "a zone is named twice")
        if len(self.zone_ids) != self.max_azs:
            raise SpecError("network.zone_ids", self.zone_ids, f"name exactly max_azs ({self.max_azs}) zones")


# PostgreSQL versions RDS offers that this project supports; tests check that
# aws-cdk-lib knows each one.
POSTGRES_VERSIONS = (
    *(f"16.{minor}" for minor in range(1, 14)),
    *(f"17.{minor}" for minor in range(1, 10)),
    *(f"18.{minor}" for minor in range(1, 4)),
)

_GRAVITON_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
# RDS for PostgreSQL instance classes (without the ``db.`` prefix) this project offers.
DATABASE_INSTANCE_CLASSES = frozenset(
    {
        *(f"t4g.{size}" for size in ("micro", "small", "medium", "large", "xlarge", "2xlarge")),
        *(f"{family}.{size}" for family in ("m6g", "m7g", "m8g", "r6g", "r7g", "r8g") for size in _GRAVITON_SIZES),
    }
)


@dataclass(frozen=True, kw_only=True)
class DatabaseSpec:
    """PostgreSQL on RDS."""

    port: int = 5432
    engine_version: str = "17.9"
    """Pinned PostgreSQL version, one of ``POSTGRES_VERSIONS``."""
    instance_class: str = "t4g.micro"
    """RDS instance class without the ``db.`` prefix (Graviton: cheaper per unit of work)."""
    database_name: str = "app"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    """Storage autoscaling ceiling."""
    backup_retention_days: int = 7
    """RDS automated backups (point-in-time recovery window), 1-35 days."""
    multi_az: bool = False
    deletion_protection: bool = False
    max_connections_alarm: int = 80
    """Connections above which the database alarm fires (keep it under the class's max_connections)."""
    schema: str = "app"
    """The application's schema: owned by the migrator, read and written by the services."""
    migrator_user: str = "migrator"
    """The user migrations sign in as (IAM authentication): DDL in ``schema``, nothing else."""

    def __post_init__(self) -> None:
        check_port("database.port", self.port)
        if self.engine_version not in POSTGRES_VERSIONS:
            raise SpecError(
                "database.engine_version",
                self.engine_version,
                f"not a supported PostgreSQL version ({POSTGRES_VERSIONS[0]} to {POSTGRES_VERSIONS[-1]})",
            )
        if self.instance_class not in DATABASE_INSTANCE_CLASSES:
            raise SpecError(
                "database.instance_class",
                self.instance_class,
                "not an RDS instance class this project offers (Graviton t4g, m6g-m8g, r6g-r8g; no 'db.' prefix)",
            )
        for name in ("database_name", "schema", "migrator_user"):
            value = getattr(self, name)
            if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9_]{0,62}$", value) or value in _RESERVED:
                raise SpecError(
                    f"database.{name}", value, "must be lowercase letters, digits or '_', and not a PostgreSQL name"
                )
        if not 20 <= self.allocated_storage_gib <= self.max_allocated_storage_gib <= 65536:
            raise SpecError(
                "database.allocated_storage_gib",
                (self.allocated_storage_gib, self.max_allocated_storage_gib),
                "need 20 <= allocated_storage_gib <= max_allocated_storage_gib <= 65536",
            )
        if not 1 <= self.backup_retention_days <= 35:
            raise SpecError(
                "database.backup_retention_days", self.backup_retention_days, "RDS keeps backups 1 to 35 days"
            )


# Names PostgreSQL or RDS already use, which the spec must not take for its own.
_RESERVED = frozenset(
    {"public", "postgres", "rds_iam", "rds_superuser", "rdsadmin", "pg_catalog", "information_schema"}
)

_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "gov": "g"}


def region_zone_prefix(region: str) -> str:
    """How zone ids abbreviate a region: ``us-east-1`` -> ``use1``, ``ap-northeast-1`` -> ``apne1``."""
    parts = region.split("-")
    middle = ""
    for part in parts[1:-1]:
        word = part
        for direction, letter in (("north", "n"), ("south", "s")):
            if word.startswith(direction) and word != direction:
                middle += letter
                word = word.removeprefix(direction)
        middle += _DIRECTIONS.get(word, word)
    return parts[0] + middle + parts[-1]


def check_pinned_image(field_name: str, image: str, *, digest: bool = False) -> None:
    """A public image reference with an explicit version tag (never ``latest``), and with
    ``digest`` also its content digest (``name:tag@sha256:...``), which no push can move."""
    match = _PINNED_IMAGE.match(image) if isinstance(image, str) else None
    if match is None or match["tag"] == "latest":
        raise SpecError(field_name, image, "must name an image pinned by version (registry/name:tag, not 'latest')")
    if digest and not match["digest"]:
        raise SpecError(field_name, image, "must also name the image's digest (registry/name:tag@sha256:...)")


def check_cidr(field_name: str, cidr: str) -> None:
    try:
        ipaddress.ip_network(cidr, strict=True)
    except (ValueError, TypeError) as error:
        raise SpecError(field_name, cidr, f"not an IPv4 or IPv6 network in CIDR form ({error})") from None


def check_fargate_size(field_name: str, cpu: int, memory_mib: int) -> None:
    memory_choices = FARGATE_SIZES.get(cpu)
    if memory_choices is None:
        raise SpecError(f"{field_name}.cpu", cpu, f"Fargate offers cpu {', '.join(str(c) for c in FARGATE_SIZES)}")
    if memory_mib not in memory_choices:
        raise SpecError(
            f"{field_name}.memory_mib",
            memory_mib,
            f"Fargate does not offer this memory with cpu {cpu} "
            f"(choose from {memory_choices[0]} to {memory_choices[-1]} "
            f"in steps of {memory_choices[1] - memory_choices[0]})",
        )


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


@dataclass(frozen=True, kw_only=True)
class DomainSpec:
    """The platform's own domain, served by CloudFront from a Route 53 public hosted zone you own.

    Viewers get an ACM certificate for it (TLS 1.2 or newer); CloudFront reaches the internal
    load balancer over HTTPS as ``origin.<name>``, with a certificate of its own."""

    name: str
    """The site's name (``davidshaevel.com``)."""
    hosted_zone_name: str
    """Name of the public hosted zone that holds ``name`` (``davidshaevel.com``)."""
    hosted_zone_id: str | None = None
    """Id of that zone (``Z0123456789ABC``). Synth makes no lookups, so it is given here or with
    ``-c hosted_zone_id=...``; a synth without either stops with one line."""
    www: bool = False
    """Serve ``www.<name>`` too: on the certificate, the distribution and alias records."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAMESPACE.match(self.name):
            raise SpecError("edge.domain.name", self.name, "not a DNS name")
        if not isinstance(self.hosted_zone_name, str) or not _NAMESPACE.match(self.hosted_zone_name):
            raise SpecError("edge.domain.hosted_zone_name", self.hosted_zone_name, "not a DNS name")
        if self.hosted_zone_id is not None:
            check_hosted_zone_id("edge.domain.hosted_zone_id", self.hosted_zone_id)
        if not (self.name == self.hosted_zone_name or self.name.endswith("." + self.hosted_zone_name)):
            raise SpecError("edge.domain.name", self.name, f"not inside the hosted zone {self.hosted_zone_name!r}")
        if self.www and self.name.startswith("www."):
            raise SpecError("edge.domain.www", self.www, f"{self.name} already starts with www.")

    @property
    def site_names(self) -> tuple[str, ...]:
        """The names viewers use: the domain, and ``www.`` where asked."""
        return (self.name, f"www.{self.name}") if self.www else (self.name,)

    @property
    def origin_name(self) -> str:
        """The name CloudFront reaches the load balancer by, which its certificate carries."""
        return f"{ORIGIN_LABEL}.{self.name}"


ORIGIN_LABEL = "origin"


def check_hosted_zone_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^Z[A-Z0-9]{1,31}$", value):
        raise SpecError(field, value, "not a Route 53 hosted zone id (Z followed by capitals and digits)")
    return value


@dataclass(frozen=True, kw_only=True)
class EdgeSpec:
    """How viewers reach the platform: CloudFront, through a VPC origin, to the internal load balancer."""

    origin_facing_prefix_list: str = "pl-3b927c52"
    """Id of ``com.amazonaws.global.cloudfront.origin-facing`` in the region (us-east-1's by default):
    the only source the load balancer admits. ``aws ec2 describe-managed-prefix-lists`` shows it."""
    domain: DomainSpec | None = None
    """The platform's own domain; ``None`` serves on the distribution's cloudfront.net name, with
    CloudFront's default certificate and plain HTTP from CloudFront to the load balancer inside
    the VPC. Production profiles must name one."""
    managed_rules: bool = False
    """Add AWS's common rule set and IP reputation list to the web ACL. Every profile has the
    web ACL, with a rate rule, the known-bad-inputs group (Log4j) and, where Grafana runs,
    Grafana's allow-list."""
    requests_per_5_minutes: int = 2000
    """Requests one address may make in five minutes before the rate rule blocks it."""

    @property
    def origin_https(self) -> bool:
        """CloudFront reaches the load balancer over HTTPS: only with a domain, whose name the
        load balancer's certificate can carry."""
        return self.domain is not None

    @property
    def origin_port(self) -> int:
        """The load balancer's listener for CloudFront: 443 with a domain, 80 without."""
        return HTTPS_PORT if self.origin_https else HTTP_PORT

    def __post_init__(self) -> None:
        if not 10 <= self.requests_per_5_minutes <= 2_000_000_000:
            raise SpecError(
                "edge.requests_per_5_minutes",
                self.requests_per_5_minutes,
                "must be from 10 to 2000000000 (WAF's bounds)",
            )
        if not isinstance(self.origin_facing_prefix_list, str) or not _PREFIX_LIST.match(
            self.origin_facing_prefix_list
        ):
            raise SpecError("edge.origin_facing_prefix_list", self.origin_facing_prefix_list, "not a prefix list id")


@dataclass(frozen=True, kw_only=True)
class DeliverySpec:
    """The deployment state machine: migrations, rolling update, smoke tests."""

    migrations_service: str = "backend"
    """Service whose image and database access the migrations task uses."""
    migrate_command: tuple[str, ...] = ("node", "scripts/run-migrations.js")
    api_service: str = "backend"
    """Service the smoke tests reach as ``API_URL`` (its Cloud Map URL)."""
    smoke_test_service: str = "frontend"
    """Service whose image the smoke-test task runs (in a security group of its own that may
    reach the API service and, for the public URL, the internet)."""
    smoke_test_command: tuple[str, ...] = ("npm", "run", "test:e2e")
    rollout_poll_seconds: int = 15
    """How often the release asks CloudFormation and ECS how the update is going."""
    rollout_max_polls: int = 80
    """Polls before an update counts as stuck (80 x 15 s = 20 minutes); it is then cancelled."""
    task_timeout_minutes: int = 30
    """Longest a migrations or smoke-test task may run before the release fails."""
    release_timeout_minutes: int = 150
    """Longest a whole release may take, roll-back included."""

    def __post_init__(self) -> None:
        for name in ("migrate_command", "smoke_test_command"):
            command = getattr(self, name)
            if not command or not all(isinstance(part, str) and part for part in command):
                raise SpecError(f"delivery.{name}", command, "must be a non-empty list of non-empty strings")
        if not 5 <= self.rollout_poll_seconds <= 300:
            raise SpecError("delivery.rollout_poll_seconds", self.rollout_poll_seconds, "must be from 5 to 300")
        if not 1 <= self.rollout_max_polls <= 500:
            raise SpecError("delivery.rollout_max_polls", self.rollout_max_polls, "must be from 1 to 500")
        if not 1 <= self.task_timeout_minutes <= 240:
            raise SpecError("delivery.task_timeout_minutes", self.task_timeout_minutes, "must be from 1 to 240")
        # Two one-off tasks, then at worst an update, its cancellation and a restore, each polled to the limit.
        needed = 2 * self.task_timeout_minutes + -(-3 * self.rollout_max_polls * self.rollout_poll_seconds // 60)
        if not needed <= self.release_timeout_minutes <= 24 * 60:
            raise SpecError(
                "delivery.release_timeout_minutes",
                self.release_timeout_minutes,
                f"must be from {needed} (two tasks and three polled updates) to 1440",
            )


@dataclass(frozen=True, kw_only=True)
class PlatformSpec:
    """The whole platform for one environment (a profile)."""

    project: str
    """Project name: the second part of every stack name (``davidshaevel``)."""
    environment: str
    """Environment name: the first part of every stack name (``dev``)."""
    account: str | None
    """AWS account to pin the stacks to; ``None`` keeps them environment-agnostic."""
    region: str
    """AWS region of the stacks. Needed at synth: load balancer access logging and
    the CloudFront web ACL depend on it. No lookup is made with it."""
    network: NetworkSpec
    namespace: str
    """Cloud Map private DNS namespace (``davidshaevel.local``)."""
    services: tuple[ServiceSpec, ...]
    database: DatabaseSpec = field(default_factory=DatabaseSpec)
    prometheus: PrometheusSpec = field(default_factory=PrometheusSpec)
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    grafana: GrafanaSpec | None = None
    """Grafana, or ``None`` to run without it."""
    helper_images: HelperImagesSpec = field(default_factory=HelperImagesSpec)
    alarm_email: str | None = None
    """Address subscribed to the alarm topic; ``None`` leaves subscriptions to the operator."""
    edge: EdgeSpec = field(default_factory=EdgeSpec)
    fargate_spot: bool = False
    """Run application tasks on Fargate Spot (interruptible, about 70% cheaper)."""
    production: bool = False
    """Production profiles must keep data safe: Multi-AZ, deletion protection, NAT per zone."""
    log_retention_days: int = 30
    """How long CloudWatch keeps the platform's logs."""
    access_log_retention_days: int = 90
    """How long the log bucket keeps load balancer, CloudFront and S3 access logs."""
    backup_retention_days: int = 7
    """How long AWS Backup keeps each daily backup of the database and file system."""
    images_kept: int = 10
    """Unreleased images each ECR repository keeps; older ones expire."""
    releases_kept: int = 10
    """Released images each repository keeps (tagged ``release-...`` by the release): what runs
    and what a roll-back may return to never expires."""

    def __post_init__(self) -> None:
        if not isinstance(self.project, str) or not _PROJECT_NAME.match(self.project):
            raise SpecError(
                "project",
                self.project,
                "must be 3-32 lowercase letters, digits or '-', starting with a letter",
            )
        if (
            not isinstance(self.environment, str)
            or not _DNS_LABEL.match(self.environment)
            or len(self.environment) > 16
        ):
            raise SpecError(
                "environment",
                self.environment,
                "must be up to 16 lowercase letters, digits or '-', starting with a letter",
            )
        if self.account is not None and not _ACCOUNT.match(self.account):
            raise SpecError("account", self.account, "must be a 12-digit AWS account id")
        if not isinstance(self.region, str) or not _REGION.match(self.region):
            raise SpecError("region", self.region, "not an AWS region name")
        if not isinstance(self.namespace, str) or not _NAMESPACE.match(self.namespace):
            raise SpecError("namespace", self.namespace, "must be a DNS name such as 'example.local'")
        check_log_retention("log_retention_days", self.log_retention_days)
        if not 1 <= self.access_log_retention_days <= 3650:
            raise SpecError("access_log_retention_days", self.access_log_retention_days, "must be from 1 to 3650")
        if not 1 <= self.backup_retention_days <= 3650:
            raise SpecError("backup_retention_days", self.backup_retention_days, "must be from 1 to 3650")
        if not 1 <= self.images_kept <= 1000:
            raise SpecError("images_kept", self.images_kept, "must be from 1 to 1000")
        if not 2 <= self.releases_kept <= 1000:
            raise SpecError(
                "releases_kept", self.releases_kept, "must be from 2 to 1000 (what runs and one to roll back to)"
            )
        self._check_placement()
        if self.alarm_email is not None and not _EMAIL.match(self.alarm_email):
            raise SpecError("alarm_email", self.alarm_email, "not an email address")
        self._check_services()
        if self.production:
            self._check_production()

    def _check_placement(self) -> None:
        if self.region != "us-east-1":
            raise SpecError(
                "region",
                self.region,
                "the stacks deploy to us-east-1: CloudFront's web ACL (every profile has one) "
                "and certificate live there",
            )
        for zone_id in self.network.zone_ids:
            if not zone_id.startswith(region_zone_prefix(self.region) + "-"):
                raise SpecError("network.zone_ids", zone_id, f"not a zone of {self.region}")

    def _check_production(self) -> None:
        if self.edge.domain is None:
            raise SpecError(
                "edge.domain",
                None,
                "production serves its own domain over TLS 1.2 or newer: name it and its Route 53 hosted zone "
                "(DomainSpec)",
            )
        if not self.database.multi_az:
            raise SpecError("database.multi_az", self.database.multi_az, "production needs a Multi-AZ database")
        if not self.database.deletion_protection:
            raise SpecError(
                "database.deletion_protection",
                self.database.deletion_protection,
                "production needs deletion protection",
            )
        if self.network.nat != "gateway":
            raise SpecError("network.nat", self.network.nat, "production needs managed NAT gateways")
        if self.network.nat_gateways != self.network.max_azs:
            raise SpecError(
                "network.nat_gateways",
                self.network.nat_gateways,
                f"production needs a NAT gateway in each of its {self.network.max_azs} zones",
            )

    def _platform_ports(self) -> dict[int, str]:
        """Ports of the platform's own tasks, each owner named, for the uniqueness check."""
        ports: dict[int, str] = {self.prometheus.port: "prometheus.port"}
        if self.grafana is not None:
            if self.grafana.port in ports:
                raise SpecError("grafana.port", self.grafana.port, f"port already used by {ports[self.grafana.port]}")
            ports[self.grafana.port] = "grafana.port"
        return ports

    def _check_services(self) -> None:
        if not self.services:
            raise SpecError("services", self.services, "the platform needs at least one service")
        names: set[str] = set()
        containers: set[str] = set()
        ports = self._platform_ports()
        routes: dict[str | None, str] = {}
        for service in self.services:
            where = f"services[{service.name}]"
            if service.name in names:
                raise SpecError("services[].name", service.name, "service name used twice")
            if service.name in (self.prometheus.name, GrafanaSpec.name):
                raise SpecError("services[].name", service.name, "name taken by the platform's own service")
            names.add(service.name)
            if service.container_name in containers:
                raise SpecError(f"{where}.container_name", service.container_name, "container name used twice")
            containers.add(service.container_name)
            if service.container_port in ports:
                raise SpecError(
                    f"{where}.container_port",
                    service.container_port,
                    f"port already used by {ports[service.container_port]}",
                )
            ports[service.container_port] = f"{where}.container_port"
            if service.route in routes:
                what = "the default route" if service.route is None else "route"
                raise SpecError(f"{where}.route", service.route, f"{what} already taken by {routes[service.route]}")
            routes[service.route] = where
        self._check_routes(routes)
        for service in self.services:
            for callee in service.calls:
                if callee not in names:
                    raise SpecError(f"services[{service.name}].calls", callee, "no service by that name")
        self._check_delivery(names)
        for user in self.database_users():
            if user == self.database.migrator_user or user in _RESERVED:
                raise SpecError("services[].name", user, "that database user name is taken (migrator or PostgreSQL's)")

    def _check_delivery(self, names: set[str]) -> None:
        delivery = self.delivery
        for field_name in ("migrations_service", "api_service", "smoke_test_service"):
            if getattr(delivery, field_name) not in names:
                raise SpecError(f"delivery.{field_name}", getattr(delivery, field_name), "no service by that name")
        if not self.service(delivery.migrations_service).uses_database:
            raise SpecError(
                "delivery.migrations_service", delivery.migrations_service, "that service does not use the database"
            )

    @property
    def stack_prefix(self) -> str:
        """``dev-davidshaevel``: the seeds' naming, shared by stacks and resources."""
        return stack_prefix(self.environment, self.project)

    def stack_name(self, layer: str) -> str:
        """``dev-davidshaevel-compute``: this profile's stack of ``layer`` (``spec.names.LAYERS``)."""
        return stack_name(self.stack_prefix, layer)

    @property
    def release_state_machine_name(self) -> str:
        """``dev-davidshaevel-release``: see ``spec.names.release_state_machine_name``."""
        return release_state_machine_name(self.stack_prefix)

    @property
    def database_identifier(self) -> str:
        """``dev-davidshaevel-postgres``: the RDS instance's fixed name, which alarms name literally."""
        return f"{self.stack_prefix}-postgres"

    def config_bucket_name(self, account: str) -> str:
        """``dev-davidshaevel-config-<account>-<region>``: the configuration bucket, named (bucket
        names are global, hence the account) so the network stack's S3 endpoint policy can name
        it. ``account`` is the spec's, or the deploy's (``Aws.ACCOUNT_ID``) when it names none."""
        return f"{self.stack_prefix}-config-{self.account or account}-{self.region}"

    @property
    def cluster_name(self) -> str:
        """``dev-davidshaevel-cluster``, as in the seeds. A fixed name, so the stacks that run
        tasks in it and the verify command name it literally instead of reading an output."""
        return f"{self.stack_prefix}-cluster"

    def _check_routes(self, routes: dict[str | None, str]) -> None:
        if self.grafana is not None and any(r is not None and r.startswith(self.grafana.route) for r in routes):
            raise SpecError("grafana.route", self.grafana.route, "a service's route already uses this path")
        if None not in routes:
            raise SpecError(
                "services[].route",
                tuple(s.route for s in self.services),
                "one service must take the load balancer's default route (route None)",
            )

    @property
    def exec_log_group_name(self) -> str:
        """Where ECS Exec sessions are logged. A fixed name, kept in the data stack, so every
        stack can name it literally and task-role policies read the same in each."""
        return f"/{self.project}/{self.environment}/ecs-exec-sessions"

    @property
    def prometheus_url(self) -> str:
        """How Grafana and one-off tasks reach Prometheus: its Cloud Map name and port."""
        return f"http://{self.prometheus.name}.{self.namespace}:{self.prometheus.port}"

    def edge_internal_paths(self) -> tuple[str, ...]:
        """Paths the edge answers 404 to: every service's metrics path and its internal paths."""
        paths = [p for s in self.services for p in (s.metrics_path, *s.internal_paths)]
        return tuple(dict.fromkeys(paths))

    def service_url(self, service: ServiceSpec) -> str:
        """How other tasks call the service: its Cloud Map name and container port."""
        return f"http://{self.dns_name(service)}:{service.container_port}"

    def service(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def database_users(self) -> tuple[str, ...]:
        """The services' own database users (IAM authentication, data rights in the schema)."""
        return tuple(s.database_user for s in self.services if s.uses_database)

    def dns_name(self, service: ServiceSpec) -> str:
        """The Cloud Map name other tasks resolve (``backend.davidshaevel.local``)."""
        return f"{service.name}.{self.namespace}"
