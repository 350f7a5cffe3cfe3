"""Slow checks that mostly wait (Prometheus discovering the services, the services' own test
runners, checkov), started as soon as the session knows it will run them, so that their waiting
overlaps the rest of the suite. The test that owns each one collects it with ``take``; run
alone, that test simply starts it itself."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_JOBS: dict[str, tuple[Any, list[subprocess.Popen[Any]]]] = {}


def start(name: str, begin: Callable[[], tuple[T, Iterable[subprocess.Popen[Any]]]]) -> None:
    """Start ``name`` now; ``begin`` returns its handle and the processes it started."""
    if name not in _JOBS:
        handle, processes = begin()
        _JOBS[name] = (handle, list(processes))


def take(name: str, begin: Callable[[], tuple[T, Iterable[subprocess.Popen[Any]]]]) -> T:
    """The handle of ``name``, started earlier or now."""
    start(name, begin)
    handle: T = _JOBS.pop(name)[0]
    return handle


def stop_all() -> None:
    """Kill whatever no test collected (a session stopped early)."""
    for _, processes in _JOBS.values():
        for process in processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # a process group of its own, with its children
                except (PermissionError, ProcessLookupError):
                    process.kill()
                process.wait()
    _JOBS.clear()
