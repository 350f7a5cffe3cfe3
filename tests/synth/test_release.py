"""The release state machine, executed: the synthesized definition of each profile (and the
definition of a platform with one and with three services) run by the reference JSONata
engine (tests/stepfunctions), against AWS responses in their real shapes, through every
failure path. Each test asserts the path taken, the calls made, the end and what was restored.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
import yaml

from cdk_constructs.release_tasks import MIGRATIONS_CONTAINER, SMOKE_TESTS_CONTAINER
from platform_spec import PlatformSpec
from platform_spec.names import (
    COMPUTE,
    DELIVERY,
    RELEASE_TAG_PREFIX,
    SERVICE_ARN,
    TASK_DEFINITION_ARN,
    image_tag_parameter,
    output_key,
)
from platform_spec.profiles import dev as dev_profile
from release.definition import release_definition
from release.targets import OneOffRun, ReleaseTargets
from tests.platform_synth import ROOT, Synthesized
from tests.stepfunctions.runner import Response, Scenario, Trace, error, result, run, validate
from tests.templates import deployment_of
from tests.variants import own_services, with_third_service

ACCOUNT = "111122223333"
REGION = "us-east-1"
PREVIOUS, NEW = "sha-1111111", "sha-2222222"
STARTED = "2026-11-24T10:15:00.123Z"
SDK = "arn:aws:states:::aws-sdk:"
DESCRIBE_STACKS = f"{SDK}cloudformation:describeStacks"
UPDATE_STACK = f"{SDK}cloudformation:updateStack"
CANCEL_UPDATE = f"{SDK}cloudformation:cancelUpdateStack"
DESCRIBE_SERVICES = f"{SDK}ecs:describeServices"
DESCRIBE_TASK_DEFINITION = f"{SDK}ecs:describeTaskDefinition"
REGISTER_TASK_DEFINITION = f"{SDK}ecs:registerTaskDefinition"
GET_IMAGE = f"{SDK}ecr:batchGetImage"
PUT_IMAGE = f"{SDK}ecr:putImage"
RUN_TASK = "arn:aws:states:::ecs:runTask.sync"
PUBLISH = "arn:aws:states:::sns:publish"
RELEASE_TAG = f"{RELEASE_TAG_PREFIX}20261124T101500123Z"


# --- The world a release meets: responses in the shapes the integrations return ---------------


@dataclass(frozen=True)
class World:
    """What the definition names, read off it, and the responses AWS would give."""

    spec: PlatformSpec
    definition: dict[str, Any]

    @property
    def states(self) -> dict[str, Any]:
        states: dict[str, Any] = self.definition["States"]
        return states

    @property
    def stack_name(self) -> str:
        name: str = self.states["ReadReleasedTags"]["Arguments"]["StackName"]
        return name

    @property
    def cluster(self) -> str:
        cluster: str = self.states["RunMigrations"]["Arguments"]["Cluster"]
        return cluster

    @property
    def repositories(self) -> list[str]:
        return [item["repository"] for item in self.states["MarkImages"]["Items"]]

    def service_arn(self, service: str) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{self.cluster.rsplit('/', 1)[-1]}/{service}-Service-A1B2C3"

    def service_definition(self, service: str, revision: int) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/compute{service}Task:{revision}"

    def stack(self, status: str, tag: str, revision: int, reason: str | None = None) -> Response:
        """describeStacks of the compute stack: its tag parameters say ``tag``."""
        parameters: list[dict[str, str]] = [
            {"ParameterKey": image_tag_parameter(s.name), "ParameterValue": tag} for s in self.spec.services
        ]
        parameters.append(
            {
                "ParameterKey": "BootstrapVersion",
                "ParameterValue": "/cdk-bootstrap/hnb659fds/version",
                "ResolvedValue": "27",
            }
        )
        outputs = [
            {"OutputKey": output_key(s.name, key), "OutputValue": value}
            for s in self.spec.services
            for key, value in (
                (SERVICE_ARN, self.service_arn(s.name)),
                (TASK_DEFINITION_ARN, self.service_definition(s.name, revision)),
            )
        ]
        stack: dict[str, Any] = {
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/8e1f6a70-c9c3-11ef-9c2f",
            "StackName": self.stack_name,
            "Parameters": parameters,
            "CreationTime": "2026-10-01T09:00:00.000Z",
            "LastUpdatedTime": "2026-11-20T09:00:00.000Z",
            "StackStatus": status,
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Outputs": outputs,
            "Tags": [],
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if reason is not None:
            stack["StackStatusReason"] = reason
        return result({"Stacks": [stack]})

    def services(self, deployments: Callable[[str], list[dict[str, Any]]]) -> Response:
        return result(
            {
                "Services": [
                    {
                        "ServiceArn": self.service_arn(s.name),
                        "ServiceName": f"{s.name}-Service-A1B2C3",
                        "ClusterArn": self.cluster,
                        "Status": "ACTIVE",
                        "DesiredCount": 1,
                        "RunningCount": 1,
                        "LaunchType": "FARGATE",
                        "Deployments": deployments(s.name),
                    }
                    for s in self.spec.services
                ],
                "Failures": [],
            }
        )

    def released(self, revision: int = 2) -> Response:
        """Every service's deployment of ``revision`` is PRIMARY and COMPLETED."""
        return self.services(lambda name: [deployment(self.service_definition(name, revision), "PRIMARY", "COMPLETED")])

    def images(self, *, missing: str | None = None) -> list[Response]:
        found = []
        for repository in self.repositories:
            if repository == missing:
                found.append(
                    result(
                        {
                            "Images": [],
                            "Failures": [
                                {
                                    "ImageId": {"ImageTag": NEW},
                                    "FailureCode": "ImageNotFound",
                                    "FailureReason": "Requested image not found",
                                }
                            ],
                        }
                    )
                )
                continue
            found.append(
                result(
                    {
                        "Images": [
                            {
                                "RegistryId": ACCOUNT,
                                "RepositoryName": repository,
                                "ImageId": {"ImageDigest": f"sha256:{'ab' * 32}", "ImageTag": NEW},
                                "ImageManifest": '{"schemaVersion":2,"manifests":[]}',
                                "ImageManifestMediaType": "application/vnd.oci.image.index.v1+json",
                            }
                        ],
                        "Failures": [],
                    }
                )
            )
        return found

    def task_definition(self, step: str, revision: int) -> Response:
        run = self.one_off(step)
        container = run["container"]
        arn = self.states[f"Describe{step}"]["Arguments"]["TaskDefinition"].rsplit(":", 1)[0] + f":{revision}"
        return result(
            {
                "TaskDefinition": {
                    "TaskDefinitionArn": arn,
                    "Family": arn.rsplit("/", 1)[-1].split(":")[0],
                    "TaskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{step}TaskRole",
                    "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{step}ExecutionRole",
                    "NetworkMode": "awsvpc",
                    "Revision": revision,
                    "Volumes": [{"Name": f"{container}-tmp", "Host": {}}],
                    "Status": "ACTIVE",
                    "RequiresAttributes": [{"Name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
                    "PlacementConstraints": [],
                    "Compatibilities": ["EC2", "FARGATE"],
                    "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
                    "RequiresCompatibilities": ["FARGATE"],
                    "Cpu": "256",
                    "Memory": "512",
                    "RegisteredAt": "2026-11-01T09:00:00.000Z",
                    "ContainerDefinitions": [
                        {
                            "Name": container,
                            "Image": f"{run['repository_uri']}:initial",
                            "Essential": True,
                            "User": "1000:1000",
                            "ReadonlyRootFilesystem": True,
                            "Environment": [{"Name": "HOME", "Value": "/tmp"}],
                            "MountPoints": [{"ContainerPath": "/tmp", "SourceVolume": f"{container}-tmp"}],
                            "DependsOn": [{"ContainerName": "volume-owner", "Condition": "SUCCESS"}],
                        },
                        {
                            # The task's own image hands /tmp over (WorkloadContainers).
                            "Name": "volume-owner",
                            "Image": f"{run['repository_uri']}:initial",
                            "Essential": False,
                            "User": "0:0",
                            "EntryPoint": ["sh", "-c"],
                            "Command": [f"set -eu; chown 1000:1000 /volumes/{container}-tmp"],
                        },
                        {
                            # Any container on another image keeps it.
                            "Name": "sidecar",
                            "Image": "public.ecr.aws/docker/library/busybox:1.37.0",
                            "Essential": False,
                        },
                    ],
                },
                "Tags": [],
            }
        )

    def one_off(self, step: str) -> dict[str, str]:
        register = self.states[f"Register{step}"]["Arguments"]
        container = {"Migrations": MIGRATIONS_CONTAINER, "SmokeTests": SMOKE_TESTS_CONTAINER}[step]
        uri = register.split("{'Image': '")[1].split(":' & $imageTag")[0]
        return {"container": container, "repository_uri": uri}

    def task(self, step: str, exit_code: int) -> Response:
        container = self.one_off(step)["container"]
        task = {
            "TaskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster.rsplit('/', 1)[-1]}/0a1b2c3d4e",
            "ClusterArn": self.cluster,
            "LastStatus": "STOPPED",
            "DesiredStatus": "STOPPED",
            "StopCode": "EssentialContainerExited",
            "StoppedReason": "Essential container in task exited",
            "Containers": [
                {"Name": container, "ExitCode": exit_code, "LastStatus": "STOPPED"},
                {"Name": "volume-owner", "ExitCode": 0, "LastStatus": "STOPPED"},
            ],
        }
        if exit_code == 0:
            return result(task)
        return error("States.TaskFailed", json.dumps(task))

    def one_off_run(self, step: str, exit_code: int = 0) -> dict[str, list[Response]]:
        return {
            f"{DESCRIBE_TASK_DEFINITION}#Describe{step}": [self.task_definition(step, 1)],
            f"{REGISTER_TASK_DEFINITION}#Register{step}": [self.task_definition(step, 2)],
            f"{RUN_TASK}#Run{step}": [self.task(step, exit_code)],
        }

    def until_released(self) -> dict[str, list[Response]]:
        """Everything up to and including the services' release."""
        return {
            f"{DESCRIBE_STACKS}#ReadReleasedTags": [self.stack("UPDATE_COMPLETE", PREVIOUS, 1)],
            GET_IMAGE: self.images(),
            PUT_IMAGE: [result({"Image": {"ImageId": {"ImageTag": RELEASE_TAG}}}) for _ in self.repositories],
            **self.one_off_run("Migrations"),
            f"{UPDATE_STACK}#ReleaseServices": [result({"StackId": "stack-id"})],
            f"{DESCRIBE_STACKS}#CheckRelease": [
                self.stack("UPDATE_IN_PROGRESS", NEW, 1),
                self.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", NEW, 2),
                self.stack("UPDATE_COMPLETE", NEW, 2),
            ],
        }

    def restored(self) -> dict[str, list[Response]]:
        return {
            f"{UPDATE_STACK}#RollBack": [result({"StackId": "stack-id"})],
            f"{DESCRIBE_STACKS}#CheckRestore": [
                self.stack("UPDATE_IN_PROGRESS", PREVIOUS, 2),
                self.stack("UPDATE_COMPLETE", PREVIOUS, 3),
            ],
            PUBLISH: [result({"MessageId": "5a9f6b3c-0000-4000-8000-000000000000"})],
        }

    def scenario(self, responses: Mapping[str, Sequence[Response]], tag: Any = NEW) -> Scenario:
        return Scenario(
            definition=self.definition,
            input={} if tag is None else {"imageTag": tag},
            responses=responses,
            context={"Execution": {"StartTime": STARTED, "Name": "release-1"}},
        )


def deployment(task_definition: str, status: str, rollout: str) -> dict[str, Any]:
    return {
        "Id": f"ecs-svc/{abs(hash((task_definition, status))) % 10**18}",
        "Status": status,
        "TaskDefinition": task_definition,
        "DesiredCount": 1,
        "RunningCount": 1,
        "RolloutState": rollout,
        "RolloutStateReason": f"ECS deployment {rollout.lower()}.",
        "CreatedAt": "2026-11-24T10:20:00.000Z",
        "UpdatedAt": "2026-11-24T10:25:00.000Z",
    }


# --- The definitions under test -------------------------------------------------------------


def synthesized_definition(synth: Synthesized) -> dict[str, Any]:
    """The profile's definition as CloudFormation would deploy it (references resolved)."""
    deployment_ = deployment_of(synth)
    stack = synth.stack_name(DELIVERY)
    (machine,) = deployment_.resources(stack, "AWS::StepFunctions::StateMachine").values()
    definition: dict[str, Any] = json.loads(deployment_.resolve(stack, machine["Properties"]["DefinitionString"]))
    return definition


def plain_targets(spec: PlatformSpec) -> ReleaseTargets:
    def run(step: str, service: str) -> OneOffRun:
        return OneOffRun(
            step=step,
            task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/delivery{step}Task:1",
            repository_uri=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{spec.stack_prefix}/{service}",
            security_group_id=f"sg-0{service}",
        )

    delivery = spec.delivery
    return ReleaseTargets(
        compute_stack=spec.stack_name(COMPUTE),
        cfn_execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{spec.cluster_name}",
        subnets=("subnet-0a", "subnet-0b"),
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
        repositories={s.name: f"{spec.stack_prefix}/{s.name}" for s in spec.services},
        migrations=run("Migrations", delivery.migrations_service),
        smoke_tests=run("SmokeTests", delivery.smoke_test_service),
    )


def one_service() -> PlatformSpec:
    """A platform of one service, which migrates, answers the smoke tests and runs them."""
    spec = own_services(dev_profile())
    (only, _) = spec.services
    delivery = replace(spec.delivery, migrations_service=only.name, api_service=only.name, smoke_test_service=only.name)
    return replace(spec, services=(only,), delivery=delivery)


def three_services() -> PlatformSpec:
    return with_third_service(dev_profile())


# --- Scenarios: built once, run in one batch -------------------------------------------------


@dataclass(frozen=True)
class Case:
    world: World
    trace: Trace


def _scenarios(world: World) -> dict[str, Scenario]:
    max_polls = world.spec.delivery.rollout_max_polls
    good = world.until_released()
    smoke_ok = world.one_off_run("SmokeTests")
    rolled_back_by_circuit_breaker = world.services(
        lambda name: [
            deployment(world.service_definition(name, 1), "PRIMARY", "COMPLETED"),
            deployment(world.service_definition(name, 2), "ACTIVE", "FAILED"),
        ]
    )
    return {
        "good release": world.scenario({**good, f"{DESCRIBE_SERVICES}#CheckServices": [world.released()], **smoke_ok}),
        "migrations exit non-zero": world.scenario(
            {
                **{k: v for k, v in good.items() if "Stack" not in k.split("#")[0] or "ReadReleasedTags" in k},
                **world.one_off_run("Migrations", exit_code=1),
                PUBLISH: [result({"MessageId": "m"})],
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
                        "The following resource(s) failed to update: [backendService].",
                    ),
                    world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1, "Update rolled back"),
                ],
                PUBLISH: [result({"MessageId": "m"})],
            }
        ),
        "the circuit breaker rolls a service back under a completed update": world.scenario(
            {**good, f"{DESCRIBE_SERVICES}#CheckServices": [rolled_back_by_circuit_breaker], **world.restored()}
        ),
        "the update never completes": world.scenario(
            {
                **good,
                f"{DESCRIBE_STACKS}#CheckRelease": [world.stack("UPDATE_IN_PROGRESS", NEW, 1)] * max_polls,
                CANCEL_UPDATE: [result({})],
                f"{DESCRIBE_STACKS}#CheckRestore": [
                    world.stack("UPDATE_ROLLBACK_IN_PROGRESS", NEW, 1),
                    world.stack("UPDATE_ROLLBACK_COMPLETE", PREVIOUS, 1),
                ],
                PUBLISH: [result({"MessageId": "m"})],
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
                PUBLISH: [result({"MessageId": "m"})],
            }
        ),
        "the tag is already released": world.scenario(
            {
                **good,
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
            }
        ),
        "the first state fails": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [
                    error("CloudFormation.CloudFormationException", f"Stack with id {world.stack_name} does not exist")
                ]
                * 4,
                PUBLISH: [result({"MessageId": "m"})],
            }
        ),
        "an image is missing": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [world.stack("UPDATE_COMPLETE", PREVIOUS, 1)],
                GET_IMAGE: world.images(missing=world.repositories[-1]),
                PUT_IMAGE: [result({"Image": {}}) for _ in world.repositories[:-1]],
                PUBLISH: [result({"MessageId": "m"})],
            }
        ),
        "another update is under way": world.scenario(
            {
                f"{DESCRIBE_STACKS}#ReadReleasedTags": [world.stack("UPDATE_IN_PROGRESS", PREVIOUS, 1)],
                PUBLISH: [result({"MessageId": "m"})],
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
        worlds[name] = World(spec, release_definition(spec, plain_targets(spec)))
    keys, scenarios = [], []
    for platform, world in worlds.items():
        for name, scenario in _scenarios(world).items():
            keys.append((platform, name, world))
            scenarios.append(scenario)
    traces = run(scenarios)
    return {(platform, name): Case(world, trace) for (platform, name, world), trace in zip(keys, traces, strict=True)}


PLATFORMS = ("dev", "prod", "one service", "three services")


def _case(cases: dict[tuple[str, str], Case], platform: str, name: str) -> Case:
    case = cases[(platform, name)]
    assert case.trace.status != "ERROR", f"{case.trace.error}: {case.trace.cause}"
    return case


def _arguments(trace: Trace, resource: str, state: str | None = None) -> list[Any]:
    return [c.arguments for c in trace.calls if c.resource == resource and (state is None or c.state == state)]


def _parameters(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {
        p["ParameterKey"]: p.get("ParameterValue", "previous" if p.get("UsePreviousValue") else None)
        for p in arguments["Parameters"]
    }


def _assert_failed_at(case: Case, step: str, *, restored: str) -> None:
    trace = case.trace
    assert trace.status == "FAILED", (trace.error, trace.cause)
    assert trace.error == f"DeploymentFailed.{step}"
    (notice,) = _arguments(trace, PUBLISH)
    assert notice["TopicArn"].startswith("arn:aws:sns:")
    assert notice["Message"].startswith(f"Release of {NEW} to {case.world.spec.stack_prefix} failed at {step}: ")
    assert restored in notice["Message"], notice["Message"]
    assert len(notice["Subject"]) <= 100
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
    assert [a["RepositoryName"] for a in _arguments(trace, PUT_IMAGE)] == world.repositories
    assert {a["ImageTag"] for a in _arguments(trace, PUT_IMAGE)} == {RELEASE_TAG}
    assert len(world.repositories) == len(world.spec.services)
    # Migrations run a registered copy of their task definition with the new image, all else kept.
    (register,) = _arguments(trace, REGISTER_TASK_DEFINITION, "RegisterMigrations")
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
    (run_migrations,) = _arguments(trace, RUN_TASK, "RunMigrations")
    assert "MigrationsTask" in run_migrations["TaskDefinition"]
    assert run_migrations["TaskDefinition"].endswith(":2")
    assert run_migrations["Cluster"] == world.cluster
    assert run_migrations["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    # The services: one CloudFormation update, the previous template, only the tags changed.
    (update,) = _arguments(trace, UPDATE_STACK)
    assert update["StackName"] == world.stack_name
    assert update["UsePreviousTemplate"] is True
    assert "cfn-exec-role" in update["RoleARN"]
    assert update["ClientRequestToken"] == f"{RELEASE_TAG}-release"
    expected = {image_tag_parameter(s.name): NEW for s in world.spec.services}
    assert _parameters(update) == {**expected, "BootstrapVersion": "previous"}
    (check,) = _arguments(trace, DESCRIBE_SERVICES)
    assert check["Services"] == [world.service_arn(s.name) for s in world.spec.services]
    assert _arguments(trace, PUBLISH) == []
    assert trace.unconsumed_responses == {}


def test_no_state_waits_without_a_bound(cases: dict[tuple[str, str], Case]) -> None:
    trace = _case(cases, "dev", "good release").trace
    spec = dev_profile()
    assert trace.timeout_seconds == spec.delivery.release_timeout_minutes * 60
    assert trace.waited_seconds == 3 * spec.delivery.rollout_poll_seconds


# --- Every failure path ------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_migrations_that_exit_non_zero_stop_the_release_before_any_service_changes(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "migrations exit non-zero")
    _assert_failed_at(case, "RunMigrations", restored="nothing was changed")
    assert _arguments(case.trace, UPDATE_STACK) == []
    assert "States.TaskFailed" in str(case.trace.cause)
    assert '\\"ExitCode\\": 1' in str(case.trace.cause) or '"ExitCode": 1' in str(case.trace.cause)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_cloudformation_rolls_back_is_a_failure_and_is_not_rolled_back_twice(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update fails and CloudFormation rolls it back")
    _assert_failed_at(case, "ReleaseServices", restored="CloudFormation restored the previous tags")
    assert "Update rolled back" in str(case.trace.cause)
    assert len(_arguments(case.trace, UPDATE_STACK)) == 1, "CloudFormation already put the previous tags back"
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
    _, roll_back = _arguments(case.trace, UPDATE_STACK)
    previous = {image_tag_parameter(s.name): PREVIOUS for s in case.world.spec.services}
    assert _parameters(roll_back) == {**previous, "BootstrapVersion": "previous"}
    assert roll_back["ClientRequestToken"] == f"{RELEASE_TAG}-restore"
    assert "RunSmokeTests" not in case.trace.states


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_update_that_never_completes_is_cancelled_within_the_poll_limit(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update never completes")
    _assert_failed_at(case, "ReleaseServices", restored="restored the previous tags")
    checks = [s for s in case.trace.states if s == "CheckRelease"]
    assert len(checks) == case.world.spec.delivery.rollout_max_polls
    assert len(_arguments(case.trace, CANCEL_UPDATE)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_services_that_never_finish_rolling_out_are_rolled_back(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "services never finish rolling out")
    _assert_failed_at(case, "CheckServices", restored="restored the previous tags")
    assert len(_arguments(case.trace, UPDATE_STACK)) == 2


@pytest.mark.parametrize("platform", PLATFORMS)
def test_failing_smoke_tests_put_the_previous_tags_back(cases: dict[tuple[str, str], Case], platform: str) -> None:
    case = _case(cases, platform, "smoke tests fail")
    _assert_failed_at(case, "RunSmokeTests", restored="restored the previous tags")
    (register,) = _arguments(case.trace, REGISTER_TASK_DEFINITION, "RegisterSmokeTests")
    one_off = case.world.one_off("SmokeTests")
    assert {c["Name"]: c["Image"] for c in register["ContainerDefinitions"]}[one_off["container"]].endswith(f":{NEW}")
    _, roll_back = _arguments(case.trace, UPDATE_STACK)
    assert set(_parameters(roll_back).values()) == {PREVIOUS, "previous"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_api_error_on_the_update_changes_nothing_and_is_reported(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "the update call is refused")
    _assert_failed_at(case, "ReleaseServices", restored="nothing was changed")
    assert "not authorized" in str(case.trace.cause)
    assert len(_arguments(case.trace, UPDATE_STACK)) == 1


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
    assert len(_arguments(case.trace, DESCRIBE_STACKS)) == 4, "retried three times"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_missing_image_stops_the_release_before_anything_runs(
    cases: dict[tuple[str, str], Case], platform: str
) -> None:
    case = _case(cases, platform, "an image is missing")
    _assert_failed_at(case, "MarkImages", restored="nothing was changed")
    assert f"{case.world.repositories[-1]}:{NEW} is not in ECR" in str(case.trace.cause)
    assert _arguments(case.trace, RUN_TASK) == []


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
    world = World(spec, release_definition(spec, plain_targets(spec)))

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
    world = World(spec, release_definition(spec, plain_targets(spec)))

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
