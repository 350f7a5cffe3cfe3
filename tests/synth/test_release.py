"""The release state machine, executed: the synthesized definition of each profile (and the
definition of a platform with one and with three services) run by the reference JSONata
engine (tests/stepfunctions), against AWS responses in their real shapes, through every
failure path. Each test asserts the path taken, the calls made, the end and what was restored.
The failure paths added for issue 24 (an update that cannot be followed, a roll-back that
outlasts the budget, the notice, retried updates, image indexes) are in
test_release_failures.py; the world both use is tests/release_world.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from platform_spec.names import COMPUTE, image_tag_parameter
from platform_spec.profiles import dev as dev_profile
from tests.platform_synth import ROOT, Synthesized
from tests.release_responses import (
    CANCEL_UPDATE,
    DESCRIBE_EVENTS,
    DESCRIBE_SERVICES,
    DESCRIBE_STACKS,
    GET_IMAGE,
    NEW,
    PREVIOUS,
    PUBLISH,
    PUT_IMAGE,
    REGISTER_TASK_DEFINITION,
    RELEASE_TAG,
    RUN_TASK,
    UPDATE_STACK,
    deployment,
)
from tests.release_world import (
    PLATFORMS,
    Case,
    World,
    arguments,
    one_service,
    parameters,
    plain_world,
    run_cases,
    synthesized_definition,
    three_services,
)
from tests.stepfunctions.runner import Scenario, error, result, run, validate

# --- Scenarios: built once, run in one batch -------------------------------------------------


def _scenarios(world: World) -> dict[str, Scenario]:
    max_polls = world.spec.update_polls
    first_failure = f"{world.spec.services[0].name}Service"
    good = world.until_released()
    smoke_ok = world.one_off_run("SmokeTests")
    rolled_back_by_circuit_breaker = world.services(
        lambda name: [
            deployment(world.service_definition(name, 1), "PRIMARY", "COMPLETED"),
            deployment(world.service_definition(name, 2), "ACTIVE", "FAILED"),
        ]
    )
    return {
        "good release": world.scenario(
            {**good, f"{DESCRIBE_SERVICES}#CheckServices": [world.released()], **smoke_ok, **world.tidied()}
        ),
        "migrations exit non-zero": world.scenario(
            {
                **{k: v for k, v in good.items() if "Stack" not in k.split("#")[0] or "ReadReleasedTags" in k},
                **world.one_off_run("Migrations", exit_code=1),
                **world.tidied(),
                **world.notified(),
            }
        ),
        "the update fails and CloudFormation rolls it back": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": [
                    world.stack("UPDATE_IN_PROGRESS", NEW, 1),
                    world.stack(
                        "UPDATE_ROLLBACK_IN_PROGRESS",
                        NEW,
                        1,
                        f"The following resource(s) failed to update: [{first_failure}].",
                    ),
                    world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1, "Update rolled back"),
                ],
                DESCRIBE_EVENTS: [world.events("release", [(first_failure, "Resource handler returned message")])],
                **world.tidied(),
                **world.notified(),
            }
        ),
        "the circuit breaker rolls a service back under a completed update": world.scenario(
            {**good, f"{DESCRIBE_SERVICES}#CheckServices": [rolled_back_by_circuit_breaker], **world.restored()}
        ),
        "the update never completes": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": [world.stack("UPDATE_IN_PROGRESS", NEW, 1)] * max_polls,
                **world.cancelled(),
                f"{DESCRIBE_STACKS}#CheckSettle": [
                    world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1),
                    world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1),
                ],
                DESCRIBE_EVENTS: [world.events("release", [(first_failure, "Resource update cancelled")])],
                **world.tidied(),
                **world.notified(),
            }
        ),
        "services never finish rolling out": world.scenario(
            {
                **good,
                f"{DESCRIBE_SERVICES}#CheckServices": [
                    world.services(
                        lambda name: [deployment(world.service_definition(name, 2), "PRIMARY", "IN_PROGRESS")]
                    )
                ]
                # One budget of polls for the update and the services: three went to the update.
                * (max_polls - 3),
                **world.restored(),
            }
        ),
        "smoke tests fail": world.scenario(
            {
                **good,
                f"{DESCRIBE_SERVICES}#CheckServices": [world.released()],
                **world.one_off_run("SmokeTests", exit_code=1),
                **world.restored(),
            }
        ),
        "the update call is refused": world.scenario(
            {
                **{k: v for k, v in good.items() if not k.endswith("#CheckRelease")},
                f"{UPDATE_STACK}#ReleaseServices": [
                    error("CloudFormation.CloudFormationException", "User is not authorized to perform: iam:PassRole")
                ],
                **world.tidied(),
                **world.notified(),
            }
        ),
        "the tag is already released": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [world.stack("UPDATE_COMPLETE", NEW, 2)],
                f"{UPDATE_STACK}#ReleaseServices": [
                    error(
                        "CloudFormation.CloudFormationException",
                        "No updates are to be performed. (Service: CloudFormation, Status Code: 400)",
                    )
                ],
                f"{DESCRIBE_STACKS}#ReadOutputs": [world.stack("UPDATE_COMPLETE", NEW, 2)],
                f"{DESCRIBE_STACKS}#CheckRelease": [],
                f"{DESCRIBE_SERVICES}#CheckServices": [world.released()],
                **smoke_ok,
                **world.tidied(),
            }
        ),
        "the first state fails": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [
                    error("CloudFormation.CloudFormationException", f"Stack with id {world.stack_name} does not exist")
                ]
                * 4,
                **world.notified(),
            }
        ),
        "an image is missing": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [world.stack("UPDATE_COMPLETE", PREVIOUS, 1)],
                GET_IMAGE: world.images(missing=world.repositories[-1]),
                PUT_IMAGE: [result({"Image": {}}) for _ in world.repositories[:-1]],
                **world.tidied(),
                **world.notified(),
            }
        ),
        "another update is under way": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [world.stack("UPDATE_IN_PROGRESS", PREVIOUS, 1)],
                **world.notified(),
            }
        ),
        "an empty tag": world.scenario({}, tag=""),
        "a malformed tag": world.scenario({}, tag="v1 beta"),
        "no tag": world.scenario({}, tag=None),
    }


@pytest.fixture(scope="session")
def cases(synthesized: dict[str, Synthesized]) -> dict[tuple[str, str], Case]:
    worlds = {name: World(synth.spec, synthesized_definition(synth)) for name, synth in synthesized.items()}
    for name, spec in (("one service", one_service()), ("three services", three_services())):
        worlds[name] = plain_world(spec)
    return run_cases(worlds, _scenarios)


def _case(cases: dict[tuple[str, str], Case], platform: str, name: str) -> Case:
    case = cases[(platform, name)]
    assert case.trace.status != "ERROR", f"{case.trace.error}: {case.trace.cause}"
    return case


def _assert_failed_at(case: Case, step: str, *, restored: str) -> None:
    trace = case.trace
    assert trace.status == "FAILED", (trace.error, trace.cause)
    assert trace.error == f"DeploymentFailed.{step}"
    (published,) = arguments(trace, PUBLISH)
    assert published["TopicArn"].startswith("arn:aws:sns:")
    message = published["Message"]
    assert message.startswith(f"Release of {NEW} to {case.world.spec.stack_prefix} failed at {step}: ")
    assert restored in message, message
    # Every notice says what runs now and whether an operator must act; so does the cause.
    assert ". Now running: " in message
    assert "No operator action is needed" in message or "An operator must act" in message
    assert message.split(": ", 1)[1] in f"{trace.cause}", (message, trace.cause)
    assert len(published["Subject"]) <= 100
    assert trace.unconsumed_responses == {}, trace.unconsumed_responses


# --- The good path ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_good_release_migrates_releases_every_service_and_smoke_tests(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "good release")
    trace, world = case.trace, case.world
    assert trace.status == "SUCCEEDED", (trace.error, trace.cause)
    assert trace.output == {"imageTag": NEW, "releaseTag": RELEASE_TAG}
    order = [s for s in trace.states if "/" not in s]
    assert order.index("RunMigrations") < order.index("ReleaseServices") < order.index("RunSmokeTests")
    # Each image is looked up with the tag and marked with the release's tag.
    assert [a["RepositoryName"] for a in arguments(trace, PUT_IMAGE)] == world.repositories
    assert {a["ImageTag"] for a in arguments(trace, PUT_IMAGE)} == {RELEASE_TAG}
    assert len(world.repositories) == len(world.spec.services)
    # Migrations run a registered copy of their task definition with the new image, all else kept.
    (register,) = arguments(trace, REGISTER_TASK_DEFINITION, "RegisterMigrations")
    one_off = world.one_off("Migrations")
    assert "MigrationsTask" in register["Family"]
    assert register["TaskRoleArn"].endswith("MigrationsTaskRole")
    images = {c["Name"]: c["Image"] for c in register["ContainerDefinitions"]}
    assert images == {
        one_off["container"]: f"{one_off['repository_uri']}:{NEW}",
        "volume-owner": f"{one_off['repository_uri']}:{NEW}",
        "sidecar": "public.ecr.aws/docker/library/busybox:1.37.0",
    }
    assert register["Volumes"] == [{"Name": f"{one_off['container']}-tmp", "Host": {}}]
    (run_migrations,) = arguments(trace, RUN_TASK, "RunMigrations")
    assert "MigrationsTask" in run_migrations["TaskDefinition"]
    assert run_migrations["TaskDefinition"].endswith(":2")
    assert run_migrations["Cluster"] == world.cluster
    assert run_migrations["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    # The services: one CloudFormation update, the previous template, only the tags changed.
    (update,) = arguments(trace, UPDATE_STACK)
    assert update["StackName"] == world.stack_name
    assert update["UsePreviousTemplate"] is True
    # The release's own stack role, never the bootstrap's (tests/synth/test_release_stack_role.py).
    assert ":role/" in update["RoleARN"]
    assert "cfn-exec-role" not in update["RoleARN"]
    assert update["ClientRequestToken"] == f"{RELEASE_TAG}-release"
    expected = {image_tag_parameter(s.name): NEW for s in world.spec.services}
    assert parameters(update) == {**expected, "BootstrapVersion": "previous"}
    (check,) = arguments(trace, DESCRIBE_SERVICES)
    assert check["Services"] == [world.service_arn(s.name) for s in world.spec.services]
    assert arguments(trace, PUBLISH) == []
    assert trace.unconsumed_responses == {}


def test_no_state_waits_without_a_bound(cases: dict[tuple[str, str], Case]) -> None:
    trace = _case(cases, "dev", "good release").trace
    spec = dev_profile()
    assert trace.timeout_seconds == spec.release_timeout_minutes * 60
    assert trace.waited_seconds == 3 * spec.delivery.rollout_poll_seconds


# --- Every failure path ------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_migrations_that_exit_non_zero_stop_the_release_before_any_service_changes(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "migrations exit non-zero")
    _assert_failed_at(case, "RunMigrations", restored="nothing was changed")
    assert arguments(case.trace, UPDATE_STACK) == []
    assert "States.TaskFailed" in str(case.trace.cause)
    assert '\\"ExitCode\\": 1' in str(case.trace.cause) or '"ExitCode": 1' in str(case.trace.cause)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_cloudformation_rolls_back_is_a_failure_and_is_not_rolled_back_twice(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update fails and CloudFormation rolls it back")
    _assert_failed_at(case, "ReleaseServices", restored="CloudFormation restored the previous tags")
    # The cause is the stack events' first failure of this update, not the stack's last word.
    first = f"{case.world.spec.services[0].name}Service"
    assert f"CloudFormation rolled the update back: {first}: Resource handler returned message" in str(case.trace.cause)
    assert f"Now running: {case.world.running(PREVIOUS)}. No operator action is needed." in str(case.trace.cause)
    assert len(arguments(case.trace, UPDATE_STACK)) == 1, "CloudFormation already put the previous tags back"
    assert "RunSmokeTests" not in case.trace.states


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_rollout_the_circuit_breaker_rolled_back_is_not_a_success(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    """The roll-back deployment is PRIMARY and COMPLETED; the deployment of the released
    revision FAILED. Judging "whatever is PRIMARY" would call this a success."""
    case = _case(cases, platform, "the circuit breaker rolls a service back under a completed update")
    _assert_failed_at(case, "CheckServices", restored="restored the previous tags")
    assert "not running the released revision" in str(case.trace.cause)
    _, roll_back = arguments(case.trace, UPDATE_STACK)
    previous = {image_tag_parameter(s.name): PREVIOUS for s in case.world.spec.services}
    assert parameters(roll_back) == {**previous, "BootstrapVersion": "previous"}
    assert roll_back["ClientRequestToken"] == f"{RELEASE_TAG}-restore"
    assert "RunSmokeTests" not in case.trace.states


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_that_never_completes_is_cancelled_within_the_poll_limit(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update never completes")
    _assert_failed_at(case, "ReleaseServices", restored="restored the previous tags")
    checks = [s for s in case.trace.states if s == "CheckRelease"]
    assert len(checks) == case.world.spec.update_polls
    assert len(arguments(case.trace, CANCEL_UPDATE)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_services_that_never_finish_rolling_out_are_rolled_back(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "services never finish rolling out")
    _assert_failed_at(case, "CheckServices", restored="restored the previous tags")
    assert len(arguments(case.trace, UPDATE_STACK)) == 2


@pytest.mark.parametrize("platform", PLATFORMS)
def test_failing_smoke_tests_put_the_previous_tags_back(cases: dict[tuple[str, str], Case], platform: str) -> None:
    case = _case(cases, platform, "smoke tests fail")
    _assert_failed_at(case, "RunSmokeTests", restored="restored the previous tags")
    (register,) = arguments(case.trace, REGISTER_TASK_DEFINITION, "RegisterSmokeTests")
    one_off = case.world.one_off("SmokeTests")
    assert {c["Name"]: c["Image"] for c in register["ContainerDefinitions"]}[one_off["container"]].endswith(f":{NEW}")
    _, roll_back = arguments(case.trace, UPDATE_STACK)
    assert set(parameters(roll_back).values()) == {PREVIOUS, "previous"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_api_error_on_the_update_changes_nothing_and_is_reported(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update call is refused")
    _assert_failed_at(case, "ReleaseServices", restored="nothing was changed")
    assert "not authorized" in str(case.trace.cause)
    assert len(arguments(case.trace, UPDATE_STACK)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_releasing_the_tag_that_runs_checks_the_services_and_passes(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the tag is already released")
    assert case.trace.status == "SUCCEEDED", (case.trace.error, case.trace.cause)
    assert "CheckServices" in case.trace.states
    assert "RunSmokeTests" in case.trace.states


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_failure_in_the_first_state_names_the_tag(cases: dict[tuple[str, str], Case], platform: str) -> None:
    case = _case(cases, platform, "the first state fails")
    _assert_failed_at(case, "ReadReleasedTags", restored="nothing was changed")
    assert len(arguments(case.trace, DESCRIBE_STACKS)) == 4, "retried three times"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_missing_image_stops_the_release_before_anything_runs(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "an image is missing")
    _assert_failed_at(case, "MarkImages", restored="nothing was changed")
    assert f"{case.world.repositories[-1]}:{NEW} is not in ECR" in str(case.trace.cause)
    assert arguments(case.trace, RUN_TASK) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_stack_in_the_middle_of_another_update_is_left_alone(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "another update is under way")
    _assert_failed_at(case, "ReadReleasedTags", restored="nothing was changed")
    assert "UPDATE_IN_PROGRESS" in str(case.trace.cause)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["an empty tag", "a malformed tag", "no tag"])
def test_a_bad_tag_is_refused_before_any_call(cases: dict[tuple[str, str], Case], platform: str, name: str) -> None:
    trace = _case(cases, platform, name).trace
    assert trace.status == "FAILED"
    assert trace.error == "InvalidInput"
    assert trace.calls == []


# --- The defects the first version had would fail these tests ---------------------------------


def _mutated(world: World, edit: Callable[[dict[str, Any]], None]) -> World:
    definition = copy.deepcopy(world.definition)
    edit(definition["States"])
    return World(world.spec, definition)


def test_a_register_state_that_reads_states_result_in_arguments_is_caught() -> None:
    """Step Functions gives Arguments only $states.input and $states.context."""
    spec = dev_profile()
    world = plain_world(spec)

    def read_result(states: dict[str, Any]) -> None:
        states["RegisterMigrations"]["Arguments"] = states["RegisterMigrations"]["Arguments"].replace(
            "$migrationsDefinition", "$states.result.TaskDefinition"
        )

    broken = _mutated(world, read_result)
    scenario = _scenarios(broken)["good release"]
    (trace,) = run([scenario])
    register = [c.arguments for c in trace.calls if c.state == "RegisterMigrations"]
    assert register, "the register state is reached"
    assert "Family" not in register[0], "without the variable the call has no family: AWS refuses it"


def test_judging_whatever_deployment_is_primary_would_be_caught() -> None:
    spec = dev_profile()
    world = plain_world(spec)

    def judge_primary(states: dict[str, Any]) -> None:
        rollouts = states["CheckServices"]["Assign"]["rollouts"]
        states["CheckServices"]["Assign"]["rollouts"] = rollouts.replace(
            "$s.Deployments[TaskDefinition = $lookup($expected, $s.ServiceArn)][0]",
            "$s.Deployments[Status = 'PRIMARY'][0]",
        )

    broken = _mutated(world, judge_primary)
    (trace,) = run([_scenarios(broken)["the circuit breaker rolls a service back under a completed update"]])
    assert "NotReleased" not in trace.states, "the roll-back deployment would pass for the release"
    assert "DescribeSmokeTests" in trace.states


# --- asl-validator ----------------------------------------------------------------------------


def test_asl_validator_accepts_both_synthesized_definitions(synthesized: dict[str, Synthesized]) -> None:
    for name, synth in synthesized.items():
        assert validate(synthesized_definition(synth)) == [], name


# --- One writer for what runs: a deploy keeps the released tags -------------------------------


def test_every_service_image_comes_from_its_tag_parameter(profile: Synthesized) -> None:
    """The only place a service's tag is written is its parameter, which the release sets."""
    template = profile.template_json(COMPUTE)
    for service in profile.spec.services:
        name = image_tag_parameter(service.name)
        parameter = template["Parameters"][name]
        assert parameter["Default"] == service.initial_image_tag
        assert "NoEcho" not in parameter
    text = json.dumps(template["Resources"])
    for service in profile.spec.services:
        assert f":{service.initial_image_tag}" not in text, "no tag is written into a resource"
        assert text.count(json.dumps({"Ref": image_tag_parameter(service.name)})) >= 2, "image and image check"


def test_the_pinned_cdk_cli_keeps_previous_parameter_values_by_default() -> None:
    """CDK CLI reference, cdk deploy: --previous-parameters "Use previous values for existing
    parameters", default true (https://docs.aws.amazon.com/cdk/v2/guide/ref-cli-cmd-deploy.html).
    Run against the CLI the project pins, so an upgrade that changed it would fail here."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    environment = {**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"}
    help_text = subprocess.run(
        [str(cdk), "deploy", "--help"], capture_output=True, text=True, check=True, env=environment
    ).stdout
    option = " ".join(help_text[help_text.index("--previous-parameters") :].split()[:24])
    assert "Use previous values for existing parameters" in option
    assert "[boolean] [default: true]" in option


def test_the_deploy_workflow_passes_no_image_tags() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    commands = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    deploys = [c for c in commands if "cdk deploy" in c]
    assert deploys, "the workflow deploys"
    for command in deploys:
        for forbidden in ("--parameters", "--no-previous-parameters", "_image_tag", "ImageTag"):
            assert forbidden not in command, command
