"""The typed description of the platform: one import surface over the subject modules.

Every name, port, path and size the stacks use is written once in the spec. The
dataclasses are frozen and validate themselves when they are built, so a
``PlatformSpec`` that exists is one the stacks can trust. Nothing in the spec imports
CDK: it is plain data, cheap to build and to test.

- ``spec.checks``: the rules fields are checked against (Fargate sizes, ports, names, images)
- ``spec.workloads``: application services, Prometheus, Grafana, helper images, container users
- ``spec.network``: the VPC
- ``spec.database``: PostgreSQL
- ``spec.edge``: CloudFront and the platform's domain
- ``spec.delivery``: the release
- ``spec.platform``: the whole platform, and the names derived from it
"""

from spec.checks import (
    FARGATE_SIZES,
    HTTP_PORT,
    HTTPS_PORT,
    LOG_RETENTION_DAYS,
    NFS_PORT,
    Architecture,
    check_hosted_zone_id,
    check_image_tag,
    region_zone_prefix,
)
from spec.database import DATABASE_INSTANCE_CLASSES, POSTGRES_VERSIONS, DatabaseSpec
from spec.delivery import DeliverySpec
from spec.edge import ORIGIN_LABEL, DomainSpec, EdgeSpec
from spec.network import SUBNET_TIERS, VPC_ORIGIN_UNSUPPORTED_ZONE_IDS, NetworkSpec
from spec.platform import PlatformSpec
from spec.workloads import NODE_USER, ROOT, ContainerUser, GrafanaSpec, HelperImagesSpec, PrometheusSpec, ServiceSpec

__all__ = [
    "DATABASE_INSTANCE_CLASSES",
    "FARGATE_SIZES",
    "HTTPS_PORT",
    "HTTP_PORT",
    "LOG_RETENTION_DAYS",
    "NFS_PORT",
    "NODE_USER",
    "ORIGIN_LABEL",
    "POSTGRES_VERSIONS",
    "ROOT",
    "SUBNET_TIERS",
    "VPC_ORIGIN_UNSUPPORTED_ZONE_IDS",
    "Architecture",
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
    "check_hosted_zone_id",
    "check_image_tag",
    "region_zone_prefix",
]
