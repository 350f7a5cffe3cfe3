"""The reference services' shared code stays one text in two copies.

Each service under ``services/`` is a build context of its own, so what both run (the HTTP
skeleton, ``src/skeleton.js``) and what both tests read (``test/metrics-text.js``) is copied
into each rather than installed from one place (docs/image-contract.md, "The reference
services' code"). These tests keep the copies byte for byte the same, naming the one that
drifted, and keep the skeleton's work out of the services' other files, so a copy of it cannot
grow back beside it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
SHARED = ("src/skeleton.js", "test/metrics-text.js")
SKELETON = "src/skeleton.js"
# What only the skeleton does: the HTTP server, the signals, the registry and process metrics.
SKELETON_ONLY = ("http.createServer(", "process.once('SIGTERM'", "new client.Registry(", "collectDefaultMetrics(")
DIFF_LINES = 40


def _copies(relative: str) -> list[Path]:
    return sorted(path for path in SERVICES.glob(f"*/{relative}") if path.is_file())


def test_every_node_service_holds_the_shared_files() -> None:
    """Each Node service under services/ (a package.json: the reference services, or one built from
    them) holds every shared file, so none runs an older copy of the skeleton unseen."""
    services = sorted(path.parent for path in SERVICES.glob("*/package.json"))
    missing = [
        f"{service.relative_to(SERVICES.parent)}/{relative}"
        for service in services
        for relative in SHARED
        if not (service / relative).is_file()
    ]
    assert missing == []


@pytest.mark.parametrize("relative", SHARED)
def test_the_copies_are_identical(relative: str) -> None:
    first, *others = _copies(relative)
    drifted = []
    for other in others:
        if other.read_bytes() == first.read_bytes():
            continue
        was, now = (str(path.relative_to(SERVICES.parent)) for path in (first, other))
        before, after = (path.read_text().splitlines() for path in (first, other))
        diff = difflib.unified_diff(before, after, was, now, lineterm="")
        shown = "\n".join(list(diff)[:DIFF_LINES])
        drifted.append(f"{now} has drifted from {was}:\n{shown}")
    assert not drifted, "change every copy alike:\n" + "\n".join(drifted)


def test_only_the_skeleton_builds_the_server_and_the_registry() -> None:
    found = []
    for skeleton in _copies(SKELETON):
        for source in sorted(skeleton.parent.rglob("*.js")):
            if source == skeleton:
                continue
            text = source.read_text()
            found += [f"{source.relative_to(SERVICES.parent)}: {token}" for token in SKELETON_ONLY if token in text]
    assert found == [], "the skeleton does this: use src/skeleton.js"


@pytest.mark.parametrize("skeleton", _copies(SKELETON), ids=lambda path: path.parts[-3])
def test_the_server_runs_on_the_skeleton(skeleton: Path) -> None:
    server = (skeleton.parent / "server.js").read_text()
    assert "require('./skeleton')" in server
    assert "createServer(" in server
    assert "run(" in server
    assert "COPY src ./src" in (skeleton.parents[1] / "Dockerfile").read_text(), "the image holds the skeleton"
