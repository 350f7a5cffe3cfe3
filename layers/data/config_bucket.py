"""A private bucket for configuration the platform renders at synth."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


class ConfigBucket(Construct):
    """KMS-encrypted, versioned, TLS-only, private, access-logged."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        log_prefix: str,
    ) -> None:
        """``bucket_name``: the spec's ``config_bucket_name``, fixed so the network stack's S3 endpoint
        policy names it. ``key``: the data key, which encrypts the objects. ``access_logs``: the access
        log bucket, which gets this bucket's server access logs. ``log_prefix``: their prefix there
        (``s3/config/``)."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            # Named (with the account and region, as bucket names are global), so the VPC's S3
            # endpoint policy in the network stack can name it without a reference.
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=log_prefix,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                reason="Everything in this bucket is rendered from the repository at each deploy "
                "and its versions are kept; a second-region copy would add nothing to recovery.",
            )
        )
