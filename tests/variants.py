"""Specs no profile ships, shared by the tests that need them. Every name and port a variant adds
is chosen so it cannot collide with what the profile under test already uses: a user's renamed or
extended spec keeps these variants meaningful."""

from __future__ import annotations

from dataclasses import replace

from platform_spec import (
    INTERNAL,
    PUBLIC,
    WORKER,
    DomainSpec,
    GrafanaSpec,
    ParameterStoreSecret,
    PlatformSpec,
    SecretsManagerSecret,
    ServiceSpec,
    region_zone_prefix,
)
from platform_spec.audit import AuditSpec, BackupCopySpec
from platform_spec.regions import CLOUDFRONT_REGION
from platform_spec.rollouts import Rolling

# Far above the ports services are usually given, below the ephemeral range.
VARIANT_PORTS = range(31000, 32000)


def used_ports(spec: PlatformSpec) -> set[int]:
    ports = {spec.prometheus.port, *(s.container_port for s in spec.services if s.container_port is not None)}
    if spec.grafana is not None:
        ports.add(spec.grafana.port)
    return ports


def unused_port(spec: PlatformSpec, *, taken: set[int] | None = None) -> int:
    """A port no service of ``spec`` (nor ``taken``) uses."""
    used = used_ports(spec) | (taken or set())
    return next(port for port in VARIANT_PORTS if port not in used)


def unused_name(spec: PlatformSpec, stem: str) -> str:
    """``stem``, or ``stem-2``..., whichever no service, container, Prometheus or Grafana has."""
    taken = {
        spec.prometheus.name,
        *(s.name for s in spec.services),
        *(s.container_name for s in spec.services),
        *([spec.grafana.name] if spec.grafana else []),
    }
    candidates = (stem, *(f"{stem}-{n}" for n in range(2, 100)))
    return next(name for name in candidates if name not in taken and name.replace("-", "_") not in taken)


def new_service(spec: PlatformSpec, stem: str, *, kind: str = PUBLIC, **changes: object) -> ServiceSpec:
    """A service of ``kind`` beside ``spec``'s, sized like its first service, named and numbered so it
    collides with nothing there; public ones take the route ``/<name>/*``."""
    template = spec.services[0]
    name = unused_name(spec, stem)
    fields: dict[str, object] = {
        "name": name,
        "container_name": name,
        "kind": kind,
        "container_port": unused_port(spec),
        "health_check_path": "/health",
        "metrics_path": "/metrics",
        "route": f"/{name}/*" if kind == PUBLIC else None,
        "cpu": template.cpu,
        "memory_mib": template.memory_mib,
        "min_tasks": template.min_tasks,
        "max_tasks": template.max_tasks,
        "ecs_exec": template.ecs_exec,
        "initial_image_tag": template.initial_image_tag,
        "architecture": template.architecture,
    }
    if kind == WORKER:
        fields.update(container_port=None, health_check_path=None, metrics_path=None, health_check=("true",))
    fields.update(changes)
    return ServiceSpec(**fields)  # type: ignore[arg-type]


def with_third_service(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with one more public service beside the others: nothing else changed by hand."""
    return replace(spec, services=(*spec.services, new_service(spec, "variant")))


def with_sleeping_service(spec: PlatformSpec, *, idle_minutes: int = 20) -> PlatformSpec:
    """``spec`` with one more public service on a route of its own that nothing calls, rolled out in
    place and running no task while idle (``min_tasks=0``): the one kind of service that may."""
    sleeper = new_service(spec, "variant-sleeper", min_tasks=0, idle_minutes=idle_minutes, rollout=Rolling())
    return replace(spec, services=(*spec.services, sleeper), monthly_budget_usd=None)


def with_every_kind(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with an internal service its default-route service calls, and two workers: one that
    serves metrics on a port, one with no port at all."""
    internal = new_service(spec, "variant-internal", kind=INTERNAL)
    first = replace(spec, services=(*spec.services, internal))
    scraped_worker = new_service(
        first, "variant-worker", kind=WORKER, container_port=unused_port(first), metrics_path="/metrics"
    )
    second = replace(first, services=(*first.services, scraped_worker))
    silent_worker = new_service(second, "variant-quiet", kind=WORKER)
    caller = next(s for s in spec.services if s.is_public and s.route is None)
    services = tuple(
        replace(s, calls=(*s.calls, internal.name)) if s.name == caller.name else s
        for s in (*second.services, silent_worker)
    )
    return replace(spec, services=services)


def own_services(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with two services of the test's own instead of the profile's: ``alpha``, public on the
    default route, using the database and running the migrations, and ``bravo``, public under
    ``/bravo/*``, calling alpha and running the smoke tests. For checks of the spec's rules that
    must not depend on what a profile ships (a profile's Prometheus or Grafana could never be
    named alpha or bravo: those are the test's)."""
    alpha_port = unused_port(spec)
    template = spec.services[0]
    common: dict[str, object] = {
        "cpu": template.cpu,
        "memory_mib": template.memory_mib,
        "min_tasks": 1,
        "max_tasks": 2,
        "ecs_exec": False,
        "initial_image_tag": template.initial_image_tag,
        "health_check_path": "/health",
        "metrics_path": "/metrics",
    }
    alpha = ServiceSpec(
        name="alpha",
        container_name="alpha",
        container_port=alpha_port,
        uses_database=True,
        **common,  # type: ignore[arg-type]
    )
    bravo = ServiceSpec(
        name="bravo",
        container_name="bravo",
        container_port=unused_port(spec, taken={alpha_port}),
        route="/bravo/*",
        calls=("alpha",),
        **common,  # type: ignore[arg-type]
    )
    return replace(
        spec,
        services=(alpha, bravo),
        delivery=replace(spec.delivery, migrations_service="alpha", api_service="alpha", smoke_test_service="bravo"),
    )


SECRETS_ACCOUNT = "111122223333"
"""The account the variants' secrets name in a complete ARN."""


def with_settings_and_secrets(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with settings and secrets of every form on the services chosen by what they do: the
    migrating service (a secret by name, an SSM parameter under a key of its own), the smoke-test
    service (a complete ARN with a JSON key), and a caller (a setting)."""
    migrating = spec.service(spec.delivery.migrations_service)
    smoke = spec.service(spec.delivery.smoke_test_service)
    caller = next((s for s in spec.services if s.calls and s.name not in (migrating.name, smoke.name)), smoke)
    project, environment = spec.project, spec.environment
    changes: dict[str, dict[str, object]] = {
        migrating.name: {
            "settings": {"FEATURE_FLAGS": "search,reports", "HOSTNAME": "0.0.0.0"},
            "secrets": {
                "PAYMENTS_API_KEY": SecretsManagerSecret(name=f"{project}/{environment}/payments"),
                "SESSION_SECRET": ParameterStoreSecret(
                    name=f"/{project}/{environment}/session",
                    key_arn=f"arn:aws:kms:{spec.region}:{SECRETS_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                ),
            },
        },
        smoke.name: {
            "settings": {"SMOKE_USER": "smoke@example.com"},
            "secrets": {
                "SMOKE_PASSWORD": SecretsManagerSecret(
                    name=f"arn:aws:secretsmanager:{spec.region}:{SECRETS_ACCOUNT}:secret:{project}-smoke-Ab12Cd",
                    json_key="password",
                )
            },
        },
    }
    settings = changes.setdefault(caller.name, {}).setdefault("settings", {})
    assert isinstance(settings, dict)
    settings["NEXT_TELEMETRY_DISABLED"] = "1"
    return replace(spec, services=tuple(replace(s, **changes.get(s.name, {})) for s in spec.services))  # type: ignore[arg-type]


def every_kind_variant(spec: PlatformSpec) -> PlatformSpec:
    """The profile with a service of every kind, settings and secrets of every form, and Grafana
    (whether the profile runs it or not): what the suite checks beside the shipped profiles, so
    each kind follows into every template. Its budget was set for the profile's services, not
    for these: the variant has none."""
    varied = with_settings_and_secrets(with_every_kind(spec))
    return replace(varied, grafana=spec.grafana or GrafanaSpec(), monthly_budget_usd=None)


OUTSIDE_REGION = "eu-west-1"
"""Where the suite moves a profile that is in us-east-1, to check a platform outside it."""
TEST_DOMAIN = DomainSpec(name="shop.example.org", hosted_zone_name="example.org", hosted_zone_id="Z0TESTZONE0000")


def outside_us_east_1(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` in a region other than us-east-1 (as it is, where it already is elsewhere), its zones
    the same zone numbers there, and with a domain of its own where it has none: so its edge stack
    holds the web ACL, the viewer-request function and the viewer certificate."""
    region = spec.region if spec.region != CLOUDFRONT_REGION else OUTSIDE_REGION
    prefix = region_zone_prefix(region)
    zones = tuple(f"{prefix}-{zone.rsplit('-', 1)[1]}" for zone in spec.network.zone_ids)
    return replace(
        spec,
        region=region,
        network=replace(spec.network, zone_ids=zones),
        edge=spec.edge if spec.edge.domain is not None else replace(spec.edge, domain=TEST_DOMAIN),
    )


def with_changed_port(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with its first service that listens on a port moved to a port nothing uses: its target
    group (where it has one) takes a port only a new one can have."""
    moved = _first_with_port(spec)
    port = unused_port(spec)
    return replace(spec, services=tuple(replace(s, container_port=port) if s == moved else s for s in spec.services))


def _first_with_port(spec: PlatformSpec) -> ServiceSpec:
    return next(s for s in spec.services if s.container_port is not None)


def with_renamed_service(spec: PlatformSpec, old: str) -> PlatformSpec:
    """``spec`` with service ``old`` under a name nothing has, and everything that named it (callers,
    the release's services) naming the new one."""
    new = unused_name(spec, "variant-renamed")

    def renamed(service: ServiceSpec) -> ServiceSpec:
        calls = tuple(new if callee == old else callee for callee in service.calls)
        if service.name != old:
            return replace(service, calls=calls)
        container = new if service.container_name == old else service.container_name
        return replace(service, name=new, container_name=container, calls=calls)

    delivery = spec.delivery
    roles = ("migrations_service", "api_service", "smoke_test_service")
    changes: dict[str, object] = {role: new for role in roles if getattr(delivery, role) == old}
    return replace(
        spec,
        services=tuple(renamed(s) for s in spec.services),
        delivery=replace(delivery, **changes),  # type: ignore[arg-type]
    )


def with_replacing_changes(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with the changes the code says replace what other stacks read: a service's port
    (``with_changed_port``), another service's name, and the Cloud Map namespace's name."""
    other = next(s.name for s in spec.services if s != _first_with_port(spec))
    return replace(with_renamed_service(with_changed_port(spec), other), namespace=f"variant.{spec.namespace}")


def with_record_elsewhere(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` whose audit trail and detection its organization provides (named by a trail ARN of
    the spec's region), and whose backups are copied to a vault in another region."""
    account = spec.account or "111122223333"
    elsewhere = OUTSIDE_REGION if spec.region != OUTSIDE_REGION else CLOUDFRONT_REGION
    return replace(
        spec,
        audit=AuditSpec(
            mode="organization",
            organization_trail_arn=f"arn:aws:cloudtrail:{spec.region}:{account}:trail/organization-trail",
        ),
        backup_copy=BackupCopySpec(
            destination_vault_arn=f"arn:aws:backup:{elsewhere}:{account}:backup-vault:{spec.stack_prefix}-copies"
        ),
    )
