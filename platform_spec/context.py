"""Turning CDK context (``-c key=value``) into a validated ``PlatformSpec``.

Only ``app.py`` reads context; it hands the raw mapping here. Keys:

- ``env``: the profile, ``dev`` (default) or ``prod``.
- ``<service>_image_tag`` is refused: images are released by the deployment state machine,
  and a deploy keeps the released tags (docs/operations.md, "Releasing an image").
- ``<service>_ecs_exec``: ``true`` or ``false``, switches ECS Exec for the service (also
  ``prometheus_ecs_exec``, ``alertmanager_ecs_exec`` and, where Grafana runs, ``grafana_ecs_exec``).
- ``hosted_zone_id``: the Route 53 hosted zone of the profile's domain (a profile with a domain
  may name it in ``DomainSpec.hosted_zone_id`` instead); a synth needs it, the tools do not.

Any other key is refused, naming the keys the app knows and, for a near miss (``ENV``,
``environment``, ``backendImageTag``), the key meant; the CDK's own keys (feature flags,
``aws:cdk:*`` settings, lookups) all contain ``:`` or start with ``@``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from platform_spec.checks import check_hosted_zone_id
from platform_spec.errors import SpecError
from platform_spec.platform import PlatformSpec
from platform_spec.profiles import DEFAULT_PROFILE, PROFILES
from platform_spec.spelling import built

PROFILE_KEY = "env"
HOSTED_ZONE_KEY = "hosted_zone_id"
_OVERRIDE_KEY = re.compile(r"^(?P<service>[a-z][a-z0-9-]*)_(?P<setting>image_tag|ecs_exec)$")
# Words people use for the profile.
_PROFILE_SYNONYMS = frozenset({"env", "environment", "environ", "profile", "stage"})


def parse_bool(key: str, value: object) -> bool:
    """Context values arrive as strings from ``-c`` and as JSON from cdk.json."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SpecError(f"context {key}", value, "must be true or false")


def spec_from_context(context: Mapping[str, object]) -> PlatformSpec:
    """The profile named by ``env`` with the per-deploy overrides applied."""
    profile = context.get(PROFILE_KEY, DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise SpecError(f"context {PROFILE_KEY}", profile, f"unknown profile; choose one of {', '.join(PROFILES)}")
    spec = built(PROFILES[str(profile)])
    return apply_overrides(with_hosted_zone(spec, context), context)


def with_hosted_zone(spec: PlatformSpec, context: Mapping[str, object]) -> PlatformSpec:
    """The profile's domain with the hosted zone id from ``-c hosted_zone_id``, if given."""
    if HOSTED_ZONE_KEY not in context:
        return spec
    value = context[HOSTED_ZONE_KEY]
    if spec.edge.domain is None:
        raise SpecError(
            f"context {HOSTED_ZONE_KEY}",
            value,
            f"profile {spec.environment} names no domain (EdgeSpec.domain) for a hosted zone to serve",
        )
    zone_id = check_hosted_zone_id(f"context {HOSTED_ZONE_KEY}", value)
    return replace(spec, edge=replace(spec.edge, domain=replace(spec.edge.domain, hosted_zone_id=zone_id)))


def require_hosted_zone(spec: PlatformSpec) -> None:
    """A synth must know the zone that validates the certificates and holds the alias records;
    synth makes no lookups, so nothing can find it."""
    domain = spec.edge.domain
    if domain is not None and domain.hosted_zone_id is None:
        raise SpecError(
            f"context {HOSTED_ZONE_KEY}",
            None,
            f"profile {spec.environment} serves {domain.name}: give the id of its Route 53 public hosted zone "
            f"{domain.hosted_zone_name} with -c {HOSTED_ZONE_KEY}=Z... (aws route53 list-hosted-zones-by-name "
            f"--dns-name {domain.hosted_zone_name}) or in DomainSpec.hosted_zone_id",
        )


def apply_overrides(spec: PlatformSpec, context: Mapping[str, object]) -> PlatformSpec:
    service_changes: dict[str, dict[str, object]] = {}
    # Prometheus, Alertmanager and Grafana run pinned images; only ECS Exec can be switched for them
    # (Alertmanager's, for its amtool: docs/operations.md, "Alerts").
    platform_exec: dict[str, bool] = {}
    platform_names = {spec.prometheus.name, spec.alertmanager.name, *([spec.grafana.name] if spec.grafana else [])}
    known = [service.name for service in spec.services]
    for key in sorted(context):
        match = _OVERRIDE_KEY.match(key)
        if match is None:
            continue
        name, setting, value = match["service"], match["setting"], context[key]
        if name in platform_names and setting == "ecs_exec":
            platform_exec[name] = parse_bool(key, value)
            continue
        if name not in known:
            raise SpecError(
                f"context {key}",
                value,
                f"no service named {name!r} in profile {spec.environment} (services: {', '.join(known)})",
            )
        if setting == "image_tag":
            raise SpecError(
                f"context {key}",
                value,
                "a deploy keeps the released image tags; release one with "
                f"`python -m tools.release start --env {spec.environment} --tag <tag>` "
                "(docs/operations.md: Releasing an image)",
            )
        service_changes.setdefault(name, {})["ecs_exec"] = parse_bool(key, value)
    prometheus = spec.prometheus
    if prometheus.name in platform_exec:
        prometheus = replace(prometheus, ecs_exec=platform_exec[prometheus.name])
    alertmanager = spec.alertmanager
    if alertmanager.name in platform_exec:
        alertmanager = replace(alertmanager, ecs_exec=platform_exec[alertmanager.name])
    grafana = spec.grafana
    if grafana is not None and grafana.name in platform_exec:
        grafana = replace(grafana, ecs_exec=platform_exec[grafana.name])
    services = tuple(
        replace(service, **service_changes[service.name]) if service.name in service_changes else service  # type: ignore[arg-type]
        for service in spec.services
    )
    return replace(spec, services=services, prometheus=prometheus, alertmanager=alertmanager, grafana=grafana)


def platform_keys(spec: PlatformSpec) -> tuple[str, ...]:
    """The context keys the platform's stacks read, for ``spec``'s services."""
    exec_targets = [service.name for service in spec.services] + [spec.prometheus.name, spec.alertmanager.name]
    if spec.grafana is not None:
        exec_targets.append(spec.grafana.name)
    zone = (HOSTED_ZONE_KEY,) if spec.edge.domain is not None else ()
    return (PROFILE_KEY, *(f"{name}_ecs_exec" for name in exec_targets), *zone)


def is_cdk_key(key: str) -> bool:
    """Keys the CDK itself sets or reads: feature flags (``@aws-cdk/...``), the CLI's
    settings (``aws:cdk:...``) and cached lookups (``availability-zones:account=...``)."""
    return ":" in key or key.startswith("@")


def _normalised(key: str) -> str:
    """``backendImageTag`` -> ``backend_image_tag``; ``ENV`` -> ``env``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).replace("-", "_").lower()


def _meant(key: str, candidates: list[str]) -> str | None:
    normalised = _normalised(key)
    if normalised in candidates:
        return normalised
    if normalised in _PROFILE_SYNONYMS:
        return PROFILE_KEY
    close = difflib.get_close_matches(normalised, candidates, n=1, cutoff=0.75)
    return close[0] if close else None


def refuse_unknown_keys(context: Mapping[str, object], known: Iterable[str], *, spec: PlatformSpec) -> None:
    """A key that is neither the CDK's nor in ``known`` (nor a refused image-tag key, which
    ``apply_overrides`` explains) ends the app, naming the key meant if it is a near miss."""
    known = list(known)
    tags = [f"{service.name}_image_tag" for service in spec.services]
    for key in sorted(context):
        if is_cdk_key(key) or key in known or key in tags:
            continue
        meant = _meant(key, [*known, *tags])
        hint = f"did you mean {meant}? " if meant else ""
        if meant in tags:
            hint = (
                f"did you mean {meant}? That is refused too: image tags are released, not deployed "
                f"(`python -m tools.release start --env {spec.environment} --tag <tag>`); "
            )
        raise SpecError(f"context {key}", context[key], f"unknown key; {hint}the app reads {', '.join(known)}")
