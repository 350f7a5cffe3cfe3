"""One rendered configuration file, written to the configuration bucket at deploy."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, CustomResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from layers.data.handles import ConfigSource
from layers.shared.deploy_hook import DeployHook
from layers.shared.log_groups import Logging

# Rendered files carry a content hash in their key (rendered_config.content_hash).
_CONTENT_HASH = re.compile(r"[0-9a-f]{16}")


def earlier_versions(object_key: str) -> str:
    """``prometheus/prometheus-<hash>.yml`` -> ``prometheus/prometheus-????????????????.yml``:
    the pattern (IAM's ``?`` is one character) of every version of that file."""
    pattern, count = _CONTENT_HASH.subn("?" * 16, object_key)
    if count != 1:
        raise ValueError(f"configuration key {object_key!r} must carry exactly one 16-digit content hash")
    return pattern


class ConfigObjects(Construct):
    """Writes files rendered at synth into ``bucket`` under keys the caller
    chooses (content-addressed, so a change is a new object), encrypted with
    the bucket's key. The writing function may write and delete only the
    versions of those files (their keys with any content hash)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: ConfigSource,
        files: Mapping[str, str],
        logging: Logging,
    ) -> None:
        """``source``: the bucket and its key. ``files``: content by object key. ``logging``:
        the writing function's log group."""
        super().__init__(scope, construct_id)
        self.source = source
        bucket, key = source.bucket, source.key
        hook = DeployHook(
            self,
            "Hook",
            handler="config_object.handler",
            description="Writes rendered configuration files to the configuration bucket",
            logging=logging,
        )
        # Every version of each file, not only the current keys: when a file changes, the
        # stack's clean-up deletes the object of the previous version after the policy has
        # already been updated to the new one.
        hook.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(p) for p in sorted({earlier_versions(k) for k in files})],
            )
        )
        hook.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        self.objects = [
            CustomResource(
                self,
                f"File{index}",
                service_token=hook.function.function_arn,
                resource_type="Custom::ConfigObject",
                properties={
                    "Bucket": bucket.bucket_name,
                    "Key": object_key,
                    "Content": content,
                    "KmsKeyArn": key.key_arn,
                    "ContentType": "application/json" if object_key.endswith(".json") else "text/yaml",
                },
            )
            for index, (object_key, content) in enumerate(sorted(files.items()))
        ]

    def stored(self, object_keys: Sequence[str], *, list_prefix: str | None = None) -> StoredConfig:
        """Some of the files, as a task reads them (``list_prefix`` for a recursive copy)."""
        return StoredConfig(
            source=self.source, object_keys=tuple(object_keys), list_prefix=list_prefix, writes=tuple(self.objects)
        )


@dataclass(frozen=True)
class StoredConfig:
    """Rendered files in the configuration bucket, as the task that reads them needs them."""

    source: ConfigSource
    object_keys: tuple[str, ...]
    list_prefix: str | None
    """Set for files copied recursively: the prefix the task lists."""
    writes: tuple[CustomResource, ...]
    """The deploy-time writes of the platform's files, which the reading service waits for."""

    @property
    def url(self) -> str:
        """``s3://bucket/prefix`` of a tree, or ``s3://bucket/key`` of the one file."""
        (path,) = (self.list_prefix,) if self.list_prefix is not None else self.object_keys
        return f"s3://{self.source.bucket.bucket_name}/{path}"

    def grant_read(self, grantee: iam.IGrantable) -> None:
        grant_read_objects(
            grantee,
            bucket=self.source.bucket,
            key=self.source.key,
            object_keys=list(self.object_keys),
            list_prefix=self.list_prefix,
        )

    def written_before(self, service: Construct) -> None:
        """``service`` starts or changes only after the files are written."""
        for write in self.writes:
            service.node.add_dependency(write)


def grant_read_objects(
    grantee: iam.IGrantable,
    *,
    bucket: s3.IBucket,
    key: kms.IKey,
    object_keys: list[str],
    list_prefix: str | None = None,
) -> None:
    """Read exactly ``object_keys`` (and list ``list_prefix``, for a recursive
    copy), decrypting only through S3. Written as principal policies: a grant
    through the bucket or key objects would put this stack's role into the data
    stack's resource policies and make the stacks depend on each other."""
    iam.Grant.add_to_principal(
        grantee=grantee, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(k) for k in object_keys]
    )
    if list_prefix is not None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [list_prefix, f"{list_prefix}*"]}},
        )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:Decrypt"],
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
    )
