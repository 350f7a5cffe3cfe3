"""Reading a secret from a stack other than the one that holds it."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


def secret_handle(scope: Construct, construct_id: str, secret_arn: str) -> secretsmanager.ISecret:
    """The secret without its key attached: grants on a key object would be
    written into the key's policy in the data stack, naming roles of the stacks
    that depend on it (a dependency cycle). ``grant_secret_read`` grants the
    decrypt on the reader instead."""
    return secretsmanager.Secret.from_secret_complete_arn(scope, construct_id, secret_arn)


def grant_secret_read(grantee: iam.IGrantable, *, secret: secretsmanager.ISecret, key: kms.IKey) -> None:
    """Read the secret: the secret itself and, only through Secrets Manager, its key."""
    secret.grant_read(grantee)
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:Decrypt"],
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
    )
