"""A real PostgreSQL for the tests: Debian's server, started once per session in a temporary
directory, reachable through a Unix socket there and, with TLS only, on 127.0.0.1, trusting
local connections (RDS checks IAM tokens; a local server cannot, so it asks for none).

It loads pgaudit the way the RDS parameter group does, so what the platform's SQL does is
what RDS would do, and what pgaudit logs can be read back. Its certificate is signed by a
certificate authority the tests make, so a client can verify it as the services verify RDS's."""

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
    ca_file: Path
    """The certificate authority that signed the server's certificate (for 127.0.0.1)."""
    superuser: str = "postgres"
    host: str = "127.0.0.1"
    port: int = PORT

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


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key): a CA, and a server certificate it
    signs for 127.0.0.1 and localhost."""
    ca_key, ca, key, request, certificate = (
        directory / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test database CA",
         "-keyout", str(ca_key), "-out", str(ca)],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(request)],
        ["x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
         "-extfile", str(extensions), "-out", str(certificate)],
    ):  # fmt: skip
        subprocess.run(["openssl", *command], capture_output=True, text=True, check=True)
    key.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(key, "postgres", "postgres")
        shutil.chown(certificate, "postgres", "postgres")
    return ca, certificate, key


def _as_postgres(command: list[str]) -> list[str]:
    """The server refuses to run as root; as root, it runs as Debian's postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    binaries = server_binaries()
    assert binaries is not None
    root = Path(tempfile.mkdtemp(prefix="postgres-", dir="/tmp"))
    data, sockets, tls, log = root / "data", root / "sockets", root / "tls", root / "server.log"
    sockets.mkdir()
    tls.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        shutil.chown(tls, "postgres", "postgres")
    ca, certificate, key = _certificates(tls)
    try:
        subprocess.run(
            _as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
            capture_output=True,
            text=True,
            check=True,
        )
        # TCP clients must use TLS, as RDS's parameter group forces (rds.force_ssl).
        hba = data / "pg_hba.conf"
        hba.write_text("hostnossl all all 0.0.0.0/0 reject\n" + hba.read_text())
        options = (
            f"-k {sockets} -p {PORT} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c ssl=on -c ssl_cert_file={certificate} -c ssl_key_file={key} -c log_connections=on "
            "-c shared_preload_libraries=pgaudit -c pgaudit.log=ddl,role -c log_line_prefix='%u '"
        )
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            capture_output=True,
            text=True,
            check=True,
        )
        yield Postgres(socket_directory=sockets, log_file=log, ca_file=ca)
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


MASTER = "platform_master"
"""The RDS-like master user: no superuser, but CREATEROLE and the database's owner, as on RDS."""


@contextmanager
def rds_like_database(
    postgres: Postgres, *, name: str, bootstrap_command: str, bootstrap_sql: str, users: list[str]
) -> Iterator[str]:
    """A database as RDS makes it (its master may create roles and grant ``rds_iam``; pgaudit is
    available), bootstrapped twice with the synthesized bootstrap task's own command and SQL:
    a second run must change nothing and fail on nothing. ``users`` are the roles it creates,
    dropped again at the end with everything else."""
    for sql in (
        "CREATE ROLE rds_iam NOLOGIN",
        f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB",
        f"CREATE DATABASE {name} OWNER {MASTER}",
    ):
        postgres.psql(sql)
    try:
        # RDS lets its master create pgaudit; a plain PostgreSQL keeps that to superusers.
        postgres.psql("CREATE EXTENSION pgaudit", database=name)
        for _ in range(2):
            run = postgres.run(
                bootstrap_command,
                environment={**postgres.environment(user=MASTER, database=name), "BOOTSTRAP_SQL": bootstrap_sql},
            )
            assert run.returncode == 0, run.stderr
        yield name
    finally:
        postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        for role in (*users, MASTER, "rds_iam", "rds_pgaudit"):
            postgres.psql(f"DROP ROLE IF EXISTS {role}")
