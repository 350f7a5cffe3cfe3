"""The shipped profiles reproduce the original platform: its names, ports, paths and shape, as the
documents it was built from give them (the seeds). These are the only tests that name them.

A platform made one's own (docs/adopting.md) has its own names: then these are skipped, and every
other test follows the spec it finds."""

from __future__ import annotations

from platform_spec import spec_from_context
from platform_spec.names import LAYERS
from tests.original import original_platform_only

pytestmark = original_platform_only


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
        assert service.kind == "public"
    assert frontend.calls == ("backend",)
    assert backend.uses_database
    assert not frontend.uses_database
    assert spec.dns_name(backend) == "backend.davidshaevel.local"


def test_the_original_stack_names() -> None:
    spec = spec_from_context({"env": "dev"})
    assert [spec.stack_name(layer) for layer in LAYERS] == [
        "dev-davidshaevel-network",
        "dev-davidshaevel-data",
        "dev-davidshaevel-compute",
        "dev-davidshaevel-observability",
        "dev-davidshaevel-delivery",
    ]
