"""The secrets the spec names that no stack creates, as the access ledger needs them: by the ARN a
task definition names, with the ARN IAM authorizes the read against and the key that encrypts it."""

from __future__ import annotations

from aws_model.ledger.entries import ExternalSecret
from platform_spec import ParameterStoreSecret, PlatformSpec, Secret, SecretsManagerSecret

# Stands for the six characters Secrets Manager appends to a secret's name in its ARN.
SUFFIX = "-Ab12Cd"


def secret_arns(secret: Secret, *, spec: PlatformSpec, account: str, partition: str = "aws") -> tuple[str, str]:
    """(the ARN the task definition names, the ARN of the secret itself): the same but for a
    Secrets Manager secret named without its suffix, whose ARN has one."""
    prefix = f"arn:{partition}:{'ssm' if isinstance(secret, ParameterStoreSecret) else 'secretsmanager'}"
    if isinstance(secret, ParameterStoreSecret):
        arn = f"{prefix}:{spec.region}:{account}:parameter/{secret.path}"
        return arn, arn
    assert isinstance(secret, SecretsManagerSecret)
    if secret.complete_arn is not None:
        return secret.complete_arn, secret.complete_arn
    named = f"{prefix}:{spec.region}:{account}:secret:{secret.name}"
    return named, named + SUFFIX


def external_secrets(spec: PlatformSpec, *, account: str, partition: str = "aws") -> dict[str, ExternalSecret]:
    """Every secret of every service, by the ARN its task definitions name."""
    found: dict[str, ExternalSecret] = {}
    for service in spec.services:
        for secret in service.secrets.values():
            named, actual = secret_arns(secret, spec=spec, account=account, partition=partition)
            found[named] = ExternalSecret(arn=actual, key_arn=secret.key_arn)
    return found
