"""A database on the local PostgreSQL (``tools/local_postgres.py``) as RDS makes it: a master that
is no superuser but may create roles and grant ``rds_iam``, pgaudit where the server has it,
bootstrapped with the bootstrap task's own command and SQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tools.local_postgres import Postgres
from tools.local_services import last_line
from tools.postgres_binaries import PostgresError

MASTER = "platform_master"
"""The RDS-like master user: no superuser, but CREATEROLE and the database's owner, as on RDS."""


@contextmanager
def rds_like_database(
    postgres: Postgres,
    *,
    name: str,
    bootstrap_command: str,
    bootstrap_sql: str,
    users: list[str],
    environment: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """A database as RDS makes it (its master may create roles and grant ``rds_iam``; pgaudit
    where the server has it), bootstrapped twice with the bootstrap task's own command and SQL: a second run
    must change nothing and fail on nothing (``PostgresError`` otherwise). ``users`` are the
    roles it creates, dropped again at the end with everything else. ``environment``: more of the
    bootstrap task's variables (its TLS settings), over the connection's."""
    try:
        for sql in (
            "CREATE ROLE rds_iam NOLOGIN",
            f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB",
            f"CREATE DATABASE {name} OWNER {MASTER}",
        ):
            _setup(postgres, sql)
        if postgres.major >= 16:
            # From 16 on, CREATEROLE alone may grant no role it does not administer; RDS lets its
            # master grant rds_iam all the same. ADMIN alone stands for that: it neither passes on
            # rds_iam's privileges nor lets the master SET ROLE to it.
            _setup(postgres, f"GRANT rds_iam TO {MASTER} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE")
        if postgres.pgaudit:
            # RDS lets its master create pgaudit; a plain PostgreSQL keeps that to superusers.
            _setup(postgres, "CREATE EXTENSION pgaudit", database=name)
        for run in (1, 2):
            result = postgres.run(
                bootstrap_command,
                environment={
                    **postgres.environment(user=MASTER, database=name),
                    **(environment or {}),
                    "BOOTSTRAP_SQL": bootstrap_sql,
                },
            )
            if result.returncode != 0:
                raise PostgresError(f"the database bootstrap failed (run {run}): {last_line(result.stderr)}")
        yield name
    finally:
        postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)
        for role in (*users, MASTER, "rds_iam", "rds_pgaudit"):
            postgres.psql(f"DROP ROLE IF EXISTS {role}", check=False)


def _setup(postgres: Postgres, sql: str, *, database: str = "postgres") -> None:
    result = postgres.psql(sql, database=database, check=False)
    if result.returncode != 0:
        raise PostgresError(f"{sql}: {last_line(result.stderr)}")
