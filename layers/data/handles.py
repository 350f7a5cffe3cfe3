"""What the data stack hands the others: typed, and no more than each receiver uses. A stack
never receives another stack object, so nothing can reach past its handle."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_aps as aps
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from layers.data.admin_password import AdminPassword
from layers.data.image_repositories import ImageRepositories
from layers.data.postgres_database import PostgresDatabase
from layers.data.prometheus_file_system import PrometheusFileSystem
from layers.shared.log_groups import Logging


@dataclass(frozen=True)
class ConfigSource:
    """The data stack's configuration bucket and the key its objects (and the platform's
    generated secrets) are encrypted with: where tasks read their rendered configuration."""

    bucket: s3.IBucket
    key: kms.IKey


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
