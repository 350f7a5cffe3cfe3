"""What the platform's task definitions give a container, for local runs: a service's
environment, its database settings, the database the bootstrap makes, and the release's
one-off tasks (the migrations and the smoke tests) with the points judged from them."""

from __future__ import annotations

import difflib
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from layers.compute.application_service import service_environment
from layers.compute.database_bootstrap import CERTIFICATES_VARIABLE
from layers.compute.database_bootstrap import SCRIPT as BOOTSTRAP_SCRIPT
from layers.data.postgres_database import PostgresDatabase
from layers.shared.database_access import database_environment
from layers.shared.rendered_config import render_database_bootstrap
from platform_spec import PlatformSpec, ServiceSpec
from tools.local_contract import Result, failed, passed
from tools.local_dockerfile import Dockerfile, expand
from tools.local_postgres import Postgres
from tools.local_services import NOWHERE, base_environment, last_line, run
from tools.postgres_binaries import PostgresError
from tools.rds_like_database import rds_like_database

ONE_OFF_TIMEOUT_SECONDS = 180


# What database_environment reads of the database construct, holding the local server's values.
@dataclass(frozen=True)
class _Endpoint:
    db_instance_endpoint_address: str
    db_instance_endpoint_port: str


@dataclass(frozen=True)
class _Names:
    database_name: str
    schema: str


@dataclass(frozen=True)
class _LocalDatabase:
    instance: _Endpoint
    database: _Names


def database_settings(postgres: Postgres, spec: PlatformSpec, *, user: str) -> dict[str, str]:
    """A task's DB_* settings (``layers.shared.database_access``) for the local server, signing in
    as ``user``; the server's CA stands for the RDS bundle the images name in DB_SSL_ROOT_CERT."""
    local = _LocalDatabase(
        _Endpoint(postgres.host, str(postgres.port)), _Names(spec.database.database_name, spec.database.schema)
    )
    settings = database_environment(cast(PostgresDatabase, local), user=user)
    return {**settings, "DB_SSL_ROOT_CERT": str(postgres.ca_file)}


def secret_placeholders(service: ServiceSpec) -> dict[str, str]:
    """Each of the service's secrets, as a value that is plainly not the real one."""
    return {name: f"placeholder-for-{name.lower()}" for name in service.secrets}


def bootstrap_tls(postgres: Postgres, *, mode: str = "verify-full") -> dict[str, str]:
    """What the bootstrap task's command needs to reach ``postgres`` as it reaches RDS: over TCP,
    verifying the server against the roots it writes to ``PGSSLROOTCERT`` (here the local CA)."""
    return {
        "PGHOST": postgres.host,
        "PGSSLMODE": mode,
        "PGSSLROOTCERT": str(Path(tempfile.mkdtemp(prefix="bootstrap-roots-")) / "root.pem"),
        CERTIFICATES_VARIABLE: postgres.ca_file.read_text(),
    }


@contextmanager
def bootstrapped_database(postgres: Postgres, spec: PlatformSpec) -> Iterator[str]:
    """The spec's database, made as RDS makes it and bootstrapped by the platform's own SQL
    and command (the database-bootstrap task's, verifying the server); dropped with its users at
    the end."""
    database = spec.database
    with rds_like_database(
        postgres,
        name=database.database_name,
        bootstrap_command=BOOTSTRAP_SCRIPT,
        bootstrap_sql=render_database_bootstrap(spec),
        users=[database.migrator_user, *spec.database_users()],
        environment=bootstrap_tls(postgres),
    ) as name:
        yield name


@dataclass(frozen=True, kw_only=True)
class LocalTasks:
    """Where the local runs of one check stand: the spec, its scratch home and its database."""

    spec: PlatformSpec
    home: Path
    postgres: Postgres | None
    origins: Mapping[str, str]
    """The local URL of each running service, by name (a live view: it fills as they start)."""

    def service_environment(
        self, service: ServiceSpec, dockerfile: Dockerfile, *, port: int | None, extra: Mapping[str, str]
    ) -> dict[str, str]:
        """The image's ENV, then the service task's environment, as ECS combines them: PORT and
        the paths, its callees' URLs, DB_*, its settings, and each secret as a placeholder."""
        local = replace(service, container_port=port) if port is not None else service
        callees = {self.spec.service(c).url_variable: self.origins.get(c, NOWHERE) for c in service.calls}
        environment = dockerfile.environment_over(base_environment(self.home))
        environment.update(service_environment(local, callees))
        if service.uses_database and self.postgres is not None:
            environment.update(database_settings(self.postgres, self.spec, user=service.database_user))
        environment.update(secret_placeholders(service))
        for name, value in extra.items():
            environment[name] = expand(value, environment)
        return environment

    def one_off(
        self, service: ServiceSpec, dockerfile: Dockerfile, command: Sequence[str], environment: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        """A release task on ``service``'s image (layers/release/release_tasks.py): ``command``
        with the image's ENV, the service's settings and secrets, then ``environment``."""
        argv = dockerfile.command(command)
        combined = dockerfile.environment_over(base_environment(self.home))
        combined.update({**service.settings, **secret_placeholders(service), **environment})
        try:
            return run(argv, cwd=dockerfile.path.parent, environment=combined, timeout=ONE_OFF_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 1, "", f"did not finish within {ONE_OFF_TIMEOUT_SECONDS} s")

    def migrate(self, dockerfile: Dockerfile) -> subprocess.CompletedProcess[str]:
        """The migrations task on ``dockerfile``'s image, signed in as the migrator."""
        delivery = self.spec.delivery
        database = database_settings(cast(Postgres, self.postgres), self.spec, user=self.spec.database.migrator_user)
        service = self.spec.service(delivery.migrations_service)
        return self.one_off(service, dockerfile, delivery.migrate_command, database)

    def smoke_tests(self, dockerfile: Dockerfile, *, web_url: str) -> subprocess.CompletedProcess[str]:
        """The smoke-test task on ``dockerfile``'s image, against the running API and ``web_url``."""
        delivery = self.spec.delivery
        environment = {
            "API_URL": self.origins.get(delivery.api_service, NOWHERE),
            "WEB_URL": web_url,
            "INTERNAL_PATHS": ",".join(self.spec.edge_internal_paths()),
        }
        return self.one_off(
            self.spec.service(delivery.smoke_test_service), dockerfile, delivery.smoke_test_command, environment
        )


def migrations_point(
    spec: PlatformSpec, postgres: Postgres, *, migrate: Callable[[], subprocess.CompletedProcess[str]]
) -> Result:
    """Run twice: each exits 0, the tables in the schema are the migrator's, and the second
    run leaves the schema as it was (a release runs them every time, roll-backs included)."""
    schema, migrator, name = spec.database.schema, spec.database.migrator_user, spec.database.database_name
    shown = shlex.join(spec.delivery.migrate_command)
    first = migrate()
    if first.returncode != 0:
        return failed("migrations", f"{shown} exited {first.returncode} as {migrator}: {last_line(first.stderr)}")
    owners = postgres.psql(f"SELECT tablename, tableowner FROM pg_tables WHERE schemaname = '{schema}'", database=name)
    tables = [line.split("\t") for line in owners.stdout.splitlines() if line]
    if wrong := [f"{table} ({owner})" for table, owner in tables if owner != migrator]:
        return failed("migrations", f"tables in {schema} not owned by {migrator}: {', '.join(wrong)}")
    try:
        before = postgres.schema_dump(database=name, schema=schema)
        second = migrate()
        after = postgres.schema_dump(database=name, schema=schema)
    except PostgresError as error:
        return failed("migrations", f"not checked: {error}")
    if second.returncode != 0:
        return failed(
            "migrations",
            f"run again, {shown} exited {second.returncode} ({last_line(second.stderr)}): every release runs them "
            "again, so they must skip what is done",
        )
    if before != after:
        changes = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        change = next(line for line in list(changes)[2:] if line[:1] in "+-")
        return failed("migrations", f"run again, they changed the schema ({change[:120]}): make them skip what is done")
    return passed(
        "migrations",
        f"{shown} ran twice as {migrator}: {len(tables)} tables in {schema}, all the migrator's; the second run "
        "changed nothing",
    )


def smoke_failure(spec: PlatformSpec, run_with_api: subprocess.CompletedProcess[str]) -> Result | None:
    """The smoke tests' point where they fail against the running services, else None."""
    if run_with_api.returncode == 0:
        return None
    said = [line for line in run_with_api.stdout.splitlines() if line.startswith("FAILED")]
    reason = said[0] if said else last_line(run_with_api.stderr + run_with_api.stdout)
    shown = shlex.join(spec.delivery.smoke_test_command)
    return failed("smoke tests", f"{shown} exited {run_with_api.returncode} against the running services: {reason}")


def smoke_tests_point(spec: PlatformSpec, run_without_api: subprocess.CompletedProcess[str]) -> Result:
    """Having passed against the running services, they must fail with the API stopped."""
    shown, api = shlex.join(spec.delivery.smoke_test_command), spec.delivery.api_service
    if run_without_api.returncode == 0:
        return failed(
            "smoke tests",
            f"{shown} exited 0 with {api} stopped: they must fail when the API does not answer, or a broken "
            "release passes them",
        )
    return passed(
        "smoke tests",
        f"{shown} passed against the running services and failed (exit {run_without_api.returncode}) with {api} "
        "stopped",
    )
