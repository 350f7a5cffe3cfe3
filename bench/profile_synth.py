"""Where a synth spends its time: the dev profile beside the minimal app, phase by phase, each in a fresh process.

The phases are the CDK's own performance counters (``CDK_PERF_COUNTERS_FILE``): loading (Python's
imports and Node with aws-cdk-lib, until the App exists), building the stacks, synthesizing
(aspects, references, templates) and validating (the validation plugins). The jsii messages count
the round trips between Python and Node, callbacks into Python (aspects, the synthesizer, the
reachability check) among them.

    python bench/profile_synth.py
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Only the messages' plumbing: importing it starts no Node.
from jsii._kernel.providers import process as jsii_process
from jsii._kernel.types import Callback

ROOT = Path(__file__).resolve().parent.parent
APPS = {"dev": ["app.py"], "minimal": ["bench/minimal_app.py"]}
# The CDK writes its counters only for a synth slower than this per stack (ms); 0: always.
COUNTERS_CONTEXT = {"@aws-cdk/core.slowSynthThreshold": 0}


def counted_run(script: str) -> None:
    """Runs ``script`` as ``__main__``, counting jsii's messages; writes the counts to stderr's last line."""
    sys.path.insert(0, str(ROOT))
    counts = {"requests": 0, "callbacks": 0}
    send = jsii_process._NodeProcess.send

    def counting(self: Any, request: Any, response_type: Any) -> Any:
        counts["requests"] += 1
        response = send(self, request, response_type)
        counts["callbacks"] += isinstance(response, Callback)
        return response

    jsii_process._NodeProcess.send = counting  # type: ignore[method-assign]
    try:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    finally:
        print(json.dumps(counts), file=sys.stderr)


def profile(name: str, out: Path) -> dict[str, float]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update(COUNTERS_CONTEXT)
    if name == "dev":
        context["env"] = "dev"
    counters = out / f"{name}.counters.json"
    env = {
        **os.environ,
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
        "CDK_OUTDIR": str(out / name),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_PERF_COUNTERS_FILE": str(counters),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *APPS[name]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0 and not counters.exists():
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    measured: dict[str, float] = json.loads(counters.read_text())["counters"]
    messages = json.loads(done.stderr.strip().splitlines()[-1])
    return {**{key: value / 1000 for key, value in measured.items()}, **messages, "wall": wall}


ROWS = (
    ("phase:Load", "load: Python's imports, Node and aws-cdk-lib"),
    ("phase:Construction", "build the stacks"),
    ("synthesize", "synthesize: aspects, references, templates"),
    ("validateTemplates", "validate: the plugins, the report"),
    ("CloudFormationValidate.validate", "  of which CloudFormation Validate on the templates"),
    ("rest", "Python's start and Node's exit"),
    ("wall", "the whole process"),
)


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        counted_run(sys.argv[2])
        return 0
    with tempfile.TemporaryDirectory() as work:
        results = {name: profile(name, Path(work)) for name in APPS}
    for result in results.values():
        result["synthesize"] = result["phase:Synthesis"] - result["validateTemplates"]
        phases = result["phase:Load"] + result["phase:Construction"] + result["phase:Synthesis"]
        result["rest"] = result["wall"] - phases
    print(f"{'seconds':<54}{'dev':>8}{'minimal':>9}")
    for key, label in ROWS:
        print(f"{label:<54}{results['dev'].get(key, 0):8.2f}{results['minimal'].get(key, 0):9.2f}")
    for key in ("requests", "callbacks"):
        print(f"{'jsii ' + key:<54}{results['dev'][key]:8.0f}{results['minimal'][key]:9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
