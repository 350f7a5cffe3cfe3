"""docs/adopting.md, followed on a copy of the repository: its edits (rename the project, the
namespace, the database, the domain and the CI repositories; move to another region; add an
internal service the default-route service calls and a worker; Grafana off in dev; larger tasks;
a setting and a secret on the migrating service) make a platform the synth-level suite accepts,
after regenerating the way the guide says, with no test file edited."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests import background
from tests.adoption import GUIDE, SUITE, TIMEOUT_SECONDS, apply, edits, start
from tests.platform_synth import ROOT


def test_the_guides_edits_make_a_platform_the_suite_accepts() -> None:
    adoption = background.take("adoption", start)
    try:
        adoption.process.wait(timeout=TIMEOUT_SECONDS)
        log = adoption.log.read_text(errors="replace")
        assert adoption.process.returncode == 0, f"the adopted platform's suite failed:\n{log[-6000:]}"
        summary = [line for line in log.splitlines() if " passed" in line]
        assert summary, log[-2000:]
        assert " failed" not in summary[-1], summary[-1]
        # It is the adopted platform that was tested: the copy's own profile, not this repository's.
        described = subprocess.run(
            [
                sys.executable,
                "-c",
                "from platform_spec import spec_from_context as s; d = s({}); "
                "print(d.project, d.region, d.namespace, sorted((x.name, x.kind) for x in d.services), d.grafana)",
            ],
            cwd=adoption.directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "acme eu-west-1 acme.internal" in described
        assert "('mailer', 'worker')" in described
        assert "('search', 'internal')" in described
        assert described.strip().endswith("None")
        # The suite that ran is the whole synth-level suite, and the snapshots it compared are the new ones.
        for folder in SUITE:
            assert (adoption.directory / folder).is_dir()
        snapshots = sorted((adoption.directory / "tests/synth/__snapshots__").rglob("*.json"))
        assert snapshots, "the copy has no template snapshots"
        assert all("davidshaevel" not in p.read_text() for p in snapshots), "a snapshot of the shipped platform"
        assert any("acme" in p.read_text() for p in snapshots)
    finally:
        shutil.rmtree(adoption.directory.parent, ignore_errors=True)


def test_every_edit_of_the_guide_applies_to_this_repository_exactly_once(tmp_path: Path) -> None:
    """Quick, and alone: a guide edit that names code the repository no longer has fails here first."""
    guide = GUIDE.read_text()
    for path in {edit.path for edit in edits(guide)}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, tmp_path / path)
    applied = apply(tmp_path, guide)
    assert len(applied) >= 10
