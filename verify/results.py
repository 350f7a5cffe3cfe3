"""What a check answers: passed, failed, or could not run (which counts as failed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Status(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    """The check could not run; counts as failed."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    subject: str
    status: Status
    detail: str


def guarded(check: str, subject: str, run: Callable[[], tuple[bool, str]]) -> CheckResult:
    """``run``'s verdict and detail as the result of ``check`` on ``subject``; an exception is an ERROR."""
    try:
        passed, detail = run()
    except Exception as error:  # any failure to ask AWS is reported, never taken for a pass
        return CheckResult(check, subject, Status.ERROR, f"could not check: {type(error).__name__}: {error}")
    return CheckResult(check, subject, Status.PASS if passed else Status.FAIL, detail)
