"""The bucket that receives access logs: load balancer, CloudFront and S3."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

# Where the load balancer writes its access logs in the bucket.
LOAD_BALANCER_PREFIX = "alb"


class AccessLogBucket(Construct):
    """Versioned, TLS-only, private, expiring after the profile's retention.

    Encrypted with S3-managed keys because load balancer access logs cannot be
    written to a bucket that defaults to KMS.
    """

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        """``retention_days``: how long load balancer, CloudFront and S3 access logs are kept (the
        spec's ``access_log_retention_days``)."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are delivered with an object ACL.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._admit_load_balancer_logs()
        self._acknowledge()

    def _admit_load_balancer_logs(self) -> None:
        """Elastic Load Balancing writes access logs as its own account in the older regions and
        as a service principal in the newer ones (ELB user guide, "Enable access logs for your
        Application Load Balancer", bucket permissions); only under the platform's prefix and
        account, and the service principal only for this account's load balancers."""
        objects = self.bucket.arn_for_objects(f"{LOAD_BALANCER_PREFIX}/AWSLogs/{Aws.ACCOUNT_ID}/*")
        account = RegionInfo.get(Stack.of(self).region).elbv2_account
        if account is not None:
            statement = iam.PolicyStatement(
                actions=["s3:PutObject"], principals=[iam.AccountPrincipal(account)], resources=[objects]
            )
        else:
            statement = iam.PolicyStatement(
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")],
                resources=[objects],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:elasticloadbalancing:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                        "loadbalancer/*"
                    },
                },
            )
        self.bucket.add_to_resource_policy(statement)

    def _acknowledge(self) -> None:
        for rule_id, reason in (
            ("AwsSolutions::AwsSolutions-S1", "This is the access-log bucket; logging it into itself would loop."),
            (
                "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled",
                "This is the access-log bucket; logging it into itself would loop.",
            ),
            (
                "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
                "Load balancer access logs can only be delivered to a bucket encrypted with S3-managed keys.",
            ),
            (
                "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                "Access logs are diagnostics that expire with the profile's retention; "
                "a copy in a second region would hold nothing the platform needs to recover.",
            ),
        ):
            Validations.of(self.bucket).acknowledge(Acknowledgment(id=rule_id, reason=reason))
