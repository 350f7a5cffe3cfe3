"""The application services: what each runs, how it is reached, and what it is given.

Three kinds (``ServiceSpec.kind``):

- ``public``: behind the load balancer and CloudFront on a route of its own (or the default
  route), and reachable inside the VPC by the services that call it;
- ``internal``: reachable only inside the VPC, by its Cloud Map name, from the services that name
  it in ``calls``; no route, no load-balancer target group;
- ``worker``: nothing calls it. With a port it serves only its health and metrics (to
  Prometheus); without one it has no inbound rule at all and is not scraped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from platform_spec.checks import (
    CONTAINER_NAME_PATTERN,
    DNS_LABEL_PATTERN,
    Architecture,
    check_fargate_size,
    check_image_tag,
    check_port,
    check_url_path,
)
from platform_spec.errors import SpecError
from platform_spec.objectives import DEFAULT_OBJECTIVES, ObjectivesSpec
from platform_spec.rollouts import Rollout, check_rollout
from platform_spec.secrets import Secret, frozen_secrets, frozen_settings
from platform_spec.sizing import DEFAULT_IDLE_MINUTES, check_sizing
from platform_spec.workloads import NODE_USER, ContainerUser

ServiceKind = Literal["public", "internal", "worker"]
PUBLIC: ServiceKind = "public"
INTERNAL: ServiceKind = "internal"
WORKER: ServiceKind = "worker"
SERVICE_KINDS: tuple[ServiceKind, ...] = (PUBLIC, INTERNAL, WORKER)

HealthCheckTool = Literal["node", "wget", "curl"]
HEALTH_CHECK_TOOLS: tuple[HealthCheckTool, ...] = ("node", "wget", "curl")
HealthCheck = HealthCheckTool | tuple[str, ...]
"""What runs the container health check inside the image: a tool the image has, which asks
``health_check_path`` on the loopback address, or a command of the image's own (exec form) that
exits 0 when the service is healthy."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """One containerised application service of the platform."""

    name: str
    """Cloud Map name and the stem of every resource name (``backend``)."""
    container_name: str
    """Name of the application container in the task (``backend``)."""
    cpu: int
    """Fargate CPU units for the task."""
    memory_mib: int
    """Fargate memory for the task, in MiB."""
    min_tasks: int
    """Fewest running tasks autoscaling keeps. ``0``: none while idle; a request wakes it, and it
    sleeps again after ``idle_minutes`` without one (``platform_spec/sizing.py`` says where)."""
    max_tasks: int
    """Most running tasks autoscaling allows."""
    ecs_exec: bool
    """Whether operators may open a shell in the task with ECS Exec."""
    initial_image_tag: str
    """The tag a first deploy runs: the default of the service's image-tag stack parameter.
    Releases change that parameter (the deployment state machine); a deploy keeps it."""
    kind: ServiceKind = PUBLIC
    """``public``, ``internal`` or ``worker`` (this module's docstring)."""
    container_port: int | None = None
    """Port the container listens on; every rule, registration and check uses it. Public and
    internal services need one; a worker has one only to serve its health and metrics."""
    health_check_path: str | None = None
    """HTTP path that answers 200 when the service is healthy. Needed with a port, but by a
    worker, whose health check may be a command (``health_check``) or none."""
    metrics_path: str | None = None
    """HTTP path Prometheus scrapes. Public and internal services are always scraped; a worker
    is scraped where it names one (and a port)."""
    route: str | None = None
    """A public service's load-balancer path pattern (``/api/*``); ``None`` makes it the default
    route, which exactly one public service takes. Others have no route."""
    health_check: HealthCheck = "node"
    """What the container health check runs in the image: ``node`` (Node's ``http`` module, the
    default, for node images), ``wget`` (busybox and Alpine images), ``curl``, or a command of
    the image's own such as ``("/app/healthcheck",)``. A tool asks ``health_check_path`` on
    127.0.0.1; without that path, only a command gives the container a health check."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables for the app (``{"HOSTNAME": "0.0.0.0"}``), written into the
    task definition: never put a secret here."""
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    """Environment variables read from Secrets Manager or SSM Parameter Store as the task starts,
    through the task's execution role, which may read exactly these."""
    calls: tuple[str, ...] = ()
    """Names of the services this one sends requests to."""
    uses_database: bool = False
    """Whether the service connects to PostgreSQL."""
    architecture: Architecture = "ARM64"
    """CPU architecture of the image and the task."""
    internal_paths: tuple[str, ...] = ()
    """Paths of a public service the edge answers 404 to, besides ``metrics_path`` (always
    internal): reachable only inside the VPC. A path ending in ``/*`` hides everything under it."""
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
    idle_minutes: int = DEFAULT_IDLE_MINUTES
    """With ``min_tasks = 0``: minutes without a request before it goes back to no task."""
    scale_at_cpu_percent: int = 60
    """Average CPU utilisation autoscaling holds the service at."""
    scale_at_requests_per_task: int = 1000
    """Load-balancer requests per task per minute autoscaling holds a public service at. Measure
    yours: the shipped profiles derive theirs from the reference services' (docs/benchmarks.md)."""
    objectives: ObjectivesSpec | None = DEFAULT_OBJECTIVES
    """What it promises its callers (``platform_spec/objectives.py``): its rules, alerts and
    dashboard follow from them. ``None``: none (a worker answers no requests, and has none)."""
    rollout: Rollout | None = None
    """How a release reaches its traffic (``platform_spec/rollouts.py``): ``Rolling()``, ``Canary(...)``,
    ``Linear(...)`` or ``BlueGreen(...)``. ``None``: the profile's ``default_rollout`` for a public
    service, ``Rolling()`` for the others (only the load balancer's traffic can be shifted)."""

    def __post_init__(self) -> None:
        self._check_names()
        object.__setattr__(self, "settings", frozen_settings(f"{self._where}.settings", self.settings))
        object.__setattr__(self, "secrets", frozen_secrets(f"{self._where}.secrets", self.secrets))
        both = sorted(set(self.settings) & set(self.secrets))
        if both:
            raise SpecError(f"{self._where}.secrets", both[0], "also a setting: a variable has one source")
        self._check_kind()
        self._check_endpoints()
        self._check_sizing()
        self._check_relations()
        if self.rollout is not None:
            check_rollout(f"{self._where}.rollout", self.rollout, public=self.is_public)

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

    def _check_kind(self) -> None:
        where = self._where
        if self.kind not in SERVICE_KINDS:
            raise SpecError(f"{where}.kind", self.kind, f"must be one of {', '.join(SERVICE_KINDS)}")
        if self.kind != WORKER:
            for name in ("container_port", "health_check_path", "metrics_path"):
                if getattr(self, name) is None:
                    article = "an" if self.kind == INTERNAL else "a"
                    raise SpecError(f"{where}.{name}", None, f"{article} {self.kind} service needs one")
        elif self.container_port is None and (self.metrics_path or self.health_check_path):
            raise SpecError(
                f"{where}.container_port", None, "a worker that serves health or metrics paths needs their port"
            )
        elif self.container_port is not None and self.metrics_path is None and self.health_check_path is None:
            raise SpecError(
                f"{where}.container_port",
                self.container_port,
                "a worker's port serves only its health and metrics paths: name one, or drop the port",
            )
        if self.kind == WORKER and self.objectives is DEFAULT_OBJECTIVES:
            object.__setattr__(self, "objectives", None)
        elif self.kind == WORKER and self.objectives is not None:
            raise SpecError(f"{where}.objectives", self.objectives, "a worker answers no requests to hold them to")
        if self.objectives is not None and not isinstance(self.objectives, ObjectivesSpec):
            raise SpecError(f"{where}.objectives", self.objectives, "must be an ObjectivesSpec(...) or None")
        if self.kind != PUBLIC:
            for name, empty in (("route", None), ("internal_paths", ())):
                if getattr(self, name) != empty:
                    raise SpecError(f"{where}.{name}", getattr(self, name), "only a public service is at the edge")

    def _check_endpoints(self) -> None:
        where = self._where
        if self.container_port is not None:
            check_port(f"{where}.container_port", self.container_port)
        for name in ("health_check_path", "metrics_path"):
            if getattr(self, name) is not None:
                check_url_path(f"{where}.{name}", getattr(self, name))
        if self.route is not None:
            check_url_path(f"{where}.route", self.route)
            if not self.route.endswith("/*") or "*" in self.route[:-1]:
                raise SpecError(
                    f"{where}.route",
                    self.route,
                    f"a route names what is under a path, such as '{self.route.rstrip('/*') or '/app'}/*' "
                    "(the load balancer would match exactly one path otherwise)",
                )
        for path in self.writable_paths:
            check_url_path(f"{where}.writable_paths", path)
        for path in self.internal_paths:
            check_url_path(f"{where}.internal_paths", path)
            if "*" in path.removesuffix("/*"):
                raise SpecError(f"{where}.internal_paths", path, "'*' may only end a path, as '/*'")
        self._check_health_check()

    def _check_health_check(self) -> None:
        check = self.health_check
        if isinstance(check, tuple):
            if not check or not all(isinstance(part, str) and part for part in check):
                raise SpecError(
                    f"{self._where}.health_check", check, "a command is a non-empty tuple of non-empty strings"
                )
        elif check not in HEALTH_CHECK_TOOLS:
            raise SpecError(
                f"{self._where}.health_check",
                check,
                f"name the image's tool ({', '.join(HEALTH_CHECK_TOOLS)}) or give a command as a tuple",
            )

    def _check_sizing(self) -> None:
        check_fargate_size(self._where, self.cpu, self.memory_mib)
        check_sizing(self)
        if self.architecture not in ("ARM64", "X86_64"):
            raise SpecError(f"{self._where}.architecture", self.architecture, "must be ARM64 or X86_64")

    def _check_relations(self) -> None:
        where = self._where
        for name in ("ecs_exec", "reaches_internet", "uses_database"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{where}.{name}", getattr(self, name), "must be true or false")
        if self.name in self.calls:
            raise SpecError(f"{where}.calls", self.calls, "a service does not call itself")
        if len(set(self.calls)) != len(self.calls):
            raise SpecError(f"{where}.calls", self.calls, "a service is named twice")

    # --- What follows from the kind -----------------------------------------------------------

    @property
    def is_public(self) -> bool:
        """Behind the load balancer and the edge."""
        return self.kind == PUBLIC

    @property
    def port(self) -> int:
        """The container port, for a service that has one (``has_port``)."""
        if self.container_port is None:
            raise ValueError(f"service {self.name} has no port")
        return self.container_port

    @property
    def has_port(self) -> bool:
        """Listens on a port: registered in Cloud Map (A and SRV), reachable by its callers or Prometheus."""
        return self.container_port is not None

    @property
    def scraped(self) -> bool:
        """Prometheus discovers it through its SRV record and scrapes ``metrics_path``."""
        return self.container_port is not None and self.metrics_path is not None

    @property
    def can_be_called(self) -> bool:
        """Other services may name it in ``calls``: public and internal services."""
        return self.kind != WORKER

    @property
    def database_user(self) -> str:
        """The PostgreSQL user the service signs in as with IAM authentication."""
        return self.name.replace("-", "_")

    @property
    def url_variable(self) -> str:
        """``BACKEND_URL``: the environment variable its callers read its URL from."""
        return f"{self.name.upper().replace('-', '_')}_URL"
