"""``python -m tools.release``: the one release path (start and wait), what runs, and the
offline check ``make diff`` runs that each service's tag comes from its parameter."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from platform_spec import SpecError
from platform_spec.names import (
    COMPUTE,
    DELIVERY,
    PUBLIC_URL,
    RELEASED_IMAGE_TAG,
    STATE_MACHINE_ARN,
    image_tag_parameter,
    output_key,
)
from platform_spec.profiles import dev, prod
from tests.platform_synth import Synthesized
from tests.release_world import scheduled, window_edges
from tools import release

SPEC = dev()
MACHINE = f"arn:aws:states:{SPEC.region}:111122223333:stateMachine:{SPEC.release_state_machine_name}"


class CloudFormation:
    class exceptions:  # noqa: N801 (mirrors boto3's client.exceptions)
        class ClientError(Exception):
            pass

    def __init__(self, outputs: dict[str, dict[str, str]]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's argument names)
        if StackName not in self.outputs:
            raise self.exceptions.ClientError(f"Stack with id {StackName} does not exist")
        values = self.outputs[StackName]
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()]}]}


class StepFunctions:
    def __init__(self, statuses: list[dict[str, str]]) -> None:
        self.statuses = statuses
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **arguments: Any) -> dict[str, str]:
        self.started.append(arguments)
        return {"executionArn": f"{MACHINE}:execution-1"}

    def describe_execution(self, executionArn: str) -> dict[str, str]:  # noqa: N803
        return self.statuses.pop(0)


def _run(statuses: list[dict[str, str]], tag: str = "sha-4f2a9c1") -> tuple[int, list[str], StepFunctions]:
    said: list[str] = []
    stepfunctions = StepFunctions(statuses)
    code = release.start_release(
        SPEC,
        tag,
        cloudformation=CloudFormation({SPEC.stack_name(DELIVERY): {STATE_MACHINE_ARN: MACHINE}}),
        stepfunctions=stepfunctions,
        sleep=lambda seconds: None,
        say=said.append,
    )
    return code, said, stepfunctions


def test_a_release_starts_the_state_machine_with_the_tag_and_waits_for_it() -> None:
    code, said, stepfunctions = _run([{"status": "RUNNING"}, {"status": "RUNNING"}, {"status": "SUCCEEDED"}])
    assert code == 0
    assert stepfunctions.started == [{"stateMachineArn": MACHINE, "input": json.dumps({"imageTag": "sha-4f2a9c1"})}]
    assert said[-1] == f"released sha-4f2a9c1 to {SPEC.stack_prefix}"


def test_a_failed_release_fails_with_the_state_machines_error() -> None:
    failed = {"status": "FAILED", "error": "DeploymentFailed.RunSmokeTests", "cause": "smoke tests failed"}
    code, said, _ = _run([{"status": "RUNNING"}, failed])
    assert code == 1
    assert said[-1] == "release of sha-4f2a9c1 FAILED: DeploymentFailed.RunSmokeTests: smoke tests failed"


def test_a_malformed_tag_is_refused_before_anything_starts() -> None:
    with pytest.raises(SpecError, match=r"^--tag: image tag must be"):
        _run([], tag="v1 beta")


def test_a_delivery_stack_without_the_state_machine_is_a_clear_error() -> None:
    with pytest.raises(release.ReleaseError, match="has no output DeploymentStateMachineArn"):
        release.start_release(
            SPEC, "v1", cloudformation=CloudFormation({SPEC.stack_name(DELIVERY): {}}), stepfunctions=None
        )


def test_show_reads_the_released_tags_from_the_stack() -> None:
    outputs = {output_key(s.name, RELEASED_IMAGE_TAG): f"{s.name}-tag" for s in SPEC.services}
    tags = release.released_tags(SPEC, cloudformation=CloudFormation({SPEC.stack_name(COMPUTE): outputs}))
    assert tags == {s.name: f"{s.name}-tag" for s in SPEC.services}


def test_show_prints_where_viewers_reach_the_platform(dev: Synthesized) -> None:
    (output,) = [k for k in dev.template_json(COMPUTE)["Outputs"] if k == PUBLIC_URL]
    assert dev.template_json(COMPUTE)["Outputs"][output]["Value"]["Fn::Join"][1][0] == "https://"
    cloudformation = CloudFormation({dev.stack_name(COMPUTE): {PUBLIC_URL: "https://d1.cloudfront.net"}})
    assert release.public_url(dev.spec, cloudformation=cloudformation) == "https://d1.cloudfront.net"


def test_the_offline_check_names_each_services_parameter(dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    assert release.main(["parameters", str(dev.outdir), "--env", "dev"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{s.name}: image tag from parameter {image_tag_parameter(s.name)} "
        f"(first deploy: {s.initial_image_tag}; later deploys keep it)"
        for s in dev.spec.services
    ]


def test_the_offline_check_refuses_a_template_that_writes_a_tag(dev: Synthesized) -> None:
    first = dev.spec.services[0]
    template = copy.deepcopy(dev.template_json(COMPUTE))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            for container in resource["Properties"]["ContainerDefinitions"]:
                container["Image"] = (
                    f"111122223333.dkr.ecr.{dev.spec.region}.amazonaws.com/{dev.spec.stack_prefix}/{first.name}:sha-1"
                )
    expected = rf"^{first.name}.s image does not come from parameter {image_tag_parameter(first.name)}$"
    with pytest.raises(release.ReleaseError, match=expected):
        release.tag_parameters(dev.spec, template)


def test_command_line_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    assert release.main(["parameters", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: no {SPEC.stack_name(COMPUTE)}.template.json in {tmp_path}\n"


# --- A scheduled environment that sleeps is not released (issue 26) -----------------------------

SLEEPER = scheduled(dev())
"""dev, with a schedule whatever its profile says."""


def _aws(monkeypatch: pytest.MonkeyPatch, statuses: list[dict[str, str]]) -> tuple[list[str], StepFunctions]:
    """The profiles the command reads (``SLEEPER`` for dev's name) and the clients it makes, faked:
    the environments they were made for, and Step Functions."""
    made: list[str] = []
    stepfunctions = StepFunctions(statuses)

    def clients(spec: Any) -> tuple[Any, Any]:
        made.append(spec.environment)
        outputs = {spec.stack_name(DELIVERY): {STATE_MACHINE_ARN: MACHINE}}
        return CloudFormation(outputs), stepfunctions

    profiles = {SLEEPER.environment: SLEEPER, prod().environment: prod()}
    monkeypatch.setattr(release, "spec_from_context", lambda context: profiles[context["env"]])
    monkeypatch.setattr(release, "_clients", clients)
    return made, stepfunctions


def _clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at.astimezone(UTC)


@pytest.mark.parametrize("edge", ["before it opens", "as it ends"])
def test_start_refuses_a_sleeping_environment_in_one_line_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], edge: str
) -> None:
    assert SLEEPER.schedule is not None
    before, _, ends = window_edges(SLEEPER.schedule)
    made, stepfunctions = _aws(monkeypatch, [])
    at = {"before it opens": before, "as it ends": ends}[edge]
    code = release.main(["start", "--env", SLEEPER.environment, "--tag", "sha-4f2a9c1"], now=_clock(at))
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {SLEEPER.environment} is asleep: it runs {SLEEPER.schedule.describe()}; release inside the window\n"
    )
    assert made == [], "no AWS client is made"
    assert stepfunctions.started == []


def test_start_inside_the_window_releases(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert SLEEPER.schedule is not None
    _, opens, _ = window_edges(SLEEPER.schedule)
    made, stepfunctions = _aws(monkeypatch, [{"status": "SUCCEEDED"}])
    code = release.main(["start", "--env", SLEEPER.environment, "--tag", "sha-4f2a9c1"], now=_clock(opens))
    assert code == 0, capsys.readouterr().err
    assert made == [SLEEPER.environment]
    assert stepfunctions.started == [{"stateMachineArn": MACHINE, "input": json.dumps({"imageTag": "sha-4f2a9c1"})}]


def test_show_and_a_profile_without_a_schedule_are_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SLEEPER.schedule is not None
    unscheduled = prod()
    assert unscheduled.schedule is None
    before, _, _ = window_edges(SLEEPER.schedule)
    made, stepfunctions = _aws(monkeypatch, [{"status": "SUCCEEDED"}])
    argv = ["start", "--env", unscheduled.environment, "--tag", "sha-4f2a9c1", "--no-wait"]
    assert release.main(argv, now=_clock(before)) == 0
    assert len(stepfunctions.started) == 1
    monkeypatch.setattr(release, "released_tags", lambda spec, cloudformation: {})
    monkeypatch.setattr(release, "public_url", lambda spec, cloudformation: "https://example.invalid")
    assert release.main(["show", "--env", SLEEPER.environment], now=_clock(before)) == 0
    assert made == [unscheduled.environment, SLEEPER.environment]
