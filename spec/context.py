"""Turning CDK context (``-c key=value``) into a validated ``PlatformSpec``.

Only ``app.py`` reads context; it hands the raw mapping here. Keys:

- ``env``: the profile, ``dev`` (default) or ``prod``.
- ``<service>_image_tag`` is refused: images are released by the deployment state machine,
  and a deploy keeps the released tags (README, "Releasing an image").
- ``<service>_ecs_exec``: ``true`` or ``false``, switches ECS Exec for the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from spec.errors import SpecError
from spec.model import PlatformSpec
from spec.profiles import DEFAULT_PROFILE, PROFILES

PROFILE_KEY = "env"
_OVERRIDE_KEY = re.compile(r"^(?P<service>[a-z][a-z0-9-]*)_(?P<setting>image_tag|ecs_exec)$")


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
    spec = PROFILES[str(profile)]()
    return apply_overrides(spec, context)


def apply_overrides(spec: PlatformSpec, context: Mapping[str, object]) -> PlatformSpec:
    service_changes: dict[str, dict[str, object]] = {}
    # Prometheus and Grafana run pinned images; only ECS Exec can be switched for them.
    platform_exec: dict[str, bool] = {}
    platform_names = {spec.prometheus.name, *(["grafana"] if spec.grafana else [])}
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
                f"`python -m tools.release start --env {spec.environment} --tag <tag>` (README: Releasing an image)",
            )
        service_changes.setdefault(name, {})["ecs_exec"] = parse_bool(key, value)
    prometheus = spec.prometheus
    if prometheus.name in platform_exec:
        prometheus = replace(prometheus, ecs_exec=platform_exec[prometheus.name])
    grafana = spec.grafana
    if grafana is not None and "grafana" in platform_exec:
        grafana = replace(grafana, ecs_exec=platform_exec["grafana"])
    services = tuple(
        replace(service, **service_changes[service.name]) if service.name in service_changes else service  # type: ignore[arg-type]
        for service in spec.services
    )
    return replace(spec, services=services, prometheus=prometheus, grafana=grafana)
