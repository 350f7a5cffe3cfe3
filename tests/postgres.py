"""A real PostgreSQL for the tests: ``tools/local_postgres.py``, which ``make check-service``
runs too (tools import nothing from tests/). The session shares one (``postgres`` in
``tests/conftest.py``)."""

from __future__ import annotations

from tools.local_postgres import Postgres, running_postgres
from tools.postgres_binaries import PostgresError, binaries_for, missing, server_binaries
from tools.rds_like_database import MASTER, rds_like_database

__all__ = [
    "MASTER",
    "Postgres",
    "PostgresError",
    "binaries_for",
    "missing",
    "rds_like_database",
    "running_postgres",
    "server_binaries",
]
