"""``app.py`` itself: bad input ends it with one line, status 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.platform_synth import ROOT


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"env": "staging"}, "error: context env: unknown profile; choose one of dev, prod (got 'staging')"),
        ({"backend_ecs_exec": "maybe"}, "error: context backend_ecs_exec: must be true or false (got 'maybe')"),
    ],
)
def test_bad_context_exits_with_one_line_and_no_output(tmp_path: Path, context: dict[str, str], expected: str) -> None:
    # This is how the CDK CLI hands `-c key=value` to the app.
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [expected]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
