"""Every network path the platform needs, derived from the spec.

The network stack turns each path into exactly one ingress rule on the
destination's security group and one egress rule on the source's; the
reachability check compares the synthesized rules against the same list.
Adding a service, a call between services or a port change therefore moves
every rule that involves it, and nothing else has to be edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from spec.model import NFS_PORT, PlatformSpec, ServiceSpec

LOAD_BALANCER = "load-balancer"
PROMETHEUS = "prometheus"
DATABASE = "database"
FILE_SYSTEM = "file-system"
GRAFANA = "grafana"
# The one-off task the verify command runs to read Prometheus's targets.
TARGETS_PROBE = "targets-probe"


def service_peer(service: ServiceSpec) -> str:
    """The security-group key of an application service."""
    return f"service-{service.name}"


def peers(spec: PlatformSpec) -> tuple[str, ...]:
    """Every party that owns a security group, in a stable order."""
    grafana = (GRAFANA,) if spec.grafana else ()
    return (
        LOAD_BALANCER,
        *(service_peer(s) for s in spec.services),
        PROMETHEUS,
        *grafana,
        TARGETS_PROBE,
        DATABASE,
        FILE_SYSTEM,
    )


def task_peers(spec: PlatformSpec) -> tuple[str, ...]:
    """The parties that run as Fargate tasks: they pull images and call AWS APIs over HTTPS."""
    grafana = (GRAFANA,) if spec.grafana else ()
    return (*(service_peer(s) for s in spec.services), PROMETHEUS, *grafana, TARGETS_PROBE)


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
        paths.append(
            NetworkPath(
                source=LOAD_BALANCER,
                destination=service_peer(service),
                port=service.container_port,
                purpose=f"load balancer forwards to {service.name}",
            )
        )
        paths.append(
            NetworkPath(
                source=PROMETHEUS,
                destination=service_peer(service),
                port=service.container_port,
                purpose=f"prometheus scrapes {service.name} {service.metrics_path}",
            )
        )
        for callee_name in service.calls:
            callee = spec.service(callee_name)
            paths.append(
                NetworkPath(
                    source=service_peer(service),
                    destination=service_peer(callee),
                    port=callee.container_port,
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
    delivery = spec.delivery
    if delivery.smoke_test_service == delivery.api_service:
        api = spec.service(delivery.api_service)
        paths.append(
            NetworkPath(
                source=service_peer(api),
                destination=service_peer(api),
                port=api.container_port,
                purpose=f"smoke tests in {api.name}'s group call {api.name}",
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
            source=TARGETS_PROBE,
            destination=PROMETHEUS,
            port=spec.prometheus.port,
            purpose="verify reads prometheus's targets",
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
    return tuple(paths)
