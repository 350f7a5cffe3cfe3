"""The whole platform for one environment: every part, and the names derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from platform_spec.checks import (
    ACCOUNT_PATTERN,
    DNS_LABEL_PATTERN,
    EMAIL_PATTERN,
    NAMESPACE_PATTERN,
    PROJECT_NAME_PATTERN,
    REGION_PATTERN,
    RESERVED_NAMES,
    check_log_retention,
    region_zone_prefix,
)
from platform_spec.database import (
    DatabaseSpec,
)
from platform_spec.delivery import (
    DeliverySpec,
)
from platform_spec.edge import (
    EdgeSpec,
)
from platform_spec.errors import SpecError
from platform_spec.names import release_state_machine_name, stack_name, stack_prefix
from platform_spec.network import (
    NetworkSpec,
)
from platform_spec.workloads import (
    GrafanaSpec,
    HelperImagesSpec,
    PrometheusSpec,
    ServiceSpec,
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
        if not isinstance(self.project, str) or not PROJECT_NAME_PATTERN.match(self.project):
            raise SpecError(
                "project",
                self.project,
                "must be 3-32 lowercase letters, digits or '-', starting with a letter",
            )
        if (
            not isinstance(self.environment, str)
            or not DNS_LABEL_PATTERN.match(self.environment)
            or len(self.environment) > 16
        ):
            raise SpecError(
                "environment",
                self.environment,
                "must be up to 16 lowercase letters, digits or '-', starting with a letter",
            )
        if self.account is not None and not ACCOUNT_PATTERN.match(self.account):
            raise SpecError("account", self.account, "must be a 12-digit AWS account id")
        if not isinstance(self.region, str) or not REGION_PATTERN.match(self.region):
            raise SpecError("region", self.region, "not an AWS region name")
        if not isinstance(self.namespace, str) or not NAMESPACE_PATTERN.match(self.namespace):
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
        if self.alarm_email is not None and not EMAIL_PATTERN.match(self.alarm_email):
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
            if user == self.database.migrator_user or user in RESERVED_NAMES:
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
        """``dev-davidshaevel``: the original platform's naming, shared by stacks and resources."""
        return stack_prefix(self.environment, self.project)

    def stack_name(self, layer: str) -> str:
        """``dev-davidshaevel-compute``: this profile's stack of ``layer`` (``platform_spec.names.LAYERS``)."""
        return stack_name(self.stack_prefix, layer)

    @property
    def release_state_machine_name(self) -> str:
        """``dev-davidshaevel-release``: see ``platform_spec.names.release_state_machine_name``."""
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
        """``dev-davidshaevel-cluster``, as in the original platform. A fixed name, so the stacks that run
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
