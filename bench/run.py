"""`make bench`: time a full synth of the dev profile against a synth of the minimal app, then the test suite.

Each synth runs through the CDK CLI, as users run it, into a temporary directory. The two synths
take turns, ``--rounds`` times, and each counts its fastest run: other work on a shared machine
only ever slows a run down. The bench fails (exit 1) when the dev synth takes more than
``TARGET_SYNTH_RATIO`` times the minimal app's.

    python bench/run.py [--rounds 5] [--synth-only]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SYNTH_RATIO = 1.8
TARGET_SUITE_RATIO = 12.0
CDK = str(ROOT / "node_modules" / ".bin" / "cdk")
SYNTHS = {
    "full synth (dev, 5 stacks, cdk-nag, reachability)": [CDK, "synth", "--quiet", "-c", "env=dev"],
    "minimal synth (bench/minimal_app.py, 2 stacks)": [
        CDK,
        "synth",
        "--quiet",
        "--app",
        f"{sys.executable} bench/minimal_app.py",
    ],
}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.perf_counter() - started


def best_synths(rounds: int) -> dict[str, list[float]]:
    """Every run of each synth, in turns; each round starts with the other one than the last."""
    runs: dict[str, list[float]] = {label: [] for label in SYNTHS}
    labels = list(SYNTHS)
    with tempfile.TemporaryDirectory() as out:
        for number in range(rounds):
            for index, label in enumerate(labels if number % 2 == 0 else labels[::-1]):
                runs[label].append(timed([*SYNTHS[label], "-o", f"{out}/{number}-{index}"]))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each synth; the fastest counts (5)")
    parser.add_argument("--synth-only", action="store_true", help="time the synths, not the test suite")
    args = parser.parse_args(argv)
    runs = best_synths(max(1, args.rounds))
    full, minimal = (min(times) for times in runs.values())
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {machine}; load average {load:.2f} after the synths")
    for label, times in runs.items():
        every = " ".join(f"{t:.1f}" for t in times)
        print(f"{label:<55} {min(times):6.1f} s  (best of {len(times)}: {every})")
    synth_ratio = full / minimal
    if not args.synth_only:
        suite = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
        print(f"{'test suite (pytest, warm)':<55} {suite:6.1f} s")
        print(f"test suite / minimal synth = {suite / minimal:.2f} (target <= {TARGET_SUITE_RATIO})")
    verdict = "ok" if synth_ratio <= TARGET_SYNTH_RATIO else "OVER the target"
    print(f"full synth / minimal synth = {synth_ratio:.2f} (target <= {TARGET_SYNTH_RATIO}): {verdict}")
    return 0 if synth_ratio <= TARGET_SYNTH_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
