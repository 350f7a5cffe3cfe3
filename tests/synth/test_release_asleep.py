"""A release started while a scheduled environment sleeps (issue 26), executed (tests/stepfunctions)
against the world of tests/release_world.py: the state machine, which an application
repository's CI may start directly, reads its database's state first and refuses at once while
it is stopped, stopping or starting, naming the window; an available database releases as
before; a database that cannot be read fails the release, named. A profile without a schedule
has none of it. The refusal of the command-line tools is in tests/synth/test_release_tool.py and
tests/integration/test_verify.py."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from layers.release.asleep import SLEEP_STATUSES
from platform_spec import PlatformSpec
from platform_spec.profiles import dev
from tests.platform_synth import Synthesized
from tests.release_responses import (
    DESCRIBE_DB_INSTANCES,
    DESCRIBE_SERVICES,
    GET_IMAGE,
    NEW,
    PUBLISH,
    RUN_TASK,
    UPDATE_STACK,
    db_instance,
    db_instance_not_found,
)
from tests.release_world import (
    Case,
    World,
    arguments,
    notice,
    plain_world,
    plain_worlds,
    run_cases,
    scheduled,
    synthesized_definition,
)
from tests.stepfunctions.runner import Scenario

BUSY_BUT_UP = "backing-up"
"""A database that is up and busy: not asleep."""


def _good(world: World) -> dict[str, Any]:
    """Every answer but the database's a good release meets."""
    return {
        **world.until_released(),
        f"{DESCRIBE_SERVICES}#CheckServices": [world.released()],
        **world.one_off_run("SmokeTests"),
        **world.tidied(),
    }


def _scenarios(world: World) -> dict[str, Scenario]:
    if world.database is None:
        return {"good release": world.scenario(_good(world))}
    database = world.database
    return {
        **{
            f"database {status}": world.scenario(
                {**_good(world), DESCRIBE_DB_INSTANCES: [db_instance(world.spec.region, database, status)]}
            )
            for status in (*SLEEP_STATUSES, "available", BUSY_BUT_UP)
        },
        "database not found": world.scenario(
            {**_good(world), DESCRIBE_DB_INSTANCES: [db_instance_not_found(database)] * 4, **world.notified()}
        ),
    }


def _scheduled(spec: PlatformSpec) -> bool:
    return spec.schedule is not None


@pytest.fixture(scope="module")
def cases(synthesized: dict[str, Synthesized]) -> dict[tuple[str, str], Case]:
    worlds = {f"{name} synthesized": World(s.spec, synthesized_definition(s)) for name, s in synthesized.items()}
    worlds.update(plain_worlds())
    # Whatever the profiles say, one platform under test sleeps.
    worlds["scheduled"] = plain_world(scheduled(dev()))
    return run_cases(worlds, _scenarios)


def _platforms(cases: dict[tuple[str, str], Case], scenario: str) -> list[Case]:
    found = [case for (_, name), case in cases.items() if name == scenario]
    assert found, scenario
    return found


@pytest.mark.parametrize("status", SLEEP_STATUSES)
def test_a_release_while_the_database_sleeps_is_refused_at_once_naming_the_window(
    cases: dict[tuple[str, str], Case], status: str
) -> None:
    for case in _platforms(cases, f"database {status}"):
        trace, spec = case.trace, case.world.spec
        assert spec.schedule is not None
        assert trace.status == "FAILED", (trace.error, trace.cause)
        assert trace.error == "Asleep"
        assert trace.cause == (
            f"{spec.environment} is asleep (database {status}): it runs {spec.schedule.describe()};"
            " release inside the window"
        )
        # Its one call is the read of its own database: no update, no task, no image, no notice.
        assert [(c.resource, c.arguments) for c in trace.calls] == [
            (DESCRIBE_DB_INSTANCES, {"DbInstanceIdentifier": spec.database_identifier})
        ]
        for resource in (UPDATE_STACK, RUN_TASK, GET_IMAGE, PUBLISH):
            assert arguments(trace, resource) == []


@pytest.mark.parametrize("status", ["available", BUSY_BUT_UP])
def test_a_release_while_the_database_is_up_goes_on_as_before(cases: dict[tuple[str, str], Case], status: str) -> None:
    for case in _platforms(cases, f"database {status}"):
        trace, spec = case.trace, case.world.spec
        assert trace.status == "SUCCEEDED", (trace.error, trace.cause)
        assert trace.calls[0].resource == DESCRIBE_DB_INSTANCES
        assert trace.calls[0].arguments == {"DbInstanceIdentifier": spec.database_identifier}
        assert len(arguments(trace, DESCRIBE_DB_INSTANCES)) == 1
        assert len(arguments(trace, UPDATE_STACK)) == 1
        assert len(arguments(trace, RUN_TASK)) == 2
        assert trace.output == {"imageTag": NEW, "releaseTag": trace.output["releaseTag"]}
        assert trace.unconsumed_responses == {}


def test_a_database_that_cannot_be_read_fails_the_release_naming_it(cases: dict[tuple[str, str], Case]) -> None:
    for case in _platforms(cases, "database not found"):
        trace, spec = case.trace, case.world.spec
        assert trace.status == "FAILED", (trace.error, trace.cause)
        assert trace.error == "DeploymentFailed.ReadDatabase"
        message = notice(trace)
        assert message.startswith(f"Release of {NEW} to {spec.stack_prefix} failed at ReadDatabase: ")
        assert f"Rds.DbInstanceNotFoundException: DBInstance {spec.database_identifier} not found" in message
        assert "nothing was changed" in message
        assert len(arguments(trace, DESCRIBE_DB_INSTANCES)) == 4, "retried three times"
        for resource in (UPDATE_STACK, RUN_TASK, GET_IMAGE):
            assert arguments(trace, resource) == []
        assert message.split(": ", 1)[1] in str(trace.cause)


def test_without_a_schedule_the_release_never_reads_the_database(cases: dict[tuple[str, str], Case]) -> None:
    unscheduled = [case for (_, name), case in cases.items() if name == "good release"]
    assert unscheduled, "a profile without a schedule is under test (prod)"
    for case in unscheduled:
        assert not _scheduled(case.world.spec)
        assert case.trace.status == "SUCCEEDED", (case.trace.error, case.trace.cause)
        assert arguments(case.trace, DESCRIBE_DB_INSTANCES) == []
        assert "rds:" not in str(case.world.definition)


def test_the_refusal_adds_its_states_and_changes_nothing_else() -> None:
    """The same platform with and without a schedule: three states between the tag check and the
    released tags' read, and otherwise the same definition (so prod's is unchanged)."""
    for spec in [scheduled(dev()), *(p.spec for p in plain_worlds().values() if _scheduled(p.spec))]:
        sleeping = plain_world(spec).definition
        unscheduled = plain_world(replace(spec, schedule=None)).definition
        added = set(sleeping["States"]) - set(unscheduled["States"])
        assert added == {"ReadDatabase", "DatabaseAwake", "Asleep"}
        assert sleeping["States"]["CheckTag"]["Choices"][0]["Next"] == "ReadDatabase"
        assert sleeping["States"]["DatabaseAwake"]["Default"] == "ReadReleasedTags"
        stripped = copy.deepcopy(sleeping)
        for name in added:
            del stripped["States"][name]
        stripped["States"]["CheckTag"]["Choices"][0]["Next"] = "ReadReleasedTags"
        assert stripped == unscheduled
