"""How a task that uses the database is configured and what it may do."""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs

from cdk_constructs.postgres_database import PostgresDatabase
from spec.model import ServiceSpec


def database_environment(service: ServiceSpec, database: PostgresDatabase) -> dict[str, str]:
    """Where and as whom to connect: not secret, so plain environment."""
    return {
        "DB_HOST": database.instance.db_instance_endpoint_address,
        "DB_PORT": database.instance.db_instance_endpoint_port,
        "DB_NAME": database.database.database_name,
        "DB_USER": service.database_user,
        "DB_IAM_AUTH": "true",
        "DB_SSLMODE": "require",
    }


def database_secrets(database: PostgresDatabase) -> dict[str, ecs.Secret]:
    """The master credentials, only ever as ECS secrets."""
    return {
        "DB_MASTER_USERNAME": ecs.Secret.from_secrets_manager(database.secret, "username"),
        "DB_MASTER_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
    }


def grant_database_access(
    task_definition: ecs.TaskDefinition, service: ServiceSpec, database: PostgresDatabase
) -> None:
    """IAM authentication as the service's own user; the secret for the task's launch."""
    database.grant_connect(task_definition.task_role, service.database_user)
    database.grant_secret_read(task_definition.obtain_execution_role())
