"""The spec: the shipped profiles, per-deploy overrides, and every refusal of bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from platform_spec import (
    ContainerUser,
    DatabaseSpec,
    NetworkSpec,
    PlatformSpec,
    PrometheusSpec,
    SpecError,
    spec_from_context,
)
from platform_spec.ci import CONTEXT_KEYS as CI_CONTEXT_KEYS
from platform_spec.context import platform_keys, refuse_unknown_keys
from platform_spec.names import LAYERS, stack_name
from platform_spec.profiles import dev, prod


def test_dev_reproduces_the_original_platform() -> None:
    spec = spec_from_context({})
    assert spec.environment == "dev"
    assert spec.stack_prefix == "dev-davidshaevel"
    assert spec.region == "us-east-1"
    assert spec.account is None
    assert spec.namespace == "davidshaevel.local"
    assert spec.network.cidr == "10.0.0.0/16"
    assert spec.network.max_azs == 2
    assert spec.prometheus.port == 9090
    backend, frontend = spec.service("backend"), spec.service("frontend")
    assert (backend.container_name, backend.container_port, backend.route) == ("backend", 3001, "/api/*")
    assert (frontend.container_name, frontend.container_port, frontend.route) == ("frontend", 3000, None)
    for service in (backend, frontend):
        assert (service.health_check_path, service.metrics_path) == ("/api/health", "/api/metrics")
    assert frontend.calls == ("backend",)
    assert backend.uses_database
    assert not frontend.uses_database
    assert spec.dns_name(backend) == "backend.davidshaevel.local"


def test_prod_differs_where_production_must() -> None:
    development, production = dev(), prod()
    assert production.network.nat_gateways == production.network.max_azs
    assert development.network.nat_gateways < production.network.nat_gateways
    assert production.log_retention_days > development.log_retention_days
    assert all(service.min_tasks >= 2 for service in production.services)
    assert [s.name for s in production.services] == [s.name for s in development.services]


def test_profile_is_chosen_by_context() -> None:
    assert spec_from_context({"env": "prod"}).environment == "prod"
    assert spec_from_context({"env": "dev"}).environment == "dev"


def test_ecs_exec_overrides() -> None:
    spec = spec_from_context({"env": "prod", "frontend_ecs_exec": "true"})
    assert spec.service("frontend").ecs_exec is True
    assert spec.service("backend").ecs_exec is False
    assert spec_from_context({"backend_ecs_exec": "FALSE"}).service("backend").ecs_exec is False
    assert spec_from_context({"backend_ecs_exec": False}).service("backend").ecs_exec is False


def _with_service(**changes: Any) -> Callable[[], PlatformSpec]:
    def build() -> PlatformSpec:
        spec = dev()
        return replace(spec, services=(replace(spec.services[0], **changes), *spec.services[1:]))

    return build


def _with_network(**changes: Any) -> Callable[[], PlatformSpec]:
    return lambda: replace(dev(), network=NetworkSpec(**{**vars(dev().network), **changes}))


def _with_database(profile: Callable[[], PlatformSpec] = dev, **changes: Any) -> Callable[[], PlatformSpec]:
    return lambda: replace(profile(), database=DatabaseSpec(**{**vars(profile().database), **changes}))


def _with_negative_user() -> PlatformSpec:
    """Built only when the case runs: the user itself refuses the id."""
    return _with_service(run_as=ContainerUser(uid=-1, gid=0))()


def _from_context(context: dict[str, Any]) -> Callable[[], PlatformSpec]:
    return lambda: spec_from_context(context)


BAD_INPUTS: dict[str, tuple[Callable[[], PlatformSpec], str]] = {
    "unknown profile": (
        _from_context({"env": "staging"}),
        "context env: unknown profile; choose one of dev, prod (got 'staging')",
    ),
    "malformed cidr": (
        _with_network(cidr="10.0.0.300/16"),
        "network.cidr: not an IPv4 network in CIDR form",
    ),
    "cidr with host bits": (
        _with_network(cidr="10.0.0.1/16"),
        "network.cidr: not an IPv4 network in CIDR form",
    ),
    "cidr too small for the subnets": (
        _with_network(cidr="10.0.0.0/22"),
        "network.cidr: too small for 6 /24 subnets (3 tiers x 2 zones) (got '10.0.0.0/22')",
    ),
    "zone name instead of a zone id": (
        _with_network(zone_ids=("us-east-1a", "use1-az2")),
        "network.zone_ids: not an Availability Zone id such as 'use1-az1' (got 'us-east-1a')",
    ),
    "zone without CloudFront VPC origins": (
        _with_network(zone_ids=("use1-az1", "use1-az3")),
        "network.zone_ids: CloudFront VPC origins are not available in this zone (got 'use1-az3')",
    ),
    "zone named twice": (
        _with_network(zone_ids=("use1-az1", "use1-az1")),
        "network.zone_ids: a zone is named twice (got ('use1-az1', 'use1-az1'))",
    ),
    "fewer zones than max_azs": (
        _with_network(zone_ids=("use1-az1",)),
        "network.zone_ids: name exactly max_azs (2) zones (got ('use1-az1',))",
    ),
    "zone of another region": (
        _with_network(zone_ids=("use1-az1", "usw2-az1")),
        "network.zone_ids: not a zone of us-east-1 (got 'usw2-az1')",
    ),
    "user id out of range": (
        _with_negative_user,
        "user.uid: not a POSIX user or group id (got -1)",
    ),
    "more NAT gateways than zones": (
        _with_network(nat_gateways=3),
        "network.nat_gateways: must be from 1 to max_azs (2) (got 3)",
    ),
    "duplicate service name": (
        lambda: replace(
            dev(),
            services=(
                *dev().services,
                replace(dev().services[0], container_name="x", container_port=4000, route="/x/*"),
            ),
        ),
        "services[].name: service name used twice (got 'backend')",
    ),
    "duplicate container name": (
        _with_service(container_name="frontend"),
        "services[frontend].container_name: container name used twice (got 'frontend')",
    ),
    "port out of range": (
        _with_service(container_port=70000),
        "services[backend].container_port: port must be a whole number from 1 to 65535 (got 70000)",
    ),
    "port used twice": (
        _with_service(container_port=3000),
        "services[frontend].container_port: port already used by services[backend].container_port (got 3000)",
    ),
    "port used by prometheus": (
        _with_service(container_port=9090),
        "services[backend].container_port: port already used by prometheus.port (got 9090)",
    ),
    "prometheus port out of range": (
        lambda: replace(dev(), prometheus=PrometheusSpec(port=0)),
        "prometheus.port: port must be a whole number from 1 to 65535 (got 0)",
    ),
    "min tasks above max": (
        _with_service(min_tasks=3, max_tasks=2),
        "services[backend].min_tasks: min_tasks is above max_tasks (2) (got 3)",
    ),
    "health path without leading slash": (
        _with_service(health_check_path="api/health"),
        "services[backend].health_check_path: path must start with '/' (got 'api/health')",
    ),
    "metrics path without leading slash": (
        _with_service(metrics_path="metrics"),
        "services[backend].metrics_path: path must start with '/' (got 'metrics')",
    ),
    "route without leading slash": (
        _with_service(route="api/*"),
        "services[backend].route: path must start with '/' (got 'api/*')",
    ),
    "cpu Fargate does not offer": (
        _with_service(cpu=300),
        "services[backend].cpu: Fargate offers cpu 256, 512, 1024, 2048, 4096, 8192, 16384 (got 300)",
    ),
    "memory Fargate does not offer with that cpu": (
        _with_service(cpu=256, memory_mib=4096),
        "services[backend].memory_mib: Fargate does not offer this memory with cpu 256",
    ),
    "image tag given to a deploy": (
        _from_context({"backend_image_tag": "sha-4f2a9c1"}),
        "context backend_image_tag: a deploy keeps the released image tags; release one with "
        "`python -m tools.release start --env dev --tag <tag>` (docs/operations.md: Releasing an image) "
        "(got 'sha-4f2a9c1')",
    ),
    "non-boolean ECS Exec override": (
        _from_context({"frontend_ecs_exec": "yes"}),
        "context frontend_ecs_exec: must be true or false (got 'yes')",
    ),
    "override for a service that does not exist": (
        _from_context({"backnd_image_tag": "v1"}),
        "context backnd_image_tag: no service named 'backnd' in profile dev (services: backend, frontend) (got 'v1')",
    ),
    "call to a service that does not exist": (
        _with_service(calls=("payments",)),
        "services[backend].calls: no service by that name (got 'payments')",
    ),
    "two default routes": (
        _with_service(route=None),
        "services[frontend].route: the default route already taken by services[backend] (got None)",
    ),
    "database instance class that does not exist": (
        _with_database(instance_class="t4g.mega"),
        "database.instance_class: not an RDS instance class this project offers",
    ),
    "database instance class with the db. prefix": (
        _with_database(instance_class="db.t4g.micro"),
        "database.instance_class: not an RDS instance class this project offers",
    ),
    "PostgreSQL version that does not exist": (
        _with_database(engine_version="17.42"),
        "database.engine_version: not a supported PostgreSQL version (16.1 to 18.3) (got '17.42')",
    ),
    "backup retention of zero days": (
        _with_database(backup_retention_days=0),
        "database.backup_retention_days: RDS keeps backups 1 to 35 days (got 0)",
    ),
    "backup retention over 35 days": (
        _with_database(backup_retention_days=36),
        "database.backup_retention_days: RDS keeps backups 1 to 35 days (got 36)",
    ),
    "storage ceiling below the allocation": (
        _with_database(allocated_storage_gib=100, max_allocated_storage_gib=50),
        "database.allocated_storage_gib: need 20 <= allocated_storage_gib <= max_allocated_storage_gib",
    ),
    "Multi-AZ off in production": (
        _with_database(prod, multi_az=False),
        "database.multi_az: production needs a Multi-AZ database (got False)",
    ),
    "deletion protection off in production": (
        _with_database(prod, deletion_protection=False),
        "database.deletion_protection: production needs deletion protection (got False)",
    ),
    "production with fewer NAT gateways than zones": (
        lambda: replace(prod(), network=NetworkSpec(**{**vars(prod().network), "nat_gateways": 1})),
        "network.nat_gateways: production needs a NAT gateway in each of its 2 zones (got 1)",
    ),
    "log retention CloudWatch does not offer": (
        lambda: replace(dev(), log_retention_days=45),
        "log_retention_days: not a retention period CloudWatch Logs offers (got 45)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_with_one_line_naming_field_and_value(case: str) -> None:
    build, expected = BAD_INPUTS[case]
    with pytest.raises(SpecError) as refusal:
        build()
    message = str(refusal.value)
    assert message.startswith(expected)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("ENV", "env"),
        ("environment", "env"),
        ("profile", "env"),
        ("backendImageTag", "backend_image_tag"),
        ("frontend-ecs-exec", "frontend_ecs_exec"),
        ("prometheus_ecs_exe", "prometheus_ecs_exec"),
        ("CI", "ci"),
    ],
)
def test_an_unknown_key_names_the_key_meant(key: str, meant: str) -> None:
    spec = spec_from_context({})
    with pytest.raises(SpecError, match=rf"^context {key}: unknown key; did you mean {meant}\?") as raised:
        refuse_unknown_keys({key: "x"}, (*platform_keys(spec), *CI_CONTEXT_KEYS), spec=spec)
    assert "\n" not in str(raised.value)


def test_cdk_keys_and_known_keys_pass_and_others_are_named() -> None:
    spec = spec_from_context({"env": "prod"})
    known = (*platform_keys(spec), *CI_CONTEXT_KEYS)
    assert "grafana_ecs_exec" not in known, "prod runs no Grafana"
    refuse_unknown_keys(
        {"env": "prod", "@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:bundling-stacks": ["**"], "ci": "true"},
        known,
        spec=spec,
    )
    with pytest.raises(SpecError, match=r"^context foo: unknown key; the app reads env, backend_ecs_exec"):
        refuse_unknown_keys({"foo": "bar"}, known, spec=spec)


def test_stack_names_come_from_one_place() -> None:
    spec = spec_from_context({"env": "dev"})
    assert [spec.stack_name(layer) for layer in LAYERS] == [
        "dev-davidshaevel-network",
        "dev-davidshaevel-data",
        "dev-davidshaevel-compute",
        "dev-davidshaevel-observability",
        "dev-davidshaevel-delivery",
    ]
    with pytest.raises(ValueError, match="no layer 'computer'; the layers are network, data, compute"):
        stack_name(spec.stack_prefix, "computer")


def test_each_service_names_the_variable_its_callers_read_its_url_from() -> None:
    """The compute stack sets it on every caller, and the reference services read it; a name
    with '-' becomes '_', since a shell cannot name a variable with '-'."""
    backend = dev().service("backend")
    assert backend.url_variable == "BACKEND_URL"
    assert replace(backend, name="admin-panel", container_name="admin-panel").url_variable == "ADMIN_PANEL_URL"
