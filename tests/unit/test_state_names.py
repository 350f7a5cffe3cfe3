"""The release's state-naming protocol (layers/release/state_names.py): the names the release
builds are the names its readers parse, and every one-off state of the definition is one."""

from __future__ import annotations

import pytest

from layers.release.definition import release_definition
from layers.release.state_names import (
    DESCRIBE,
    ONE_OFF_KINDS,
    REGISTER,
    RUN,
    all_states,
    describe_state,
    described_variable,
    register_state,
    registered_variable,
    run_state,
    step_of,
)
from platform_spec.profiles import dev
from tests.release_world import plain_targets


def test_a_built_name_parses_back_to_its_step() -> None:
    assert (describe_state("Migrations"), register_state("Migrations"), run_state("Migrations")) == (
        "DescribeMigrations",
        "RegisterMigrations",
        "RunMigrations",
    )
    for kind, build in ((DESCRIBE, describe_state), (REGISTER, register_state), (RUN, run_state)):
        assert step_of(build("SmokeTests"), kind) == "SmokeTests"
    assert (described_variable("SmokeTests"), registered_variable("SmokeTests")) == (
        "smokeTestsDefinition",
        "smokeTestsTaskDefinition",
    )


def test_a_name_of_another_kind_or_of_no_step_is_none() -> None:
    assert step_of("RunMigrations", DESCRIBE) is None
    assert step_of("Run", RUN) is None
    assert step_of("ReleaseServices", REGISTER) is None
    with pytest.raises(ValueError, match="'Start'"):
        step_of("StartMigrations", "Start")


def test_every_one_off_state_of_the_definition_follows_the_protocol() -> None:
    """Each one-off step has its three states, and every ECS task-definition call or run is one."""
    spec = dev()
    targets = plain_targets(spec)
    states = release_definition(spec, targets)["States"]
    names = {name for name, _, _ in all_states(states)}
    for step in (targets.migrations.step, targets.smoke_tests.step):
        assert {describe_state(step), register_state(step), run_state(step)} <= names
    ecs_calls = {
        name
        for name, state, _ in all_states(states)
        if state["Type"] == "Task"
        and state["Resource"].endswith((":ecs:describeTaskDefinition", ":ecs:registerTaskDefinition", ":runTask.sync"))
    }
    assert ecs_calls
    assert all(any(step_of(name, kind) for kind in ONE_OFF_KINDS) for name in ecs_calls)
