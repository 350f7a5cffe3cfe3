"""The account's audit trail and detection, where the platform provides them (``AuditSpec.mode``
``platform``): a multi-region CloudTrail trail with log-file validation into an Object Lock bucket
with a key of its own, a GuardDuty detector, and metrics of the IAM and CloudFormation changes made
by anyone but the deploy path, which the observability stack alarms on (``AuditAlarms``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from layers.shared.log_groups import Logging


@dataclass(frozen=True, kw_only=True)
class AuditMetric:
    """One count of changes made outside the deploy path: the metric filter's and the alarm's."""

    name: str
    """The metric's name (and the alarm's id)."""
    description: str
    event_source: str
    """The AWS service whose write calls are counted (CloudTrail's ``eventSource``)."""


IAM_CHANGES = AuditMetric(
    name="IamChangesOutsideDeploys",
    description="IAM changed by someone other than the CloudFormation execution role",
    event_source="iam.amazonaws.com",
)
STACK_CHANGES = AuditMetric(
    name="StackChangesOutsideDeploys",
    description="A CloudFormation stack changed by someone other than the deploy path (CDK's roles, the release)",
    event_source="cloudformation.amazonaws.com",
)
AUDIT_METRICS = (IAM_CHANGES, STACK_CHANGES)


def audit_namespace(stack_prefix: str) -> str:
    """The CloudWatch namespace of the audit metrics (``dev-davidshaevel/audit``)."""
    return f"{stack_prefix}/audit"


def outside(event_source: str, role_prefixes: Sequence[str]) -> logs.IFilterPattern:
    """A write call to ``event_source`` by anyone but a session of a role whose name starts with one
    of ``role_prefixes`` (CloudTrail's ``userIdentity.arn`` of an assumed role is
    ``arn:<partition>:sts::<account>:assumed-role/<role>/<session>``). The root user, IAM users and
    any other role match."""
    sessions = [f"arn:{Aws.PARTITION}:sts::{Aws.ACCOUNT_ID}:assumed-role/{prefix}*" for prefix in role_prefixes]
    return logs.FilterPattern.all(
        logs.FilterPattern.string_value("$.eventSource", "=", event_source),
        logs.FilterPattern.boolean_value("$.readOnly", False),
        *(logs.FilterPattern.string_value("$.userIdentity.arn", "!=", session) for session in sessions),
    )


class AuditTrail(Construct):
    """The trail, its locked bucket and key, its log group and metric filters, and GuardDuty."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_name: str,
        lock_days: int,
        logging: Logging,
        access_logs: s3.IBucket,
        namespace: str,
        iam_changers: Sequence[str],
        stack_changers: Sequence[str],
        detector: bool,
    ) -> None:
        """``trail_name``: the trail's name (``<prefix>-audit``). ``lock_days``: how long each log file
        is locked (``AuditSpec.log_lock_days``). ``logging``: the events' log group's key and retention.
        ``access_logs``: the access log bucket, for the trail bucket's own access logs. ``namespace``:
        where the metrics go (``audit_namespace``), which ``AuditAlarms`` watches. ``iam_changers``:
        prefixes of the roles whose IAM changes are the deploy path's (CloudFormation's execution
        role), not counted. ``stack_changers``: those whose stack changes are (CDK's roles, the
        delivery stack's release role). ``detector``: make the account's GuardDuty detector
        (``AuditSpec.detector``: one profile per shared account does)."""
        super().__init__(scope, construct_id)
        self.trail_arn = f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{trail_name}"
        self.key = self._build_key()
        self.bucket = self._build_bucket(lock_days=lock_days, access_logs=access_logs)
        self.log_group = logging.log_group(self, "Events", removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        self.trail = self._build_trail(trail_name)
        # One detector per account and region: in an account shared by environments, one makes it.
        self.detector = (
            guardduty.CfnDetector(self, "Detector", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES")
            if detector
            else None
        )
        for metric, changers in ((IAM_CHANGES, iam_changers), (STACK_CHANGES, stack_changers)):
            logs.MetricFilter(
                self,
                metric.name,
                log_group=self.log_group,
                filter_pattern=outside(metric.event_source, changers),
                metric_namespace=namespace,
                metric_name=metric.name,
                metric_value="1",
            )

    def _build_trail(self, trail_name: str) -> cloudtrail.CfnTrail:
        """Every region's management events, IAM's included, with signed digests; delivered to the
        bucket and the log group. CloudTrail writes only for this trail (``aws:SourceArn``: "Amazon S3
        bucket policy for CloudTrail", CloudTrail user guide), which CDK's ``Trail`` does not say."""
        this_trail = {"StringEquals": {"aws:SourceArn": self.trail_arn}}
        service = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        policy = self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisTrailToCheckTheAcl",
                principals=[service],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions=this_trail,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisTrailToWrite",
                principals=[service],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"AWSLogs/{Aws.ACCOUNT_ID}/*")],
                conditions={
                    "StringEquals": {"aws:SourceArn": self.trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
                },
            )
        )
        role = iam.Role(self, "LogsRole", assumed_by=service)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            s3_bucket_name=self.bucket.bucket_name,
            kms_key_id=self.key.key_arn,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=role.role_arn,
        )
        # CloudTrail checks the bucket's policy when the trail is created,
        if policy.policy_dependable is not None:
            trail.node.add_dependency(policy.policy_dependable)
        # and the role's permission to write to the log group (the role itself is a GetAtt).
        trail.node.add_dependency(role.node.find_child("DefaultPolicy"))
        return trail

    def _build_key(self) -> kms.Key:
        """The trail's own key. CloudTrail encrypts each log file for this trail only, and reads the
        key's description ("Configure AWS KMS key policies for CloudTrail", CloudTrail user guide:
        https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html)."""
        key = kms.Key(
            self,
            "Key",
            description="Audit trail log files",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        this_trail = {"StringEquals": {"aws:SourceArn": self.trail_arn}}
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisTrailToEncrypt",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    **this_trail,
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
                        )
                    },
                },
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisTrailToDescribe",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions=this_trail,
            )
        )
        return key

    def _build_bucket(self, *, lock_days: int, access_logs: s3.IBucket) -> s3.Bucket:
        """Versioned, and every object version locked in compliance mode for ``lock_days``: nobody,
        the root user included, deletes or overwrites a log file before then ("Locking objects with
        Object Lock", S3 user guide)."""
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(lock_days)),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3/audit/",
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                reason="Every log file is locked in compliance mode and its digest signed by CloudTrail; "
                "the trail is multi-region, so a copy in another region would hold the same record.",
            )
        )
        return bucket
