"""Turning CDK context (``-c key=value``) into a validated ``PlatformSpec``.

Only ``app.py`` reads context; it hands the raw mapping here. Keys:

- ``env``: the profile, ``dev`` (default) or ``prod``.
- ``<service>_image_tag``: deploy that image tag of the service's repository.
- ``<service>_ecs_exec``: ``true`` or ``false``, switches ECS Exec for the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from spec.errors import SpecError
from spec.model import PlatformSpec, ServiceSpec, check_image_tag
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
    changes: dict[str, dict[str, object]] = {}
    known = [service.name for service in spec.services]
    for key in sorted(context):
        match = _OVERRIDE_KEY.match(key)
        if match is None:
            continue
        service_name, setting = match["service"], match["setting"]
        if service_name not in known:
            raise SpecError(
                f"context {key}",
                context[key],
                f"no service named {service_name!r} in profile {spec.environment} (services: {', '.join(known)})",
            )
        value = context[key]
        if setting == "image_tag":
            if not isinstance(value, str):
                raise SpecError(f"context {key}", value, "image tag must be a string")
            check_image_tag(f"context {key}", value)
            changes.setdefault(service_name, {})["image_tag"] = value
        else:
            changes.setdefault(service_name, {})["ecs_exec"] = parse_bool(key, value)
    if not changes:
        return spec
    services: tuple[ServiceSpec, ...] = tuple(
        replace(service, **changes[service.name]) if service.name in changes else service  # type: ignore[arg-type]
        for service in spec.services
    )
    return replace(spec, services=services)
