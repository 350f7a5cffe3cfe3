"""The platform spec: the typed description of the platform, and its one import surface
(``from platform_spec import PlatformSpec``) over the subject modules.

Every name, port, path and size the stacks use is written once in the spec. The
dataclasses are frozen and validate themselves when they are built, so a
``PlatformSpec`` that exists is one the stacks can trust. Nothing in the spec imports
CDK: it is plain data, cheap to build and to test.

- ``platform_spec.checks``: the rules fields are checked against (Fargate sizes, ports, names, images)
- ``platform_spec.services``: the application services, of three kinds (public, internal, worker)
- ``platform_spec.objectives``: what a service promises (availability, latency), and the signals measuring it
- ``platform_spec.secrets``: a service's settings and the secrets it reads as it starts
- ``platform_spec.workloads``: Prometheus, Alertmanager, Grafana, helper images, container users
- ``platform_spec.prometheus``: Prometheus, its intervals, and how soon it scrapes a new task
- ``platform_spec.regions``: what the platform knows of each region without a lookup
- ``platform_spec.network``: the VPC
- ``platform_spec.database``: PostgreSQL
- ``platform_spec.edge``: CloudFront and the platform's domain
- ``platform_spec.delivery``: the release
- ``platform_spec.platform``: the whole platform, and the names derived from it
- ``platform_spec.profiles``: the shipped profiles, dev and prod
- ``platform_spec.context``: a spec from CDK context (``-c env=prod``), for ``app.py``
- ``platform_spec.names``: stack names, layers, and the keys of the stacks' outputs and parameters
- ``platform_spec.connections``: every network path, from which each security-group rule follows
- ``platform_spec.ci``: the CI roles' stack
"""

from platform_spec.checks import (
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
from platform_spec.context import spec_from_context
from platform_spec.database import DATABASE_INSTANCE_CLASSES, POSTGRES_MAJORS, POSTGRES_VERSIONS, DatabaseSpec
from platform_spec.delivery import DeliverySpec
from platform_spec.edge import ORIGIN_LABEL, DomainSpec, EdgeSpec
from platform_spec.errors import SpecError
from platform_spec.network import SUBNET_TIERS, VPC_ORIGIN_UNSUPPORTED_ZONE_IDS, NetworkSpec
from platform_spec.objectives import ObjectivesSpec
from platform_spec.platform import PlatformSpec
from platform_spec.prometheus import CLOUD_MAP_TTL_SECONDS, FIRST_SCRAPE_BOUND_SECONDS, PROMETHEUS_THROTTLE_SECONDS
from platform_spec.secrets import ParameterStoreSecret, Secret, SecretsManagerSecret
from platform_spec.services import (
    HEALTH_CHECK_TOOLS,
    INTERNAL,
    PUBLIC,
    SERVICE_KINDS,
    WORKER,
    HealthCheck,
    ServiceKind,
    ServiceSpec,
)
from platform_spec.workloads import (
    NODE_USER,
    ROOT,
    AlertmanagerSpec,
    ContainerUser,
    GrafanaSpec,
    HelperImagesSpec,
    PrometheusSpec,
)

__all__ = [
    "CLOUD_MAP_TTL_SECONDS",
    "DATABASE_INSTANCE_CLASSES",
    "FARGATE_SIZES",
    "FIRST_SCRAPE_BOUND_SECONDS",
    "HEALTH_CHECK_TOOLS",
    "HTTPS_PORT",
    "HTTP_PORT",
    "INTERNAL",
    "LOG_RETENTION_DAYS",
    "NFS_PORT",
    "NODE_USER",
    "ORIGIN_LABEL",
    "POSTGRES_MAJORS",
    "POSTGRES_VERSIONS",
    "PROMETHEUS_THROTTLE_SECONDS",
    "PUBLIC",
    "ROOT",
    "SERVICE_KINDS",
    "SUBNET_TIERS",
    "VPC_ORIGIN_UNSUPPORTED_ZONE_IDS",
    "WORKER",
    "AlertmanagerSpec",
    "Architecture",
    "ContainerUser",
    "DatabaseSpec",
    "DeliverySpec",
    "DomainSpec",
    "EdgeSpec",
    "GrafanaSpec",
    "HealthCheck",
    "HelperImagesSpec",
    "NetworkSpec",
    "ObjectivesSpec",
    "ParameterStoreSecret",
    "PlatformSpec",
    "PrometheusSpec",
    "Secret",
    "SecretsManagerSecret",
    "ServiceKind",
    "ServiceSpec",
    "SpecError",
    "check_hosted_zone_id",
    "check_image_tag",
    "region_zone_prefix",
    "spec_from_context",
]
