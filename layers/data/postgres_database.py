"""PostgreSQL on RDS: encrypted, TLS-only, IAM authentication, RDS-managed secret."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from layers.data.master_secret_key import MasterSecretKey, master_secret_reader_name
from layers.shared.log_groups import Logging
from layers.shared.secret_access import grant_secret_read, secret_handle
from platform_spec import DatabaseSpec
from platform_spec.schedule import RunSchedule

MASTER_USERNAME = "postgres"
MAJOR_ONLY = (
    "cfn-lint's data lists a bare major among deprecated versions; RDS takes one and creates a recent "
    "minor of it (RDS user guide, Supported PostgreSQL versions; cfn-lint#3849 fixed the same in E3691)."
)
LOG_EXPORTS = ("postgresql", "upgrade")


class PostgresDatabase(Construct):
    """One RDS for PostgreSQL instance in the isolated subnets.

    The master password is generated and rotated by RDS itself in Secrets
    Manager (``ManageMasterUserPassword``): no rotation Lambda, so nothing but
    the services the spec names needs a network path to the database. The secret
    is encrypted with a key of its own (``secret_key``) that only the role named
    ``reader_role_name`` may decrypt with, so an account administrator's
    ``secretsmanager:*`` and ``kms:*`` do not read it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        identifier: str,
        database: DatabaseSpec,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        logging: Logging,
        removal_policy: RemovalPolicy,
        schedule: RunSchedule | None = None,
    ) -> None:
        """``identifier``: the instance's fixed name (``spec.database_identifier``), which also names its
        log groups and the master secret's reader role. ``database``: the spec's engine, size, backup
        and availability settings. ``vpc``: the platform's VPC, in whose isolated subnets it runs.
        ``security_group``: the network stack's sealed database group. ``key``: the data key, which
        encrypts storage and snapshots. ``logging``: the key and retention of its exported log groups.
        ``removal_policy``: what deleting it does (kept in production, else a final snapshot).
        ``schedule``: the profile's window, if it sleeps: RDS's backup and maintenance windows
        fall inside it, for RDS backs up only an available instance (RDS user guide, "Introduction
        to backups": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html);
        without one (default), RDS picks them."""
        super().__init__(scope, construct_id)
        self.database = database
        self.reader_role_name = master_secret_reader_name(identifier)
        self.secret_key = MasterSecretKey(
            self, "MasterSecretKey", identifier=identifier, reader_role_name=self.reader_role_name
        ).key
        log_groups = self._build_log_groups(identifier, logging)
        self.instance = self._build_instance(
            identifier=identifier,
            database=database,
            vpc=vpc,
            security_group=security_group,
            key=key,
            removal_policy=removal_policy,
            schedule=schedule,
        )
        for group in log_groups:
            self.instance.node.add_dependency(group)
        self.key = key
        self.secret = self._master_secret()
        self._acknowledge(database)

    def _build_log_groups(self, identifier: str, logging: Logging) -> list[logs.LogGroup]:
        # Created here, not by RDS, so they are encrypted and have a retention
        # without the log-retention Lambda CDK would otherwise add.
        return [
            logging.log_group(
                self,
                f"{export.capitalize()}Logs",
                name=f"/aws/rds/instance/{identifier}/{export}",
                removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            )
            for export in LOG_EXPORTS
        ]

    def _build_parameter_group(self, engine: rds.IInstanceEngine) -> rds.ParameterGroup:
        return rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="TLS only; log connections, and with pgaudit every DDL and role change",
            parameters={
                "rds.force_ssl": "1",
                "log_connections": "1",
                "log_disconnections": "1",
                # RDS user guide, "Using pgAudit to log database activity": the library is loaded
                # at start (a static parameter), and RDS wants rds_pgaudit as its role, which the
                # database bootstrap creates with the extension.
                "shared_preload_libraries": "pg_stat_statements,pgaudit",
                "pgaudit.log": "ddl,role",
                "pgaudit.role": "rds_pgaudit",
            },
        )

    def _build_instance(
        self,
        *,
        identifier: str,
        database: DatabaseSpec,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        schedule: RunSchedule | None,
    ) -> rds.DatabaseInstance:
        # EngineVersion is the spec's as given. A major alone ("17") with minor upgrades on: RDS
        # creates the default minor and, when the template sends the major, upgrades to it only if
        # behind, never down (RDS API, ModifyDBInstance EngineVersion: "If you specify only a major
        # version, Amazon RDS updates the DB instance to the default minor version if the current
        # minor version is lower"). A full version it upgraded past fails the next update
        # (aws/aws-cdk#15475); the spec allows one only with minor upgrades off.
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(database.engine_version, database.major_version)
        )
        windows = schedule.database_windows() if schedule else None
        instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=identifier,
            engine=engine,
            instance_type=ec2.InstanceType(database.instance_class),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            port=database.port,
            database_name=database.database_name,
            credentials=rds.Credentials.from_username(MASTER_USERNAME),
            manage_master_user_password=True,
            iam_authentication=True,
            storage_encrypted=True,
            storage_encryption_key=key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=database.allocated_storage_gib,
            max_allocated_storage=database.max_allocated_storage_gib,
            parameter_group=self._build_parameter_group(engine),
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            backup_retention=Duration.days(database.backup_retention_days),
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            multi_az=database.multi_az,
            deletion_protection=database.deletion_protection,
            auto_minor_version_upgrade=database.auto_minor_version_upgrade,
            allow_major_version_upgrade=False,
            # Enhanced monitoring works on every instance class; Performance
            # Insights reached end of life in 2026 and its successor is paid.
            monitoring_interval=Duration.seconds(60),
            publicly_accessible=False,
            removal_policy=removal_policy,
            preferred_backup_window=windows[0] if windows else None,
            preferred_maintenance_window=windows[1] if windows else None,
        )
        cfn = instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        cfn.master_user_secret = rds.CfnDBInstance.MasterUserSecretProperty(kms_key_id=self.secret_key.key_arn)
        if database.engine_version == database.major_version:
            cfn.add_metadata(
                "cfn-lint", {"config": {"ignore_checks": ["W3691"], "ignore_reasons": {"W3691": MAJOR_ONLY}}}
            )
        return instance

    def _master_secret(self) -> secretsmanager.ISecret:
        cfn = self.instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        return secret_handle(self, "MasterSecret", cfn.attr_master_user_secret_secret_arn)

    def _acknowledge(self, database: DatabaseSpec) -> None:
        instance = Validations.of(self.instance)
        instance.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-RDS11",
                reason="Moving off 5432 hides nothing: the database sits in isolated subnets and its security "
                "group admits only the groups the spec connects to it.",
            )
        )
        single_zone = "This profile trades high availability for cost; the spec refuses a production profile "
        if not database.multi_az:
            for rule_id in ("AwsSolutions::AwsSolutions-RDS3", "NIST.800.53.R5::NIST.800.53.R5-RDSMultiAZSupport"):
                instance.acknowledge(Acknowledgment(id=rule_id, reason=single_zone + "without Multi-AZ."))
        if not database.deletion_protection:
            for rule_id in (
                "AwsSolutions::AwsSolutions-RDS10",
                "NIST.800.53.R5::NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
            ):
                instance.acknowledge(
                    Acknowledgment(
                        id=rule_id,
                        reason="This profile can be torn down, and deleting it snapshots the database first; "
                        "the spec refuses a production profile without deletion protection.",
                    )
                )
        monitoring_role = self.instance.node.find_child("MonitoringRole")
        Validations.of(monitoring_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                reason="Enhanced monitoring requires this AWS-maintained service-role policy; it lets RDS write "
                "OS metrics to the RDSOSMetrics log group and nothing else.",
            )
        )

    def grant_secret_read(self, grantee: iam.IGrantable) -> None:
        """Read the master secret (and decrypt it, only through Secrets Manager): only a role named
        ``reader_role_name`` can, whatever its grants, since the key's policy names no other."""
        grant_secret_read(grantee, secret=self.secret, key=self.secret_key)

    def grant_connect(self, grantee: iam.IGrantable, database_user: str) -> iam.Grant:
        """``rds-db:connect`` as exactly this user of exactly this instance."""
        return self.instance.grant_connect(grantee, database_user)
