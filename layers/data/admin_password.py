"""A generated admin password, kept in the data stack with the rest of the state."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from layers.shared.secret_access import secret_handle


class AdminPassword(Construct):
    """Generated once into Secrets Manager, encrypted with ``key``, retained."""

    def __init__(self, scope: Construct, construct_id: str, *, description: str, key: kms.IKey) -> None:
        """``description``: the secret's description (``<prefix> Grafana admin``). ``key``: the data key,
        which encrypts it."""
        super().__init__(scope, construct_id)
        secret = secretsmanager.Secret(
            self,
            "Secret",
            description=description,
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=32, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.secret = secret_handle(self, "Handle", secret.secret_arn)
        reason = (
            "Grafana applies this password when its task starts (its database is rebuilt from provisioning "
            "each time); rotate by putting a new value and redeploying, which no rotation function can order."
        )
        for rule_id in (
            "AwsSolutions::AwsSolutions-SMG4",
            "NIST.800.53.R5::NIST.800.53.R5-SecretsManagerRotationEnabled",
        ):
            Validations.of(secret).acknowledge(Acknowledgment(id=rule_id, reason=reason))
