"""The database of the alert path's run, inside its namespace: a local PostgreSQL as RDS makes it, with the
platform's own bootstrap and the release's migrations run against it (tools/local_tasks.py, as
``make check-service`` does), so the backend serves real rows until the outage stops the server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platform_spec.profiles import PROFILES
from tools.local_dockerfile import read_dockerfile
from tools.local_postgres import Postgres, running_postgres
from tools.local_services import image_directory
from tools.local_tasks import LocalTasks, bootstrapped_database, database_settings


@contextmanager
def local_database(alerting: dict[str, Any]) -> Iterator[tuple[Postgres, dict[str, str]]]:
    """The running server, and the DB_* settings a service's task gets for it (DB_USER aside: each
    service signs in as its own user)."""
    spec = PROFILES[alerting["profile"]]()
    home = Path(tempfile.mkdtemp(prefix="alerting-home-"))
    with running_postgres() as postgres, bootstrapped_database(postgres, spec):
        tasks = LocalTasks(spec=spec, home=home, postgres=postgres, origins={})
        migrations = spec.service(spec.delivery.migrations_service)
        migrated = tasks.migrate(read_dockerfile(image_directory(migrations)))
        if migrated.returncode != 0:
            raise RuntimeError(f"the migrations failed: {migrated.stderr[-2000:]}")
        settings = database_settings(postgres, spec, user="")
        settings.pop("DB_USER", None)
        yield postgres, settings
