"""The release's failure paths of issue 24, executed (tests/stepfunctions) against the world of
tests/release_world.py, on definitions built from the shipped profiles' specs and from
platforms of one and three services: an update that cannot be followed is cancelled before
anything else; CloudFormation's own roll-back is waited for; an UpdateStack that is throttled
is sent again with the same token; every notice names the tags that run and whether an
operator must act, and an update CloudFormation rolled back names its first failure."""

from __future__ import annotations

import pytest

from tests.release_responses import (
    CANCEL_UPDATE,
    DELETE_IMAGES,
    DESCRIBE_EVENTS,
    DESCRIBE_SERVICES,
    DESCRIBE_STACKS,
    LIST_IMAGES,
    NEW,
    PREVIOUS,
    UPDATE_STACK,
    throttled,
)
from tests.release_world import PLATFORMS, Case, World, arguments, notice, plain_worlds, run_cases
from tests.stepfunctions.runner import HANG, Scenario, Trace, error, result

REFUSED_CANCEL = (
    "CancelUpdateStack cannot be called from current stack status (Service: CloudFormation, Status Code: 400)"
)
NO_ACTION = "No operator action is needed."
OPERATOR = "An operator must act"


def _scenarios(world: World) -> dict[str, Scenario]:
    polls = world.spec.update_polls
    first, second = (f"{s.name}Service" for s in (world.spec.services * 2)[:2])
    good = world.until_released()
    checked = {f"{DESCRIBE_SERVICES}#CheckServices": [world.released()], **world.one_off_run("SmokeTests")}
    smoke_fail = {**good, f"{DESCRIBE_SERVICES}#CheckServices": [world.released()]}
    smoke_fail.update(world.one_off_run("SmokeTests", exit_code=1))
    unreadable = [world.stack("UPDATE_IN_PROGRESS", NEW, 1), *[throttled()] * 4]
    failed = world.notified() | world.tidied()
    rolled_back = [
        world.stack("UPDATE_IN_PROGRESS", NEW, 1),
        world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1),
        world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1),
    ]
    alarm = "Resource handler returned message: ECS deployment failed: a deployment alarm is in ALARM"
    return {
        "the stack cannot be read while the update runs": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": unreadable,
                **world.cancelled(),
                f"{DESCRIBE_STACKS}#CheckSettle": [world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1)],
                DESCRIBE_EVENTS: [world.events("release", [(first, "Resource update cancelled")])],
                **failed,
            }
        ),
        "the stack cannot be read and the update completes before the cancel": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": unreadable,
                CANCEL_UPDATE: [error("CloudFormation.CloudFormationException", REFUSED_CANCEL)] * 4,
                f"{DESCRIBE_STACKS}#CheckSettle": [world.stack("UPDATE_COMPLETE", NEW, 2)],
                **world.restored(),
            }
        ),
        "the budget runs out during CloudFormation's roll-back": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": [world.stack("UPDATE_IN_PROGRESS", NEW, 1)] * (polls - 1)
                + [world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1)],
                f"{DESCRIBE_STACKS}#CheckSettle": [world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1)] * 3
                + [world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1)],
                DESCRIBE_EVENTS: [world.events("release", [(first, alarm)])],
                **failed,
            }
        ),
        "CloudFormation's roll-back outlasts its own bound": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": [world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1)] * polls,
                f"{DESCRIBE_STACKS}#CheckSettle": [world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1)] * polls,
                **world.notified(),
            }
        ),
        "a deployment alarm rolls the release back in its bake window": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": rolled_back,
                DESCRIBE_EVENTS: [world.events("release", [(first, alarm), (second, "Resource update cancelled")])],
                **failed,
            }
        ),
        "a rolled-back update's events carry no token": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": rolled_back,
                DESCRIBE_EVENTS: [world.events("release", [(first, alarm)], tokens=False)],
                **failed,
            }
        ),
        "the restore fails and CloudFormation rolls it back": world.scenario(
            {
                **smoke_fail,
                f"{UPDATE_STACK}#RollBack": [result({"StackId": "stack-id"})],
                f"{DESCRIBE_STACKS}#CheckRestore": [
                    world.stack("UPDATE_COMPLETE", NEW, 2),
                    world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 2),
                    world.stack("UPDATE_ROLLBACK_COMPLETE", NEW, 2),
                ],
                DESCRIBE_EVENTS: [world.events("restore", [(first, "CannotPullContainerError")])],
                **world.tidied(),
                **world.notified(),
            }
        ),
        "the release's update is throttled once": world.scenario(
            {**good, f"{UPDATE_STACK}#ReleaseServices": [throttled(), result({"StackId": "stack-id"})], **checked}
            | world.tidied()
        ),
        "the release's update times out, and its retry finds it received": world.scenario(
            {
                **good,
                f"{UPDATE_STACK}#ReleaseServices": [
                    HANG,
                    error("CloudFormation.TokenAlreadyExistsException", "A client request token already exists"),
                ],
                **checked,
                **world.tidied(),
            }
        ),
        "the restore's update is throttled once": world.scenario(
            {**smoke_fail, **world.restored(), f"{UPDATE_STACK}#RollBack": [throttled(), result({"StackId": "s"})]}
        ),
    }


@pytest.fixture(scope="module")
def cases() -> dict[tuple[str, str], Case]:
    return run_cases(plain_worlds(), _scenarios)


def _case(cases: dict[tuple[str, str], Case], platform: str, name: str, *, status: str = "FAILED") -> Case:
    case = cases[(platform, name)]
    trace = case.trace
    assert trace.status == status, f"{trace.error}: {trace.cause}"
    assert trace.unconsumed_responses == {}, trace.unconsumed_responses
    return case


def _order(trace: Trace) -> list[str]:
    """The calls that change the stack, in order: cancel, release (update) and restore (update)."""
    names = {CANCEL_UPDATE: "cancel", UPDATE_STACK: "update"}
    return [f"{names[c.resource]} {c.state}" for c in trace.calls if c.resource in names]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_that_cannot_be_followed_is_cancelled_not_updated_again(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    """Before: CheckRelease's catch went to RollBack, an UpdateStack CloudFormation refuses in
    UPDATE_IN_PROGRESS; the update then completed and the new tag ran unchecked."""
    case = _case(cases, platform, "the stack cannot be read while the update runs")
    assert _order(case.trace) == ["update ReleaseServices", "cancel CancelRelease"]
    message = notice(case.trace)
    assert "the update was cancelled and CloudFormation restored the previous tags" in message
    assert f"Now running: {case.world.running(PREVIOUS)}. {NO_ACTION}" in message


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_that_completed_before_the_cancel_is_restored_once_stable(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the stack cannot be read and the update completes before the cancel")
    assert _order(case.trace) == ["update ReleaseServices", *["cancel CancelRelease"] * 4, "update RollBack"]
    assert case.trace.states.index("CheckSettle") < case.trace.states.index("RollBack")
    assert f"restored the previous tags. Now running: {case.world.running(PREVIOUS)}. {NO_ACTION}" in notice(case.trace)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cloudformations_own_roll_back_is_waited_for_not_cancelled(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    """Before: the budget ran out, the release cancelled (refused) and said the stack needs an operator."""
    case = _case(cases, platform, "the budget runs out during CloudFormation's roll-back")
    assert arguments(case.trace, CANCEL_UPDATE) == []
    first = f"{case.world.spec.services[0].name}Service"
    message = notice(case.trace)
    assert f"CloudFormation rolled the update back ({first}: Resource handler returned message" in message
    assert f"Now running: {case.world.running(PREVIOUS)}. {NO_ACTION}" in message


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_roll_back_that_outlasts_its_bound_is_reported_as_unknown(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "CloudFormation's roll-back outlasts its own bound")
    assert arguments(case.trace, CANCEL_UPDATE) == []
    assert case.trace.states.count("CheckSettle") == case.world.spec.update_polls
    message = notice(case.trace)
    assert f"Now running: unknown: {case.world.stack_name} is UPDATE_ROLLBACK_IN_PROGRESS" in message
    assert OPERATOR in message
    assert arguments(case.trace, DELETE_IMAGES) == [], "what runs is unknown: no mark is removed"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    "name",
    ["a deployment alarm rolls the release back in its bake window", "a rolled-back update's events carry no token"],
)
def test_a_rolled_back_update_names_its_first_failure_and_the_previous_tag(
    cases: dict[tuple[str, str], Case], platform: str, name: str
) -> None:
    """The stack's StackStatusReason is empty here: the stack events name the cause, not an
    earlier deploy's failure nor the updates CloudFormation cancelled after the first."""
    case = _case(cases, platform, name)
    assert case.trace.error == "DeploymentFailed.ReleaseServices"
    first = f"{case.world.spec.services[0].name}Service"
    message = notice(case.trace)
    assert f"CloudFormation rolled the update back: {first}: Resource handler returned message: ECS" in message
    assert f"Now running: {case.world.running(PREVIOUS)}. {NO_ACTION}" in message
    assert len(arguments(case.trace, UPDATE_STACK)) == 1, "CloudFormation already put the previous tags back"
    assert "CheckServices" not in case.trace.states


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_failed_restore_that_rolled_back_says_the_failed_tag_runs(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the restore fails and CloudFormation rolls it back")
    message = notice(case.trace)
    first = f"{case.world.spec.services[0].name}Service"
    assert f"putting the previous tags back failed ({first}: CannotPullContainerError)" in message
    assert f"Now running: {case.world.running(NEW)}. {OPERATOR}" in message
    # What runs is the new tag now: its marks are tidied as after a release.
    assert len(arguments(case.trace, LIST_IMAGES)) == len(case.world.repositories)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    "name",
    ["the release's update is throttled once", "the release's update times out, and its retry finds it received"],
)
def test_a_throttled_or_timed_out_release_update_is_sent_again_with_its_token(
    cases: dict[tuple[str, str], Case], platform: str, name: str
) -> None:
    case = _case(cases, platform, name, status="SUCCEEDED")
    first, again = arguments(case.trace, UPDATE_STACK, "ReleaseServices")
    assert first == again, "the same request, with the same ClientRequestToken"
    assert first["ClientRequestToken"].endswith("-release")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_throttled_restore_is_sent_again_and_restores(cases: dict[tuple[str, str], Case], platform: str) -> None:
    """Before: a single throttle on RollBack left the failed tag running."""
    case = _case(cases, platform, "the restore's update is throttled once")
    first, again = arguments(case.trace, UPDATE_STACK, "RollBack")
    assert first == again
    assert first["ClientRequestToken"].endswith("-restore")
    assert f"restored the previous tags. Now running: {case.world.running(PREVIOUS)}." in notice(case.trace)
