"""How a task that uses the database is configured and what it may do."""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs

from layers.data.postgres_database import PostgresDatabase


def database_environment(database: PostgresDatabase, *, user: str) -> dict[str, str]:
    """Where and as whom to connect, with IAM authentication: not secret, so plain environment."""
    return {
        "DB_HOST": database.instance.db_instance_endpoint_address,
        "DB_PORT": database.instance.db_instance_endpoint_port,
        "DB_NAME": database.database.database_name,
        "DB_SCHEMA": database.database.schema,
        "DB_USER": user,
        "DB_IAM_AUTH": "true",
        "DB_SSLMODE": "require",
    }


def grant_database_access(task_definition: ecs.TaskDefinition, database: PostgresDatabase, *, user: str) -> None:
    """``rds-db:connect`` as exactly this user; no task but the bootstrap reads the master secret."""
    database.grant_connect(task_definition.task_role, user)
