"""A scheduled environment that sleeps refuses releases and checks, rather than waking up
(docs/operations.md, "Releasing and verifying while dev sleeps"). ``python -m tools.release
start`` and ``python -m verify`` refuse outside the window by the clock, before any AWS call;
the state machine, which an application repository's CI may start directly, reads the
database's state first and refuses while it is stopped, stopping or starting. Without a
schedule there is nothing to refuse and the definition has none of these states."""

from __future__ import annotations

import json
from datetime import datetime

from layers.release.states import TRANSIENT_RETRY, ReleaseContext, State, aws_call, catch, jsonata, jsonata_list
from platform_spec import PlatformSpec

ASLEEP_ERROR = "Asleep"
"""The error a release started while the environment sleeps fails with."""
SLEEP_STATUSES = ("stopped", "stopping", "starting")
"""The database's states while it sleeps or is on its way (RDS user guide, "Viewing Amazon RDS
DB instance status"). A database that is up but busy (``backing-up``, ``modifying``) is not
asleep: the release goes on, as it did before there were schedules, and its own steps fail if
the database cannot serve them."""
READ_DATABASE = "ReadDatabase"


def asleep_message(spec: PlatformSpec, *, doing: str, why: str = "") -> str:
    """``dev is asleep<why>: it runs MON-FRI 08:00-19:00 America/New_York; <doing> inside the window``."""
    if spec.schedule is None:
        raise ValueError(f"{spec.environment} has no schedule: it never sleeps")
    return f"{spec.environment} is asleep{why}: it runs {spec.schedule.describe()}; {doing} inside the window"


def refusal(spec: PlatformSpec, at: datetime, *, doing: str) -> str | None:
    """The one-line refusal when ``spec``'s environment sleeps at ``at`` (aware); ``None`` when
    it has no schedule or ``at`` is inside its window."""
    if spec.schedule is None or spec.schedule.is_awake(at):
        return None
    return asleep_message(spec, doing=doing)


def refuse_asleep(release: ReleaseContext, *, next_state: str) -> dict[str, State]:
    """``ReadDatabase`` to ``next_state``, or to ``Asleep`` while the database sleeps; ``{}``
    without a schedule. A database that cannot be read fails the release (the notice names the
    error, ``Rds.DbInstanceNotFoundException`` for one that does not exist)."""
    spec = release.spec
    if spec.schedule is None:
        return {}
    compute_stack = release.targets.compute_stack
    # The cause names the state the database was read in: the message around it, as JSONata literals.
    before, after = asleep_message(spec, doing="release", why=" (database \x00)").split("\x00")
    failed = catch(READ_DATABASE, "ReleaseFailed")
    failed["Assign"]["runs"] = f"unknown: the release stopped before reading {compute_stack}; it changed nothing"
    return {
        READ_DATABASE: aws_call(
            "rds:describeDBInstances",
            {"DbInstanceIdentifier": spec.database_identifier},
            Retry=TRANSIENT_RETRY,
            Assign={"databaseStatus": jsonata("$states.result.DbInstances[0].DbInstanceStatus")},
            # What comes next reads the execution's input, as it did without this step.
            Output=jsonata("$states.input"),
            Catch=[failed],
            Next="DatabaseAwake",
        ),
        "DatabaseAwake": {
            "Type": "Choice",
            "Choices": [
                {"Condition": jsonata(f"$databaseStatus in {jsonata_list(SLEEP_STATUSES)}"), "Next": ASLEEP_ERROR}
            ],
            "Default": next_state,
        },
        ASLEEP_ERROR: {
            "Type": "Fail",
            "Error": ASLEEP_ERROR,
            "Cause": jsonata(f"{json.dumps(before)} & $databaseStatus & {json.dumps(after)}"),
        },
    }
