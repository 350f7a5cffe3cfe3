"""``app.py`` run whole, as ``cdk synth`` runs it, in the background of the session: the only test
that runs the entry point's overlap (CloudFormation Validate's engine starting in Node while Python
imports the app's modules).

Run as a script, it records every jsii message the main thread sends while the engine starts
(there must be none: jsii's one pipe has no lock), then writes what it saw as JSON.

    python -m tests.app_entry OUT.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

# What makes the CDK write its performance counters for every synth, as make bench reads them.
from bench.profile_synth import COUNTERS_CONTEXT

ROOT = Path(__file__).resolve().parent.parent


class AppRun:
    """A running ``app.py`` for ``context``; ``result()`` waits for it."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="app-entry-"))
        self.outdir = self.home / "cdk.out"
        self.counters = self.home / "counters.json"
        self.report = self.home / "report.json"
        cdk_context = json.loads((ROOT / "cdk.json").read_text())["context"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.app_entry", str(self.report)],
            cwd=ROOT,
            env={
                **os.environ,
                "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
                "CDK_OUTDIR": str(self.outdir),
                "CDK_CONTEXT_JSON": json.dumps({**cdk_context, **COUNTERS_CONTEXT, **context}),
                "CDK_PERF_COUNTERS_FILE": str(self.counters),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self) -> dict[str, Any]:
        """The exit status, its output, the messages sent during the overlap, the CDK's counters."""
        output, _ = self.process.communicate(timeout=300)
        seen: dict[str, Any] = json.loads(self.report.read_text()) if self.report.exists() else {}
        counters = json.loads(self.counters.read_text())["counters"] if self.counters.exists() else {}
        return {"status": self.process.returncode, "output": output, **seen, "counters": counters}


def start(context: dict[str, Any]) -> tuple[AppRun, list[subprocess.Popen[str]]]:
    run = AppRun(context)
    return run, [run.process]


def _run(report: Path) -> int:
    """``app.main()``, noting each jsii message the main thread sends between starting the engine
    and collecting it."""
    sys.path.insert(0, str(ROOT))
    from jsii._kernel.providers import process as jsii_process  # noqa: PLC0415

    import app  # noqa: PLC0415 -- after sys.path; loads aws_cdk and cdk_nag, as app.py does

    overlapping, started = threading.Event(), threading.Event()
    during: list[str] = []
    send = jsii_process._NodeProcess.send

    def noting(self: Any, request: Any, response_type: Any) -> Any:
        if overlapping.is_set() and threading.current_thread() is threading.main_thread():
            ours = [
                f
                for f in traceback.extract_stack()
                if f.filename.startswith(str(ROOT)) and not f.filename.startswith((str(ROOT / ".venv"), __file__))
            ]
            where = f"{ours[-1].filename.removeprefix(str(ROOT) + '/')}:{ours[-1].lineno}" if ours else "?"
            during.append(f"{type(request).__name__} {getattr(request, 'fqn', '')} from {where}")
        return send(self, request, response_type)

    start_engine, collect = app.EngineStart.start, app.EngineStart.result

    def starting(self: app.EngineStart) -> None:
        overlapping.set()
        started.set()
        start_engine(self)

    def collecting(self: app.EngineStart) -> Any:
        overlapping.clear()
        return collect(self)

    jsii_process._NodeProcess.send = noting  # type: ignore[method-assign]
    app.EngineStart.start = starting  # type: ignore[method-assign,assignment]
    app.EngineStart.result = collecting  # type: ignore[method-assign]
    status = app.main()
    report.write_text(json.dumps({"during_overlap": during, "engine_started": started.is_set()}))
    return status


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1])))
