"""Data stack: everything that holds state, termination-protected and retained.

Compute and observability can be destroyed and rebuilt from this stack's
handles without losing anything.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, CfnResource, DefaultStackSynthesizer, ReferenceStrength, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from layers.data.access_log_bucket import AccessLogBucket
from layers.data.admin_password import AdminPassword
from layers.data.config_bucket import ConfigBucket
from layers.data.data_backups import DataBackups
from layers.data.handles import ComputeState, ConfigSource, DeliveryState, ObservabilityState
from layers.data.image_mirror import ImageMirror
from layers.data.image_repositories import ImageRepositories
from layers.data.metrics_workspace import MetricsWorkspace
from layers.data.mirror_warmer import MirrorWarmer, third_party_images
from layers.data.postgres_database import PostgresDatabase
from layers.data.prometheus_file_system import PrometheusFileSystem
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.observability.audit_trail import AuditTrail, audit_namespace
from layers.shared.log_groups import Logging
from layers.shared.logs_key import LogsKey
from layers.shared.scheduled_stop import ScheduledStop, StopStart
from platform_spec import PlatformSpec
from platform_spec.names import AUDIT_TRAIL, DELIVERY


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        vpc: ec2.IVpc,
        security_groups: PlatformSecurityGroups,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)
        self.data_key = kms.Key(
            self,
            "DataKey",
            description=f"{spec.stack_prefix} data at rest: database, file system, configuration, images, backups",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.logs_key = LogsKey(self, "LogsKey", description=f"{spec.stack_prefix} CloudWatch log groups").key
        self.logging = Logging(key=self.logs_key, retention_days=spec.log_retention_days)
        self.exec_log_group = self.logging.log_group(
            self,
            "ExecSessions",
            name=spec.exec_log_group_name,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.access_logs = AccessLogBucket(self, "AccessLogs", retention_days=spec.access_log_retention_days).bucket
        self.database = PostgresDatabase(
            self,
            "Database",
            identifier=spec.database_identifier,
            database=spec.database,
            vpc=vpc,
            security_group=sealed(self, "DatabaseGroup", security_groups.database),
            key=self.data_key,
            logging=self.logging,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if spec.production else RemovalPolicy.SNAPSHOT,
            schedule=spec.schedule,
        )
        if spec.schedule is not None:
            ScheduledStop(
                self,
                "DatabaseSleep",
                name=f"{spec.stack_prefix}-database",
                schedule=spec.schedule,
                calls=StopStart(
                    service="rds",
                    stop="stopDBInstance",
                    start="startDBInstance",
                    arguments={"DbInstanceIdentifier": spec.database_identifier},
                    resource_arn=self.database.instance.instance_arn,
                ),
            )
        self.prometheus_storage = prometheus_storage = PrometheusFileSystem(
            self,
            "PrometheusStorage",
            prometheus=spec.prometheus,
            vpc=vpc,
            security_group=sealed(self, "FileSystemGroup", security_groups.file_system),
            key=self.data_key,
        )
        self.prometheus_file_system = prometheus_storage.file_system
        self.prometheus_access_point = prometheus_storage.access_point
        self.config_bucket = ConfigBucket(
            self,
            "Config",
            bucket_name=spec.config_bucket_name(Aws.ACCOUNT_ID),
            key=self.data_key,
            access_logs=self.access_logs,
            log_prefix="s3/config/",
        ).bucket
        self.repositories = ImageRepositories(
            self,
            "Images",
            name_prefix=spec.stack_prefix,
            services=spec.services,
            images_kept=spec.images_kept,
            releases_kept=spec.releases_kept,
            key=self.data_key,
        )
        self.image_mirror = ImageMirror(self, "ImageMirror", stack_prefix=spec.stack_prefix, mirror=spec.image_mirror)
        # Before any task pulls a pin by digest (compute, observability and delivery deploy after this stack).
        self.mirror_warmer = MirrorWarmer(
            self,
            "ImageMirrorWarmer",
            images=third_party_images(spec),
            stack_prefix=spec.stack_prefix,
            mirror=spec.image_mirror,
            rules=list(self.image_mirror.rules.values()),
            logging=self.logging,
        )
        self.grafana_admin_password: AdminPassword | None = (
            AdminPassword(self, "GrafanaAdmin", description=f"{spec.stack_prefix} Grafana admin", key=self.data_key)
            if spec.grafana
            else None
        )
        self.metrics_workspace = (
            MetricsWorkspace(self, "Metrics", alias=spec.stack_prefix).workspace
            if spec.prometheus.remote_write
            else None
        )
        self.backups = DataBackups(
            self,
            "Backups",
            description=spec.stack_prefix,
            previous_key=self.data_key,
            retention_days=spec.backup_retention_days,
            lock=spec.backup_lock,
            copy=spec.backup_copy,
            resources=[
                backup.BackupResource.from_rds_database_instance(self.database.instance),
                backup.BackupResource.from_efs_file_system(self.prometheus_file_system),
            ],
            schedule=spec.schedule,
        )
        self._audit(spec)
        self._reference_strongly()

    def _audit(self, spec: PlatformSpec) -> None:
        """The platform's audit trail, or the organization's, named in an output either way."""
        if not spec.audit.by_platform:
            CfnOutput(self, AUDIT_TRAIL, value=str(spec.audit.organization_trail_arn))
            return
        qualifier = self.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or (
            DefaultStackSynthesizer.DEFAULT_QUALIFIER
        )
        execution_role = f"cdk-{qualifier}-cfn-exec-role-"
        self.audit = AuditTrail(
            self,
            "Audit",
            trail_name=f"{spec.stack_prefix}-audit",
            lock_days=spec.audit.log_lock_days,
            logging=self.logging,
            access_logs=self.access_logs,
            namespace=audit_namespace(spec.stack_prefix),
            iam_changers=(execution_role,),
            # CDK's deploy role starts deploys; the delivery stack's release role updates the compute stack.
            stack_changers=(execution_role, f"cdk-{qualifier}-deploy-role-", f"{spec.stack_name(DELIVERY)}-"),
            detector=spec.audit.detector,
        )
        CfnOutput(self, AUDIT_TRAIL, value=self.audit.trail.attr_arn)

    @property
    def for_compute(self) -> ComputeState:
        return ComputeState(
            logging=self.logging, database=self.database, repositories=self.repositories, access_logs=self.access_logs
        )

    @property
    def for_observability(self) -> ObservabilityState:
        return ObservabilityState(
            logging=self.logging,
            config=ConfigSource(bucket=self.config_bucket, key=self.data_key),
            prometheus_storage=self.prometheus_storage,
            metrics_workspace=self.metrics_workspace,
            grafana_admin_password=self.grafana_admin_password,
        )

    @property
    def for_delivery(self) -> DeliveryState:
        return DeliveryState(logging=self.logging, database=self.database, repositories=self.repositories)

    def _reference_strongly(self) -> None:
        """Other stacks read this stack's values through exports (``Fn::ImportValue``), not the
        app's default ``Fn::GetStackOutput``: an export cannot be removed while a stack imports
        it, which is what state wants, and its value is known when a change set is made
        (aws/aws-cdk#38829), and it costs no DescribeStacks call (aws/aws-cdk#38010).
        docs/operations.md: "Cross-stack references"."""
        for construct in self.node.find_all():
            if isinstance(construct, CfnResource):
                construct.apply_cross_stack_reference_strength(ReferenceStrength.STRONG)
