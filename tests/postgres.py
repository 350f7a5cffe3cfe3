"""A real PostgreSQL for the tests: Debian's server, started once per session in a temporary
directory, reachable only through a Unix socket there, trusting local connections.

It loads pgaudit the way the RDS parameter group does, so what the platform's SQL does is
what RDS would do, and what pgaudit logs can be read back."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LIBRARIES = Path("/usr/lib/postgresql")
PORT = 55432


def server_binaries() -> Path | None:
    """The newest installed server's bin directory (Debian's postgresql package)."""
    if not LIBRARIES.is_dir():
        return None
    majors = sorted((p for p in LIBRARIES.iterdir() if (p / "bin" / "postgres").exists()), key=lambda p: int(p.name))
    return majors[-1] / "bin" if majors else None


def missing() -> str | None:
    """Why the server cannot run here, or None."""
    if server_binaries() is None:
        return "PostgreSQL is missing: `make test` installs Debian's postgresql package"
    if not (server_binaries().parent / "lib" / "pgaudit.so").exists():  # type: ignore[union-attr]
        return "pgaudit is missing: `make test` installs Debian's postgresql-<major>-pgaudit package"
    if shutil.which("psql") is None:
        return "psql is missing: `make test` installs Debian's postgresql package"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing (util-linux): the server cannot run as root"
    return None


@dataclass(frozen=True)
class Postgres:
    socket_directory: Path
    log_file: Path
    superuser: str = "postgres"

    def environment(self, *, user: str, database: str = "postgres") -> dict[str, str]:
        """libpq's variables for connecting as ``user`` (over the socket, trusted)."""
        return {
            **os.environ,
            "PGHOST": str(self.socket_directory),
            "PGPORT": str(PORT),
            "PGUSER": user,
            "PGDATABASE": database,
            "PGSSLMODE": "disable",
        }

    def psql(
        self, sql: str, *, user: str | None = None, database: str = "postgres", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sql`` with psql, as ``user`` (the superuser by default); rows come back tab-separated."""
        return subprocess.run(
            ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql],
            env=self.environment(user=user or self.superuser, database=database),
            capture_output=True,
            text=True,
            check=check,
        )

    def run(
        self, command: str, *, environment: Mapping[str, str], check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """A shell command (a container's), with ``environment`` on top of the connection's."""
        return subprocess.run(["sh", "-c", command], env=dict(environment), capture_output=True, text=True, check=check)


def _as_postgres(command: list[str]) -> list[str]:
    """The server refuses to run as root; as root, it runs as Debian's postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    binaries = server_binaries()
    assert binaries is not None
    root = Path(tempfile.mkdtemp(prefix="postgres-", dir="/tmp"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    try:
        subprocess.run(
            _as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
            capture_output=True,
            text=True,
            check=True,
        )
        options = (
            f"-k {sockets} -p {PORT} -c listen_addresses='' -c fsync=off "
            "-c shared_preload_libraries=pgaudit -c pgaudit.log=ddl,role -c log_line_prefix='%u '"
        )
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            capture_output=True,
            text=True,
            check=True,
        )
        yield Postgres(socket_directory=sockets, log_file=log)
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
