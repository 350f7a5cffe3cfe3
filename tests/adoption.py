"""Applying docs/adopting.md to a copy of the repository, the way a new user follows it: each
``<!-- edit PATH -->`` block (the code shown, then what it becomes), in order, then the commands of
the ``<!-- regenerate -->`` block, then the synth-level suite. Started in the background as the
session begins (tests/background.py): it is a whole second run of the suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.platform_synth import ROOT

GUIDE = ROOT / "docs" / "adopting.md"
# The shown code, a line of prose ("becomes"), and what it becomes: two fenced blocks.
_EDIT = re.compile(
    r"<!-- edit (?P<path>[\w./-]+) -->\n```\w*\n(?P<old>.*?)```\n[^\n`]*\n```\w*\n(?P<new>.*?)```", re.DOTALL
)
_REGENERATE = re.compile(r"<!-- regenerate -->\n```\w*\n(?P<commands>.*?)```", re.DOTALL)
SUITE = ("tests/unit", "tests/synth", "tests/linters")
"""The synth-level suite: everything but the tests that run services, databases and Prometheus."""
TIMEOUT_SECONDS = 1500


@dataclass(frozen=True)
class Edit:
    path: str
    old: str
    new: str


class GuideError(AssertionError):
    """The guide and the code disagree: the message says where."""


def edits(guide: str) -> list[Edit]:
    found = [Edit(m["path"], m["old"], m["new"]) for m in _EDIT.finditer(guide)]
    if guide.count("<!-- edit ") != len(found):
        raise GuideError("docs/adopting.md: an edit block is not 'code, one line of prose, code'")
    return found


def regenerate_commands(guide: str) -> list[str]:
    (block,) = [m["commands"] for m in _REGENERATE.finditer(guide)]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def copy_repository(destination: Path) -> None:
    """The tracked files as they are in the work tree, times kept (so make finds nothing to
    reinstall), with the installed dependencies linked, not copied."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in tracked)):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for installed in (
        ".venv",
        "node_modules",
        *(str(p.relative_to(ROOT)) for p in ROOT.glob("services/*/node_modules")),
    ):
        if (ROOT / installed).exists():
            (destination / installed).symlink_to(ROOT / installed)


def apply(destination: Path, guide: str) -> list[Edit]:
    applied = edits(guide)
    for number, edit in enumerate(applied, 1):
        path = destination / edit.path
        text = path.read_text()
        if text.count(edit.old) != 1:
            raise GuideError(
                f"docs/adopting.md edit {number} ({edit.path}): the code it shows occurs {text.count(edit.old)} "
                f"times, not once:\n{edit.old}"
            )
        path.write_text(text.replace(edit.old, edit.new))
    return applied


@dataclass
class Adoption:
    directory: Path
    log: Path
    process: subprocess.Popen[bytes]


def start() -> tuple[Adoption, list[subprocess.Popen[bytes]]]:
    """Copy, edit, regenerate and test, as one shell script in the background."""
    directory = Path(tempfile.mkdtemp(prefix="adoption-")) / "platform"
    directory.mkdir()
    copy_repository(directory)
    guide = GUIDE.read_text()
    apply(directory, guide)
    # A repository of its own, as the user's clone is: some tests and make targets read git.
    commit = (
        "git init -q && git add -A && git -c user.name=adopter -c user.email=adopter@example.org commit -qm adopted"
    )
    steps = [
        commit,
        *regenerate_commands(guide),
        f"{sys.executable} -m pytest -q -p no:cacheprovider {' '.join(SUITE)}",
    ]
    script = "set -e\n" + "".join(f"echo '$ {step}'\n{step}\n" for step in steps)
    log = directory.parent / "adoption.log"
    environment = {
        **os.environ,
        "PATH": f"{directory / 'node_modules' / '.bin'}:{directory / '.venv' / 'bin'}:{os.environ['PATH']}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Adoption(directory, log, process), [process]
