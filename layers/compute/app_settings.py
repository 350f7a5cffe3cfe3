"""A service's own settings and secrets, as its containers receive them.

Settings go into the container's environment, as plain text in the task definition. Each secret
becomes an ECS secret: the task definition names where it lives, and ECS reads it with the
task's execution role as the container starts ("Pass sensitive data to an Amazon ECS container",
Amazon ECS developer guide), so its value is never in a template. The execution role may read
exactly the secrets named, and decrypt with a customer managed key only through the service that
stores the secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from platform_spec import ParameterStoreSecret, Secret, SecretsManagerSecret


def ecs_secrets(scope: Construct, secrets: Mapping[str, Secret], *, execution_role: iam.IRole) -> dict[str, ecs.Secret]:
    """Each secret as ECS takes it, in ``scope``; grants its read (``add_container`` grants the
    secret itself to the execution role) and, where a customer managed key encrypts it, the
    key's decrypt through the storing service."""
    found: dict[str, ecs.Secret] = {}
    for variable, source in sorted(secrets.items()):
        construct_id = f"Secret{variable}"
        if isinstance(source, SecretsManagerSecret):
            found[variable] = ecs.Secret.from_secrets_manager(
                _secrets_manager(scope, construct_id, source), field=source.json_key
            )
            service = "secretsmanager"
        else:
            found[variable] = ecs.Secret.from_ssm_parameter(_parameter(scope, construct_id, source))
            service = "ssm"
        if source.key_arn is not None:
            execution_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[source.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}},
                )
            )
    return found


def _secrets_manager(scope: Construct, construct_id: str, source: SecretsManagerSecret) -> secretsmanager.ISecret:
    if source.complete_arn is not None:
        return secretsmanager.Secret.from_secret_complete_arn(scope, construct_id, source.complete_arn)
    # A partial ARN (no suffix): ECS and Secrets Manager find the secret by it; CDK's grant names
    # the six characters Secrets Manager appends with '?' wildcards, one each.
    return secretsmanager.Secret.from_secret_name_v2(scope, construct_id, source.name)


def _parameter(scope: Construct, construct_id: str, source: ParameterStoreSecret) -> ssm.IParameter:
    return ssm.StringParameter.from_secure_string_parameter_attributes(scope, construct_id, parameter_name=source.name)
