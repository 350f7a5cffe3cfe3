"""What one stack hands another: typed, and no more than the receiver uses. A stack never
receives another stack object, so nothing can reach past its handle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_aps as aps
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery

from cdk_constructs.admin_password import AdminPassword
from cdk_constructs.application_service import ApplicationService
from cdk_constructs.image_repositories import ImageRepositories
from cdk_constructs.postgres_database import PostgresDatabase
from cdk_constructs.prometheus_file_system import PrometheusFileSystem
from cdk_helpers.handles import ConfigSource
from cdk_helpers.log_groups import Logging


@dataclass(frozen=True)
class ComputeState:
    """From the data stack to the compute stack."""

    logging: Logging
    database: PostgresDatabase
    repositories: ImageRepositories
    access_logs: s3.IBucket


@dataclass(frozen=True)
class ObservabilityState:
    """From the data stack to the observability stack."""

    logging: Logging
    config: ConfigSource
    prometheus_storage: PrometheusFileSystem
    metrics_workspace: aps.CfnWorkspace | None
    grafana_admin_password: AdminPassword | None


@dataclass(frozen=True)
class DeliveryState:
    """From the data stack to the delivery stack."""

    logging: Logging
    database: PostgresDatabase
    repositories: ImageRepositories


@dataclass(frozen=True)
class ReleasedCompute:
    """From the compute stack to the delivery stack: what a release's update of the image tags
    changes, for the role CloudFormation makes that update with."""

    services: Sequence[ApplicationService]
    hooks: Sequence[lambda_.IFunction]
    """The functions of the custom resources that read the tags."""


@dataclass(frozen=True)
class ObservedPlatform:
    """From the compute stack to the observability stack: what Prometheus discovers in, what
    the alarms watch, and where Grafana is served."""

    namespace: servicediscovery.IPrivateDnsNamespace
    listener: elbv2.ApplicationListener
    load_balancer: elbv2.ApplicationLoadBalancer
    public_hosts: tuple[str, ...]
    services: Mapping[str, ApplicationService]
