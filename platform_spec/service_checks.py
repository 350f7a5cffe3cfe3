"""The checks that hold the application services together: names, ports and routes taken
once, calls to services that take them, the release's services, where a service may scale to
zero (``platform_spec/sizing.py``), the database users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_spec.checks import RESERVED_NAMES
from platform_spec.errors import SpecError
from platform_spec.secrets import SecretsManagerSecret
from platform_spec.services import ServiceSpec
from platform_spec.sizing import check_scale_to_zero
from platform_spec.workloads import GrafanaSpec

if TYPE_CHECKING:
    from platform_spec.platform import PlatformSpec


def _platform_ports(spec: PlatformSpec) -> dict[int, str]:
    """Ports of the platform's own tasks, each owner named, for the uniqueness check."""
    ports: dict[int, str] = {spec.prometheus.port: "prometheus.port"}
    if spec.alertmanager.port in ports:
        raise SpecError(
            "alertmanager.port", spec.alertmanager.port, f"port already used by {ports[spec.alertmanager.port]}"
        )
    ports[spec.alertmanager.port] = "alertmanager.port"
    if spec.grafana is not None:
        if spec.grafana.port in ports:
            raise SpecError("grafana.port", spec.grafana.port, f"port already used by {ports[spec.grafana.port]}")
        ports[spec.grafana.port] = "grafana.port"
    return ports


def check_services(spec: PlatformSpec) -> None:
    if not spec.services:
        raise SpecError("services", spec.services, "the platform needs at least one service")
    names: set[str] = set()
    containers: set[str] = set()
    ports = _platform_ports(spec)
    routes: dict[str | None, str] = {}
    for service in spec.services:
        where = f"services[{service.name}]"
        if service.name in names:
            raise SpecError("services[].name", service.name, "service name used twice")
        if service.name in (spec.prometheus.name, spec.alertmanager.name, GrafanaSpec.name):
            raise SpecError("services[].name", service.name, "name taken by the platform's own service")
        names.add(service.name)
        if service.container_name in containers:
            raise SpecError(f"{where}.container_name", service.container_name, "container name used twice")
        containers.add(service.container_name)
        _claim(service, ports=ports, routes=routes)
        for name, secret in service.secrets.items():
            if isinstance(secret, SecretsManagerSecret):
                secret.check_placement(f"{where}.secrets[{name}]", account=spec.account, region=spec.region)
    _check_routes(spec, routes)
    _check_calls(spec, names)
    _check_delivery(spec, names)
    check_scale_to_zero(spec)
    for user in spec.database_users():
        if user == spec.database.migrator_user or user in RESERVED_NAMES:
            raise SpecError("services[].name", user, "that database user name is taken (migrator or PostgreSQL's)")


def _claim(service: ServiceSpec, *, ports: dict[int, str], routes: dict[str | None, str]) -> None:
    """The service's port and, if public, its route: each taken once."""
    where = f"services[{service.name}]"
    if service.container_port is not None:
        if service.container_port in ports:
            raise SpecError(
                f"{where}.container_port",
                service.container_port,
                f"port already used by {ports[service.container_port]}",
            )
        ports[service.container_port] = f"{where}.container_port"
    if service.is_public:
        if service.route in routes:
            what = "the default route" if service.route is None else "route"
            raise SpecError(f"{where}.route", service.route, f"{what} already taken by {routes[service.route]}")
        routes[service.route] = where


def _check_calls(spec: PlatformSpec, names: set[str]) -> None:
    for service in spec.services:
        where = f"services[{service.name}]"
        for callee_name in service.calls:
            if callee_name not in names:
                raise SpecError(f"{where}.calls", callee_name, "no service by that name")
            callee = spec.service(callee_name)
            if not callee.can_be_called:
                raise SpecError(f"{where}.calls", callee_name, "a worker takes no calls (it has no inbound port)")
            if callee.url_variable in service.settings or callee.url_variable in service.secrets:
                raise SpecError(
                    f"{where}.settings",
                    callee.url_variable,
                    f"the platform sets this variable to {callee_name}'s URL, since {service.name} calls it",
                )


def _check_delivery(spec: PlatformSpec, names: set[str]) -> None:
    delivery = spec.delivery
    for field_name in ("migrations_service", "api_service", "smoke_test_service"):
        if getattr(delivery, field_name) not in names:
            raise SpecError(f"delivery.{field_name}", getattr(delivery, field_name), "no service by that name")
    if not spec.service(delivery.migrations_service).uses_database:
        raise SpecError(
            "delivery.migrations_service", delivery.migrations_service, "that service does not use the database"
        )
    if not spec.service(delivery.api_service).can_be_called:
        raise SpecError(
            "delivery.api_service", delivery.api_service, "the smoke tests call it: a worker takes no calls"
        )


def _check_routes(spec: PlatformSpec, routes: dict[str | None, str]) -> None:
    if spec.grafana is not None and any(r is not None and r.startswith(spec.grafana.route) for r in routes):
        raise SpecError("grafana.route", spec.grafana.route, "a service's route already uses this path")
    if None not in routes:
        raise SpecError(
            "services[].route",
            tuple(s.route for s in spec.public_services),
            "one public service must take the load balancer's default route (route None)",
        )
