"""Specs no profile ships, shared by the tests that need them."""

from __future__ import annotations

from dataclasses import replace

from platform_spec import PlatformSpec


def with_third_service(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with an ``admin`` service beside the others: nothing else changed by hand."""
    admin = replace(
        spec.service("backend"),
        name="admin",
        container_name="admin",
        container_port=3002,
        route="/admin/*",
        metrics_path="/metrics",
        uses_database=False,
    )
    return replace(spec, services=(*spec.services, admin))
