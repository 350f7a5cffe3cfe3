"""A customer-managed KMS key for a stack's CloudWatch log groups."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class LogsKey(Construct):
    """A rotating key that CloudWatch Logs may use for this account's log groups.

    Retained on deletion: logs written under it stay readable after the stack
    that made it is gone.
    """

    def __init__(self, scope: Construct, construct_id: str, *, description: str) -> None:
        """``description``: the key's description, which log groups it encrypts (the data stack's, the
        network stack's flow logs, the edge stack's web ACL logs)."""
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        log_groups_of_this_account = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_of_this_account}},
            )
        )
