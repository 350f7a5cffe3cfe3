"""Every network path the platform needs, derived from the spec.

The network stack turns each path into exactly one ingress rule on the
destination's security group and one egress rule on the source's; the
reachability check compares the synthesized rules against the same list.
Adding a service, a call between services or a port change therefore moves
every rule that involves it, and nothing else has to be edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_spec.checks import HTTPS_PORT, NFS_PORT
from platform_spec.names import TARGETS_PROBE
from platform_spec.platform import PlatformSpec
from platform_spec.secrets import ParameterStoreSecret, SecretsManagerSecret
from platform_spec.services import ServiceSpec

LOAD_BALANCER = "load-balancer"
PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
DATABASE = "database"
FILE_SYSTEM = "file-system"
GRAFANA = "grafana"
# The one-off task that creates the database users with the master credentials.
DATABASE_BOOTSTRAP = "database-bootstrap"
# The release's smoke tests: they call the API service and the public URL.
SMOKE_TESTS = "smoke-tests"
# The interface VPC endpoints' network interfaces, where the network has them.
ENDPOINTS = "interface-endpoints"


def service_peer(service: ServiceSpec) -> str:
    """The security-group key of an application service."""
    return f"service-{service.name}"


def peers(spec: PlatformSpec) -> tuple[str, ...]:
    """Every party that owns a security group, in a stable order."""
    grafana = (GRAFANA,) if spec.grafana else ()
    endpoints = (ENDPOINTS,) if spec.network.interface_endpoints else ()
    return (
        LOAD_BALANCER,
        *(service_peer(s) for s in spec.services),
        PROMETHEUS,
        ALERTMANAGER,
        *grafana,
        TARGETS_PROBE,
        SMOKE_TESTS,
        DATABASE_BOOTSTRAP,
        DATABASE,
        FILE_SYSTEM,
        *endpoints,
    )


def task_peers(spec: PlatformSpec) -> tuple[str, ...]:
    """The parties that run as Fargate tasks: they pull images and call AWS APIs over HTTPS."""
    grafana = (GRAFANA,) if spec.grafana else ()
    return (
        *(service_peer(s) for s in spec.services),
        PROMETHEUS,
        ALERTMANAGER,
        *grafana,
        TARGETS_PROBE,
        SMOKE_TESTS,
        DATABASE_BOOTSTRAP,
    )


def enclosed_services(spec: PlatformSpec) -> tuple[ServiceSpec, ...]:
    """The application services whose HTTPS egress ends at the VPC endpoints and S3: all
    that do not reach the internet themselves, where the network has interface endpoints.
    Their images come from ECR, so nothing they start needs a public registry."""
    if not spec.network.interface_endpoints:
        return ()
    return tuple(s for s in spec.services if not s.reaches_internet)


def _cached(spec: PlatformSpec, *images: str) -> bool:
    return all(spec.image_mirror.registry(image) is not None for image in images)


def enclosed_platform_tasks(spec: PlatformSpec) -> tuple[str, ...]:
    """The platform's own task parties whose HTTPS egress ends at the VPC endpoints and S3, where
    the network has interface endpoints: every image they run comes through the data stack's
    pull-through cache, and they call nothing else outside the VPC. The database bootstrap (the
    master secret through the Secrets Manager endpoint, then only the database), the targets probe,
    and Prometheus unless it remote-writes (no endpoint for that here). Alertmanager publishes to
    SNS and Grafana's image is on Docker Hub: they keep their way out, as do the smoke tests, which
    call the public URL."""
    if not spec.network.interface_endpoints:
        return ()
    helpers, prometheus = spec.helper_images, spec.prometheus
    candidates = (
        (PROMETHEUS, (prometheus.image, helpers.config_loader, helpers.volume_owner), not prometheus.remote_write),
        (TARGETS_PROBE, (prometheus.image, helpers.volume_owner), True),
        (DATABASE_BOOTSTRAP, (helpers.database_client, helpers.volume_owner), True),
    )
    return tuple(peer for peer, images, alone in candidates if alone and _cached(spec, *images))


def enclosed_peers(spec: PlatformSpec) -> tuple[str, ...]:
    """Every task party whose HTTPS egress ends at the endpoints and S3."""
    return (*(service_peer(s) for s in enclosed_services(spec)), *enclosed_platform_tasks(spec))


def endpoint_services(spec: PlatformSpec) -> tuple[str, ...]:
    """The AWS services an enclosed task reaches as it starts and runs, each an interface
    endpoint (``com.amazonaws.<region>.<name>``): ECR's API and registry for the image,
    CloudWatch Logs for the awslogs driver, Secrets Manager and SSM where its secrets are (ECS
    reads them over the task's own network as the container starts), and, where ECS Exec is on,
    SSM messages for the session and KMS for its encryption key (Amazon ECS developer guide,
    "Migrating to Linux platform version 1.4.0", "Amazon ECS interface VPC endpoints" and "Monitor
    Amazon ECS containers with ECS Exec"). S3, for image layers and configuration, goes through
    the gateway endpoint."""
    if not spec.network.interface_endpoints:
        return ()
    enclosed = enclosed_services(spec)
    platform_tasks = enclosed_platform_tasks(spec)
    secrets = [secret for service in enclosed for secret in service.secrets.values()]
    # The bootstrap reads the master secret from Secrets Manager as it starts.
    master_secret = DATABASE_BOOTSTRAP in platform_tasks
    stores = [
        name
        for name, kind in (("secretsmanager", SecretsManagerSecret), ("ssm", ParameterStoreSecret))
        if any(isinstance(secret, kind) for secret in secrets) or (name == "secretsmanager" and master_secret)
    ]
    exec_on = (
        ("ssmmessages", "kms")
        if any(s.ecs_exec for s in enclosed) or (PROMETHEUS in platform_tasks and spec.prometheus.ecs_exec)
        else ()
    )
    return ("ecr.api", "ecr.dkr", "logs", *stores, *exec_on)


def internet_peers(spec: PlatformSpec) -> tuple[str, ...]:
    """The task parties that keep HTTPS egress to any address: every task where the network has
    no interface endpoints (ECR, CloudWatch Logs and Secrets Manager through the NAT, which have no
    fixed addresses), and elsewhere those that pull an image ECR does not cache (Grafana) or call
    the internet or a service without an endpoint themselves (the smoke tests, Alertmanager's SNS)."""
    enclosed = set(enclosed_peers(spec))
    return tuple(peer for peer in task_peers(spec) if peer not in enclosed)


@dataclass(frozen=True, kw_only=True)
class NetworkPath:
    """``source`` opens TCP connections to ``destination`` on ``port``."""

    source: str
    destination: str
    port: int
    purpose: str

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.destination}:{self.port}"


def required_paths(spec: PlatformSpec) -> tuple[NetworkPath, ...]:
    paths: list[NetworkPath] = []
    for service in spec.services:
        if service.is_public:
            paths.append(
                NetworkPath(
                    source=LOAD_BALANCER,
                    destination=service_peer(service),
                    port=service.port,
                    purpose=f"load balancer forwards to {service.name}",
                )
            )
        if service.scraped:
            paths.append(
                NetworkPath(
                    source=PROMETHEUS,
                    destination=service_peer(service),
                    port=service.port,
                    purpose=f"prometheus scrapes {service.name} {service.metrics_path}",
                )
            )
        for callee_name in service.calls:
            callee = spec.service(callee_name)
            paths.append(
                NetworkPath(
                    source=service_peer(service),
                    destination=service_peer(callee),
                    port=callee.port,
                    purpose=f"{service.name} calls {callee.name}",
                )
            )
        if service.uses_database:
            paths.append(
                NetworkPath(
                    source=service_peer(service),
                    destination=DATABASE,
                    port=spec.database.port,
                    purpose=f"{service.name} connects to PostgreSQL",
                )
            )
    api = spec.service(spec.delivery.api_service)
    paths.append(
        NetworkPath(
            source=SMOKE_TESTS,
            destination=service_peer(api),
            port=api.port,
            purpose=f"the smoke tests call {api.name}",
        )
    )
    if spec.grafana is not None:
        paths.append(
            NetworkPath(
                source=LOAD_BALANCER,
                destination=GRAFANA,
                port=spec.grafana.port,
                purpose=f"load balancer forwards {spec.grafana.route} to grafana",
            )
        )
        paths.append(
            NetworkPath(
                source=GRAFANA,
                destination=PROMETHEUS,
                port=spec.prometheus.port,
                purpose="grafana queries prometheus",
            )
        )
    paths.append(
        NetworkPath(
            source=DATABASE_BOOTSTRAP,
            destination=DATABASE,
            port=spec.database.port,
            purpose="the bootstrap creates the database users",
        )
    )
    paths.append(
        NetworkPath(
            source=TARGETS_PROBE,
            destination=PROMETHEUS,
            port=spec.prometheus.port,
            purpose="verify reads prometheus's targets",
        )
    )
    paths.append(
        NetworkPath(
            source=PROMETHEUS,
            destination=ALERTMANAGER,
            port=spec.alertmanager.port,
            purpose="prometheus sends alerts to alertmanager and scrapes it",
        )
    )
    paths.append(
        NetworkPath(
            source=PROMETHEUS,
            destination=FILE_SYSTEM,
            port=NFS_PORT,
            purpose="prometheus mounts its TSDB volume",
        )
    )
    if spec.network.interface_endpoints:
        # Private DNS sends every task's calls to these services to the endpoints,
        # not just the enclosed tasks'.
        paths.extend(
            NetworkPath(
                source=peer,
                destination=ENDPOINTS,
                port=HTTPS_PORT,
                purpose=f"{peer} reaches {', '.join(endpoint_services(spec))} through the VPC endpoints",
            )
            for peer in task_peers(spec)
        )
    return tuple(paths)
