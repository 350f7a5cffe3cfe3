"""Where a dev synth spends its time: loading the CDK, building the stacks, synthesizing with the checks."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

started = time.perf_counter()
import aws_cdk  # noqa: E402

from platform_spec import spec_from_context  # noqa: E402
from stacks.platform import add_compliance_checks, build_platform  # noqa: E402
from tests.platform_synth import new_app  # noqa: E402

loaded = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    app = new_app(Path(out), {"env": "dev"})
    spec = spec_from_context({"env": "dev"})
    build_platform(app, spec)
    built = time.perf_counter()
    app.synth()
    plain = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    app = new_app(Path(out), {"env": "dev"})
    build_platform(app, spec)
    add_compliance_checks(app, spec)
    rebuilt = time.perf_counter()
    app.synth()
    checked = time.perf_counter()
del aws_cdk
print(f"{'load aws-cdk-lib (Node + jsii)':<48} {loaded - started:5.1f} s")
print(f"{'build the five stacks':<48} {built - loaded:5.1f} s")
print(f"{'synthesize without checks':<48} {plain - built:5.1f} s")
print(f"{'synthesize with cdk-nag and reachability':<48} {checked - rebuilt:5.1f} s")
