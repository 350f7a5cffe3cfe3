"""The spec: the shipped profiles, per-deploy overrides, and every refusal of bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from platform_spec import (
    PUBLIC,
    SERVICE_KINDS,
    WORKER,
    ContainerUser,
    DatabaseSpec,
    GrafanaSpec,
    NetworkSpec,
    ParameterStoreSecret,
    PlatformSpec,
    PrometheusSpec,
    SecretsManagerSecret,
    ServiceSpec,
    SpecError,
    region_zone_prefix,
    spec_from_context,
)
from platform_spec.ci import CONTEXT_KEYS as CI_CONTEXT_KEYS
from platform_spec.context import platform_keys, refuse_unknown_keys
from platform_spec.names import EDGE, LAYERS, stack_name
from platform_spec.profiles import MEASURED_REQUESTS_PER_CPU_SECOND, PROFILES, dev, requests_per_task
from platform_spec.regions import CLOUDFRONT_REGION, ORIGIN_FACING_PREFIX_LISTS, S3_PREFIX_LISTS
from tests.picking import first_or_skip
from tests.variants import own_services, unused_port, with_every_kind


def test_production_profiles_are_highly_available() -> None:
    production = [spec for spec in (build() for build in PROFILES.values()) if spec.production]
    assert production, "no profile is marked production"
    for spec in production:
        assert spec.network.nat_gateways == spec.network.max_azs
        assert spec.database.multi_az
        assert all(service.min_tasks >= 2 for service in spec.services), spec.environment


def test_profile_is_chosen_by_context() -> None:
    for name in PROFILES:
        assert spec_from_context({"env": name}).environment == PROFILES[name]().environment


def test_ecs_exec_overrides() -> None:
    """Each service's ECS Exec is switched by ``<name>_ecs_exec``, whatever the profile says."""
    for profile in PROFILES:
        for service in PROFILES[profile]().services:
            wanted = not service.ecs_exec
            spec = spec_from_context({"env": profile, f"{service.name}_ecs_exec": str(wanted).upper()})
            assert spec.service(service.name).ecs_exec is wanted
            others = [s for s in spec.services if s.name != service.name]
            assert others == [s for s in PROFILES[profile]().services if s.name != service.name]
            assert (
                spec_from_context({"env": profile, f"{service.name}_ecs_exec": wanted}).service(service.name).ecs_exec
                is wanted
            )


# The rules are checked on two services of the tests' own (tests/variants.py), so the messages
# below do not depend on what a profile ships.
OWN = own_services(dev())
ALPHA, BRAVO = OWN.services
ZONE = region_zone_prefix(OWN.region)
OTHER_REGION = "ap-southeast-2" if OWN.region != "ap-southeast-2" else "eu-west-1"
OTHER_ZONE = region_zone_prefix(OTHER_REGION)


def _with_service(**changes: Any) -> Callable[[], PlatformSpec]:
    """The tests' spec with its first service changed."""
    return lambda: replace(OWN, services=(replace(ALPHA, **changes), BRAVO))


def _with_services(services: Callable[[], tuple[ServiceSpec, ...]]) -> Callable[[], PlatformSpec]:
    """The tests' spec with these services, built only when the case runs (a service may refuse itself)."""
    return lambda: replace(OWN, services=services())


def _with_network(**changes: Any) -> Callable[[], PlatformSpec]:
    return lambda: replace(OWN, network=NetworkSpec(**{**vars(OWN.network), **changes}))


def _with_database(production: bool = False, **changes: Any) -> Callable[[], PlatformSpec]:
    base = (
        own_services(first_or_skip((s for s in (b() for b in PROFILES.values()) if s.production), "production profile"))
        if production
        else OWN
    )
    return lambda: replace(base, database=DatabaseSpec(**{**vars(base.database), **changes}))


def _with_negative_user() -> PlatformSpec:
    """Built only when the case runs: the user itself refuses the id."""
    return _with_service(run_as=ContainerUser(uid=-1, gid=0))()


def _from_context(context: dict[str, Any]) -> Callable[[], PlatformSpec]:
    return lambda: spec_from_context(context)


def _production() -> PlatformSpec:
    return own_services(
        first_or_skip((s for s in (b() for b in PROFILES.values()) if s.production), "production profile")
    )


FIRST = dev().services[0]
PROFILE_NAMES = ", ".join(PROFILES)
A, B = f"services[{ALPHA.name}]", f"services[{BRAVO.name}]"

BAD_INPUTS: dict[str, tuple[Callable[[], object], str]] = {
    "unknown profile": (
        _from_context({"env": "no-such-profile"}),
        f"context env: unknown profile; choose one of {PROFILE_NAMES} (got 'no-such-profile')",
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
        _with_network(cidr="10.0.0.0/22", max_azs=2, nat_gateways=1, zone_ids=(f"{ZONE}-az1", f"{ZONE}-az2")),
        "network.cidr: too small for 6 /24 subnets (3 tiers x 2 zones) (got '10.0.0.0/22')",
    ),
    "zone name instead of a zone id": (
        _with_network(max_azs=2, nat_gateways=1, zone_ids=(f"{OWN.region}a", f"{ZONE}-az2")),
        f"network.zone_ids: not an Availability Zone id such as 'use1-az1' (got '{OWN.region}a')",
    ),
    "zone without CloudFront VPC origins": (
        lambda: replace(
            OWN,
            region="us-east-1",
            network=NetworkSpec(
                **{**vars(OWN.network), "max_azs": 2, "nat_gateways": 1, "zone_ids": ("use1-az1", "use1-az3")}
            ),
        ),
        "network.zone_ids: CloudFront VPC origins are not available in this zone (got 'use1-az3')",
    ),
    "zone named twice": (
        _with_network(max_azs=2, nat_gateways=1, zone_ids=(f"{ZONE}-az1", f"{ZONE}-az1")),
        f"network.zone_ids: a zone is named twice (got ('{ZONE}-az1', '{ZONE}-az1'))",
    ),
    "fewer zones than max_azs": (
        _with_network(max_azs=2, nat_gateways=1, zone_ids=(f"{ZONE}-az1",)),
        f"network.zone_ids: name exactly max_azs (2) zones (got ('{ZONE}-az1',))",
    ),
    "zone of another region": (
        _with_network(max_azs=2, nat_gateways=1, zone_ids=(f"{ZONE}-az1", f"{OTHER_ZONE}-az1")),
        f"network.zone_ids: not a zone of {OWN.region} (its zone ids start with {ZONE}-) (got '{OTHER_ZONE}-az1')",
    ),
    "a region whose origin-facing prefix list is not known": (
        lambda: replace(
            OWN,
            region="me-central-1",
            network=NetworkSpec(**{**vars(OWN.network), "zone_ids": ()}),
            edge=replace(OWN.edge, origin_facing_prefix_list=None),
        ),
        "edge.origin_facing_prefix_list: name CloudFront's origin-facing prefix list of me-central-1: aws ec2 "
        "describe-managed-prefix-lists --region me-central-1 --filters "
        "Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing (got None)",
    ),
    "interface endpoints in a region whose S3 prefix list is not known": (
        lambda: replace(
            OWN,
            region="ap-southeast-2",
            network=NetworkSpec(
                **{**vars(OWN.network), "zone_ids": (), "interface_endpoints": True, "s3_prefix_list": None}
            ),
        ),
        "network.s3_prefix_list: name the S3 prefix list of ap-southeast-2 (interface endpoints need it)",
    ),
    "user id out of range": (
        _with_negative_user,
        "user.uid: not a POSIX user or group id (got -1)",
    ),
    "more NAT gateways than zones": (
        _with_network(max_azs=2, nat_gateways=3, zone_ids=()),
        "network.nat_gateways: must be from 1 to max_azs (2) (got 3)",
    ),
    "a NAT image given as an image id, which differs in each region": (
        _with_network(nat_image="ami-0123456789abcdef0"),
        "network.nat_image: not an SSM parameter name",
    ),
    "a NAT image generation below one": (
        _with_network(nat_image_generation=0),
        "network.nat_image_generation: must be a whole number from 1 (got 0)",
    ),
    "duplicate service name": (
        _with_services(
            lambda: (
                ALPHA,
                BRAVO,
                replace(BRAVO, container_name="x", container_port=unused_port(OWN), route="/x/*"),
            )
        ),
        f"services[].name: service name used twice (got '{BRAVO.name}')",
    ),
    "a service named like the platform's own": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, name=OWN.prometheus.name, container_name="x"),
            )
        ),
        f"services[].name: name taken by the platform's own service (got '{OWN.prometheus.name}')",
    ),
    "duplicate container name": (
        _with_service(container_name=BRAVO.container_name),
        f"{B}.container_name: container name used twice (got '{BRAVO.container_name}')",
    ),
    "port out of range": (
        _with_service(container_port=70000),
        f"{A}.container_port: port must be a whole number from 1 to 65535 (got 70000)",
    ),
    "port used twice": (
        _with_service(container_port=BRAVO.container_port),
        f"{B}.container_port: port already used by {A}.container_port (got {BRAVO.container_port})",
    ),
    "port used by prometheus": (
        _with_service(container_port=OWN.prometheus.port),
        f"{A}.container_port: port already used by prometheus.port (got {OWN.prometheus.port})",
    ),
    "prometheus port out of range": (
        lambda: replace(OWN, prometheus=PrometheusSpec(port=0)),
        "prometheus.port: port must be a whole number from 1 to 65535 (got 0)",
    ),
    "min tasks above max": (
        _with_service(min_tasks=3, max_tasks=2),
        f"{A}.min_tasks: min_tasks is above max_tasks (2) (got 3)",
    ),
    "health path without leading slash": (
        _with_service(health_check_path="api/health"),
        f"{A}.health_check_path: path must start with '/' (got 'api/health')",
    ),
    "metrics path without leading slash": (
        _with_service(metrics_path="metrics"),
        f"{A}.metrics_path: path must start with '/' (got 'metrics')",
    ),
    "route without leading slash": (
        _with_service(route="api/*"),
        f"{A}.route: path must start with '/' (got 'api/*')",
    ),
    "route that matches one path only": (
        _with_service(route="/api"),
        f"{A}.route: a route names what is under a path, such as '/api/*' (the load balancer would match "
        "exactly one path otherwise) (got '/api')",
    ),
    "route with a wildcard inside": (
        _with_service(route="/a*b/*"),
        f"{A}.route: a route names what is under a path",
    ),
    "cpu Fargate does not offer": (
        _with_service(cpu=300),
        f"{A}.cpu: Fargate offers cpu 256, 512, 1024, 2048, 4096, 8192, 16384 (got 300)",
    ),
    "memory Fargate does not offer with that cpu": (
        _with_service(cpu=256, memory_mib=4096),
        f"{A}.memory_mib: Fargate does not offer this memory with cpu 256",
    ),
    "image tag given to a deploy": (
        _from_context({f"{FIRST.name}_image_tag": "sha-4f2a9c1"}),
        f"context {FIRST.name}_image_tag: a deploy keeps the released image tags; release one with "
        "`python -m tools.release start --env dev --tag <tag>` (docs/operations.md: Releasing an image) "
        "(got 'sha-4f2a9c1')",
    ),
    "non-boolean ECS Exec override": (
        _from_context({f"{FIRST.name}_ecs_exec": "yes"}),
        f"context {FIRST.name}_ecs_exec: must be true or false (got 'yes')",
    ),
    "override for a service that does not exist": (
        _from_context({"no-such-service_image_tag": "v1"}),
        "context no-such-service_image_tag: no service named 'no-such-service' in profile dev "
        f"(services: {', '.join(s.name for s in dev().services)}) (got 'v1')",
    ),
    "call to a service that does not exist": (
        _with_service(calls=("payments",)),
        f"{A}.calls: no service by that name (got 'payments')",
    ),
    "two default routes": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, route=None),
            )
        ),
        f"{B}.route: the default route already taken by {A} (got None)",
    ),
    "no default route": (
        _with_services(
            lambda: (
                replace(ALPHA, route="/alpha/*"),
                BRAVO,
            )
        ),
        "services[].route: one public service must take the load balancer's default route (route None)",
    ),
    # --- kinds ---
    "an unknown kind": (
        _with_service(kind="private"),
        f"{A}.kind: must be one of public, internal, worker (got 'private')",
    ),
    "an internal service with a route": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, kind="internal"),
            )
        ),
        f"{B}.route: only a public service is at the edge (got '/bravo/*')",
    ),
    "an internal service with internal paths": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, kind="internal", route=None, internal_paths=("/jobs",)),
            )
        ),
        f"{B}.internal_paths: only a public service is at the edge (got ('/jobs',))",
    ),
    "an internal service without a port": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, kind="internal", route=None, container_port=None),
            )
        ),
        f"{B}.container_port: an internal service needs one (got None)",
    ),
    "a worker with paths but no port": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, kind="worker", route=None, calls=(), container_port=None),
            )
        ),
        f"{B}.container_port: a worker that serves health or metrics paths needs their port (got None)",
    ),
    "a worker with a port that serves nothing": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, kind="worker", route=None, calls=(), health_check_path=None, metrics_path=None),
            )
        ),
        f"{B}.container_port: a worker's port serves only its health and metrics paths: name one, or drop the port",
    ),
    "a call to a worker": (
        _with_services(
            lambda: (
                replace(ALPHA, calls=(BRAVO.name,)),
                replace(BRAVO, kind="worker", route=None, calls=()),
            )
        ),
        f"{A}.calls: a worker takes no calls (it has no inbound port) (got '{BRAVO.name}')",
    ),
    "smoke tests that call a worker": (
        lambda: replace(
            OWN,
            services=(ALPHA, replace(BRAVO, kind="worker", route=None, calls=())),
            delivery=replace(OWN.delivery, api_service=BRAVO.name),
        ),
        f"delivery.api_service: the smoke tests call it: a worker takes no calls (got '{BRAVO.name}')",
    ),
    "no public service": (
        _with_services(
            lambda: (
                replace(ALPHA, kind="internal"),
                replace(BRAVO, kind="internal", route=None),
            )
        ),
        "services[].route: one public service must take the load balancer's default route",
    ),
    # --- health checks ---
    "a health-check tool of no image": (
        _with_service(health_check="httpie"),
        f"{A}.health_check: name the image's tool (node, wget, curl) or give a command as a tuple (got 'httpie')",
    ),
    "an empty health-check command": (
        _with_service(health_check=()),
        f"{A}.health_check: a command is a non-empty tuple of non-empty strings (got ())",
    ),
    # --- settings and secrets ---
    "a setting the platform sets itself": (
        _with_service(settings={"PORT": "8080"}),
        f"{A}.settings[PORT]: the platform sets this variable itself",
    ),
    "a setting with a name no shell can read": (
        _with_service(settings={"API-KEY": "x"}),
        f"{A}.settings[API-KEY]: a variable name is letters, digits and '_', not starting with a digit",
    ),
    "a setting of AWS's": (
        _with_service(settings={"AWS_REGION": "eu-west-1"}),
        f"{A}.settings[AWS_REGION]: variables starting with AWS_ or ECS_ belong to AWS and ECS",
    ),
    "a setting that is not a string": (
        _with_service(settings={"WORKERS": 4}),
        f"{A}.settings[WORKERS]: a setting's value must be a string (quote numbers) (got 4)",
    ),
    "a setting named like a called service's URL": (
        _with_services(
            lambda: (
                ALPHA,
                replace(BRAVO, settings={ALPHA.url_variable: "http://elsewhere"}),
            )
        ),
        f"{B}.settings: the platform sets this variable to {ALPHA.name}'s URL, since {BRAVO.name} calls it",
    ),
    "a secret that is not one": (
        _with_service(secrets={"API_KEY": "plain-text"}),
        f"{A}.secrets[API_KEY]: must be a SecretsManagerSecret(...) or ParameterStoreSecret(...) (got 'plain-text')",
    ),
    "a variable that is a setting and a secret": (
        lambda: replace(
            OWN,
            services=(
                replace(ALPHA, settings={"TOKEN": "x"}, secrets={"TOKEN": SecretsManagerSecret(name="app/token")}),
                BRAVO,
            ),
        ),
        f"{A}.secrets: also a setting: a variable has one source (got 'TOKEN')",
    ),
    "a secret named like its own ARN suffix": (
        lambda: SecretsManagerSecret(name="app/stripe-key123"),
        "secret.name: a name ending in '-' and six characters cannot be found by name",
    ),
    "a secret ARN without its suffix": (
        lambda: SecretsManagerSecret(name="arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/stripe"),
        "secret.name: not a complete Secrets Manager secret ARN",
    ),
    "a secret of another region": (
        _with_service(
            secrets={
                "KEY": SecretsManagerSecret(
                    name=f"arn:aws:secretsmanager:{OTHER_REGION}:111122223333:secret:app/key-Ab12Cd"
                )
            }
        ),
        f"{A}.secrets[KEY]: the secret is in {OTHER_REGION}, the platform in {OWN.region}",
    ),
    "a parameter name SSM reserves": (
        lambda: ParameterStoreSecret(name="/aws/reference/secretsmanager/x"),
        "secret.name: names starting with aws or ssm are reserved by SSM",
    ),
    "a key that is not a KMS key's ARN": (
        lambda: ParameterStoreSecret(name="/app/session", key_arn="alias/aws/ssm"),
        "secret.key_arn: must be the ARN of a KMS key",
    ),
    # --- database and production ---
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
        "database.engine_version: not a supported PostgreSQL version (a major, 16 to 18, "
        "or a full version, 16.1 to 18.3) (got '17.42')",
    ),
    "a full PostgreSQL version with minor upgrades on": (
        _with_database(engine_version="17.9", auto_minor_version_upgrade=True),
        "database.engine_version: a full version with auto_minor_version_upgrade on: once RDS upgrades the "
        "minor, the next deploy asks for a downgrade and fails; give the major alone ('17')",
    ),
    "minor upgrades neither on nor off": (
        _with_database(auto_minor_version_upgrade="yes"),
        "database.auto_minor_version_upgrade: must be true or false (got 'yes')",
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
        _with_database(production=True, multi_az=False),
        "database.multi_az: production needs a Multi-AZ database (got False)",
    ),
    "deletion protection off in production": (
        _with_database(production=True, deletion_protection=False),
        "database.deletion_protection: production needs deletion protection (got False)",
    ),
    "production with fewer NAT gateways than zones": (
        lambda: replace(
            _production(),
            network=NetworkSpec(**{**vars(_production().network), "max_azs": 2, "nat_gateways": 1, "zone_ids": ()}),
        ),
        "network.nat_gateways: production needs a NAT gateway in each of its 2 zones (got 1)",
    ),
    "log retention CloudWatch does not offer": (
        lambda: replace(OWN, log_retention_days=45),
        "log_retention_days: not a retention period CloudWatch Logs offers (got 45)",
    ),
    "a budget of nothing": (
        lambda: replace(OWN, monthly_budget_usd=0),
        "monthly_budget_usd: must be above 0 (US dollars a month) (got 0)",
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


LAST = dev().services[-1]


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("ENV", "env"),
        ("environment", "env"),
        ("profile", "env"),
        (f"{FIRST.name}ImageTag", f"{FIRST.name}_image_tag"),
        (f"{LAST.name}-ecs-exec", f"{LAST.name}_ecs_exec"),
        (f"{dev().prometheus.name}_ecs_exe", f"{dev().prometheus.name}_ecs_exec"),
        ("CI", "ci"),
    ],
)
def test_an_unknown_key_names_the_key_meant(key: str, meant: str) -> None:
    spec = spec_from_context({})
    with pytest.raises(SpecError, match=rf"^context {re.escape(key)}: unknown key; did you mean {meant}\?") as raised:
        refuse_unknown_keys({key: "x"}, (*platform_keys(spec), *CI_CONTEXT_KEYS), spec=spec)
    assert "\n" not in str(raised.value)


def test_cdk_keys_and_known_keys_pass_and_others_are_named() -> None:
    for profile in PROFILES:
        spec = spec_from_context({"env": profile})
        known = (*platform_keys(spec), *CI_CONTEXT_KEYS)
        assert (f"{GrafanaSpec.name}_ecs_exec" in known) == (spec.grafana is not None)
        refuse_unknown_keys(
            {
                "env": profile,
                "@aws-cdk/core:newStyleStackSynthesis": True,
                "aws:cdk:bundling-stacks": ["**"],
                "ci": "true",
            },
            known,
            spec=spec,
        )
        first = re.escape(f"{spec.services[0].name}_ecs_exec")
        with pytest.raises(SpecError, match=rf"^context foo: unknown key; the app reads env, {first}"):
            refuse_unknown_keys({"foo": "bar"}, known, spec=spec)


def test_stack_names_come_from_one_place() -> None:
    for profile in PROFILES:
        spec = spec_from_context({"env": profile})
        assert [spec.stack_name(layer) for layer in spec.layers] == [
            f"{spec.environment}-{spec.project}-{layer}" for layer in spec.layers
        ]
        assert spec.layers[-len(LAYERS) :] == LAYERS
        assert (EDGE in spec.layers) == (spec.region != CLOUDFRONT_REGION)
    with pytest.raises(ValueError, match="no layer 'computer'; the layers are network, data, compute"):
        stack_name(dev().stack_prefix, "computer")


def test_each_service_names_the_variable_its_callers_read_its_url_from() -> None:
    """The compute stack sets it on every caller, and the reference services read it; a name
    with '-' becomes '_', since a shell cannot name a variable with '-'."""
    assert replace(FIRST, name="search").url_variable == "SEARCH_URL"
    assert replace(FIRST, name="admin-panel", container_name="admin-panel").url_variable == "ADMIN_PANEL_URL"


def test_the_kinds_decide_what_a_service_has() -> None:
    spec = with_every_kind(dev())
    by_kind = {kind: [s for s in spec.services if s.kind == kind] for kind in SERVICE_KINDS}
    assert all(by_kind.values()), "the variant has a service of every kind"
    for service in spec.services:
        assert service.is_public == (service.kind == PUBLIC)
        assert service.can_be_called == (service.kind != WORKER)
        assert service.has_port == (service.container_port is not None)
        assert service.scraped == (service.container_port is not None and service.metrics_path is not None)
    assert set(spec.public_services) == set(by_kind[PUBLIC])
    assert {s.name for s in spec.scraped_services} == {s.name for s in spec.services if s.scraped}
    # Only public services are at the edge: their metrics and internal paths are hidden there.
    assert set(spec.edge_internal_paths()) == {
        p for s in by_kind[PUBLIC] for p in (s.metrics_path, *s.internal_paths) if p is not None
    }


def test_settings_and_secrets_are_frozen_once_checked() -> None:
    secret = ParameterStoreSecret(name="/app/session")
    service = replace(ALPHA, settings={"HOSTNAME": "0.0.0.0"}, secrets={"SESSION": secret})
    with pytest.raises(TypeError):
        service.settings["HOSTNAME"] = "127.0.0.1"  # type: ignore[index]
    assert hash(service) == hash(replace(service, settings={"HOSTNAME": "0.0.0.0"}))
    assert dict(service.settings) == {"HOSTNAME": "0.0.0.0"}
    assert dict(service.secrets) == {"SESSION": secret}
    assert replace(service, settings={}).settings == {}
    assert (
        SecretsManagerSecret(name="arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/key-Ab12Cd").secret_name
        == "app/key"
    )
    assert ParameterStoreSecret(name="/app/session").path == "app/session"


def test_the_region_decides_where_cloudfronts_pieces_go_and_which_prefix_lists_apply() -> None:
    moved = replace(
        OWN, region="eu-west-1", network=NetworkSpec(**{**vars(OWN.network), "zone_ids": ("euw1-az1", "euw1-az2")})
    )
    assert moved.edge_in_own_stack
    assert moved.layers[0] == EDGE
    assert moved.origin_facing_prefix_list == ORIGIN_FACING_PREFIX_LISTS["eu-west-1"]
    assert moved.s3_prefix_list == S3_PREFIX_LISTS["eu-west-1"]
    named = replace(moved, edge=replace(moved.edge, origin_facing_prefix_list="pl-0123456789abcdef0"))
    assert named.origin_facing_prefix_list == "pl-0123456789abcdef0"
    home = replace(OWN, region=CLOUDFRONT_REGION, network=NetworkSpec(**{**vars(OWN.network), "zone_ids": ()}))
    assert not home.edge_in_own_stack
    assert home.layers == LAYERS


def test_the_request_scaling_target_is_the_measured_one() -> None:
    """docs/benchmarks.md derives the target from one run of `make bench-services`; the profiles derive
    theirs from the same figure, so the two say the same for the task size the document works out."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| frontend |") and "**" in line]
    measured, _, target = (cell.strip().strip("*") for cell in row.strip("|").split("|")[1:])
    assert int(measured) == MEASURED_REQUESTS_PER_CPU_SECOND
    assert requests_per_task(256) == int(target)
