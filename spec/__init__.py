"""The platform's single typed description (see ``spec.model``)."""

from spec.context import spec_from_context
from spec.errors import SpecError
from spec.model import (
    NFS_PORT,
    ContainerUser,
    DatabaseSpec,
    DeliverySpec,
    DomainSpec,
    EdgeSpec,
    GrafanaSpec,
    HelperImagesSpec,
    NetworkSpec,
    PlatformSpec,
    PrometheusSpec,
    ServiceSpec,
)

__all__ = [
    "NFS_PORT",
    "ContainerUser",
    "DatabaseSpec",
    "DeliverySpec",
    "DomainSpec",
    "EdgeSpec",
    "GrafanaSpec",
    "HelperImagesSpec",
    "NetworkSpec",
    "PlatformSpec",
    "PrometheusSpec",
    "ServiceSpec",
    "SpecError",
    "spec_from_context",
]
