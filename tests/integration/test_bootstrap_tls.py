"""The database bootstrap's own command and environment, as synthesized, against a real PostgreSQL
with TLS: it signs in only to a server whose certificate chains to the roots the task provides and
names the host it dialled (libpq's ``sslmode=verify-full``; PostgreSQL docs, "SSL Support"; Amazon
RDS user guide, "Using SSL/TLS to encrypt a connection to a DB instance or cluster":
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html).

Here the server's certificate is the test's CA's (``tools/local_postgres.py``), for 127.0.0.1 and
localhost. The task's RDS roots must refuse it: the master password goes to no other server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from layers.compute.database_bootstrap import CERTIFICATES_VARIABLE, CONTAINER
from platform_spec.names import COMPUTE
from tests.platform_synth import Synthesized
from tests.postgres import Postgres
from tests.reference_services import container_definition


def _container(synth: Synthesized) -> dict[str, Any]:
    return container_definition(synth.template_json(COMPUTE), CONTAINER)


def _run(postgres: Postgres, dev: Synthesized, tmp_path: Path, **changes: str) -> subprocess.CompletedProcess[str]:
    """The synthesized command with the synthesized TLS settings, aimed at ``postgres`` over TCP;
    the root certificate's path moved into ``tmp_path`` (the task's is its own /tmp)."""
    container = _container(dev)
    synthesized = {e["Name"]: e["Value"] for e in container["Environment"] if isinstance(e["Value"], str)}
    environment = {
        "PATH": os.environ["PATH"],
        "PGSSLMODE": synthesized["PGSSLMODE"],
        "PGSSLROOTCERT": str(tmp_path / "root.pem"),
        CERTIFICATES_VARIABLE: synthesized[CERTIFICATES_VARIABLE],
        "PGHOST": postgres.host,
        "PGPORT": str(postgres.port),
        "PGUSER": postgres.superuser,
        "PGDATABASE": "postgres",
        "BOOTSTRAP_SQL": "SELECT 1",
        **changes,
    }
    return subprocess.run(
        [*container["EntryPoint"], *container["Command"]], env=environment, capture_output=True, text=True, check=False
    )


def test_the_bootstrap_signs_in_to_a_server_its_roots_certify(
    postgres: Postgres, dev: Synthesized, tmp_path: Path
) -> None:
    run = _run(postgres, dev, tmp_path, **{CERTIFICATES_VARIABLE: postgres.ca_file.read_text()})
    assert run.returncode == 0, run.stderr


def test_the_bootstrap_refuses_a_server_the_rds_roots_do_not_certify(
    postgres: Postgres, dev: Synthesized, tmp_path: Path
) -> None:
    run = _run(postgres, dev, tmp_path)
    assert run.returncode != 0
    assert "certificate verify failed" in run.stderr, run.stderr


def test_the_bootstrap_refuses_a_certificate_for_another_name(
    postgres: Postgres, dev: Synthesized, tmp_path: Path
) -> None:
    """The test CA's certificate names 127.0.0.1 and localhost; reached at that address under
    another name (``PGHOSTADDR`` dials, ``PGHOST`` is what the certificate must name), it is refused."""
    run = _run(
        postgres,
        dev,
        tmp_path,
        PGHOST="database.invalid",
        PGHOSTADDR=postgres.host,
        **{CERTIFICATES_VARIABLE: postgres.ca_file.read_text()},
    )
    assert run.returncode != 0
    assert "does not match host name" in run.stderr, run.stderr
