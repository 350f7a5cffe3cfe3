"""`make bench`: time a full synth of the dev profile, a synth of the minimal app and the test suite.

Each synth runs through the CDK CLI, as users run it, into a temporary directory.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SYNTH_RATIO = 2.0
TARGET_SUITE_RATIO = 12.0


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    cdk = str(ROOT / "node_modules" / ".bin" / "cdk")
    with tempfile.TemporaryDirectory() as out:
        full = timed([cdk, "synth", "--quiet", "-c", "env=dev", "-o", f"{out}/full"])
        minimal = timed(
            [cdk, "synth", "--quiet", "--app", f"{sys.executable} bench/minimal_app.py", "-o", f"{out}/minimal"]
        )
    suite = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}")
    print(f"{'full synth (dev, 5 stacks, cdk-nag, reachability)':<55} {full:6.1f} s")
    print(f"{'minimal synth (bench/minimal_app.py, 2 stacks)':<55} {minimal:6.1f} s")
    print(f"{'test suite (pytest, warm)':<55} {suite:6.1f} s")
    synth_ratio, suite_ratio = full / minimal, suite / minimal
    print(f"full synth / minimal synth = {synth_ratio:.2f} (target <= {TARGET_SYNTH_RATIO})")
    print(f"test suite / minimal synth = {suite_ratio:.2f} (target <= {TARGET_SUITE_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
