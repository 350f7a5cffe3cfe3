"""The world a release meets, for the tests that execute the release state machine
(tests/synth/test_release.py, test_release_failures.py): what the definition under test names,
read off it, and the AWS answers (tests/release_responses.py) a release gets in each case; and
the definitions themselves, synthesized or built from a spec with plain names."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from layers.release.asleep import READ_DATABASE
from layers.release.definition import release_definition
from layers.release.release_tasks import MIGRATIONS_CONTAINER, SMOKE_TESTS_CONTAINER
from layers.release.state_names import describe_state, register_state, run_state
from layers.release.targets import OneOffRun, ReleaseTargets
from platform_spec import PlatformSpec
from platform_spec.names import COMPUTE, DELIVERY, SERVICE_ARN, TASK_DEFINITION_ARN, image_tag_parameter, output_key
from platform_spec.profiles import dev as dev_profile
from platform_spec.profiles import prod as prod_profile
from platform_spec.schedule import DAYS, RunSchedule
from tests.platform_synth import Synthesized
from tests.release_responses import (
    ACCOUNT,
    CANCEL_UPDATE,
    DELETE_IMAGES,
    DESCRIBE_DB_INSTANCES,
    DESCRIBE_STACKS,
    DESCRIBE_TASK_DEFINITION,
    GET_IMAGE,
    LIST_IMAGES,
    NEW,
    PREVIOUS,
    PUBLISH,
    PUT_IMAGE,
    REGISTER_TASK_DEFINITION,
    RELEASE_TAG,
    RUN_TASK,
    STARTED,
    UPDATE_STACK,
    db_instance,
    deployment,
    image,
    image_not_found,
    listing,
    stack_description,
    stack_events,
    task,
    task_definition,
)
from tests.stepfunctions.runner import Response, Scenario, Trace, result, run
from tests.templates import deployment_of
from tests.variants import own_services, with_third_service

Responses = dict[str, list[Response]]


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
    def database(self) -> str | None:
        """The database a scheduled environment's release reads first; ``None`` without a schedule."""
        read = self.states.get(READ_DATABASE)
        return None if read is None else str(read["Arguments"]["DbInstanceIdentifier"])

    @property
    def cluster(self) -> str:
        cluster: str = self.states["RunMigrations"]["Arguments"]["Cluster"]
        return cluster

    @property
    def repositories(self) -> list[str]:
        return [item["repository"] for item in self.states["MarkImages"]["Items"]]

    def service_arn(self, service: str) -> str:
        cluster = self.cluster.rsplit("/", 1)[-1]
        return f"arn:aws:ecs:{self.spec.region}:{ACCOUNT}:service/{cluster}/{service}-Service-A1B2C3"

    def service_definition(self, service: str, revision: int) -> str:
        return f"arn:aws:ecs:{self.spec.region}:{ACCOUNT}:task-definition/compute{service}Task:{revision}"

    def running(self, tag: str) -> str:
        """What a notice says runs when every service runs ``tag``."""
        return ", ".join(f"{s.name} {tag}" for s in self.spec.services)

    def stack(self, status: str, tag: str, revision: int, reason: str | None = None) -> Response:
        """describeStacks of the compute stack: its tag parameters say ``tag``."""
        parameters: list[dict[str, str]] = [
            {"ParameterKey": image_tag_parameter(s.name), "ParameterValue": tag} for s in self.spec.services
        ]
        bootstrap = {"ParameterKey": "BootstrapVersion", "ParameterValue": "/cdk-bootstrap/hnb659fds/version"}
        parameters.append({**bootstrap, "ResolvedValue": "27"})
        outputs = [
            {"OutputKey": output_key(s.name, key), "OutputValue": value}
            for s in self.spec.services
            for key, value in (
                (SERVICE_ARN, self.service_arn(s.name)),
                (TASK_DEFINITION_ARN, self.service_definition(s.name, revision)),
            )
        ]
        return stack_description(self.spec.region, self.stack_name, status, parameters, outputs, reason)

    def events(self, token_suffix: str, failures: Sequence[tuple[str, str]], *, tokens: bool = True) -> Response:
        """describeStackEvents (newest first): an earlier deploy's failure, then this update's
        events (token ``<release tag>-<suffix>``, or none), ``failures`` (logical id, reason) in order."""
        return stack_events(
            self.spec.region, self.stack_name, f"{RELEASE_TAG}-{token_suffix}" if tokens else None, failures
        )

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
        return [image_not_found() if r == missing else image(r) for r in self.repositories]

    def one_off(self, step: str) -> dict[str, str]:
        register = self.states[register_state(step)]["Arguments"]
        container = {"Migrations": MIGRATIONS_CONTAINER, "SmokeTests": SMOKE_TESTS_CONTAINER}[step]
        uri = register.split("{'Image': '")[1].split(":' & $imageTag")[0]
        return {"container": container, "repository_uri": uri}

    def one_off_run(self, step: str, exit_code: int = 0) -> Responses:
        arn = self.states[describe_state(step)]["Arguments"]["TaskDefinition"].rsplit(":", 1)[0]
        run = self.one_off(step)
        return {
            f"{DESCRIBE_TASK_DEFINITION}#{describe_state(step)}": [task_definition(run, step, f"{arn}:1", 1)],
            f"{REGISTER_TASK_DEFINITION}#{register_state(step)}": [task_definition(run, step, f"{arn}:2", 2)],
            f"{RUN_TASK}#{run_state(step)}": [task(self.cluster, run["container"], exit_code)],
        }

    def marked(self) -> Responses:
        """Up to the images' marks: the released tags read, every image found and marked."""
        return {
            f"{DESCRIBE_STACKS}#ReadReleasedTags": [self.stack("UPDATE_COMPLETE", PREVIOUS, 1)],
            GET_IMAGE: self.images(),
            PUT_IMAGE: [result({"Image": {"ImageId": {"ImageTag": RELEASE_TAG}}}) for _ in self.repositories],
        }

    def until_released(self) -> Responses:
        """Everything up to and including the services' release."""
        return {
            **self.marked(),
            **self.one_off_run("Migrations"),
            f"{UPDATE_STACK}#ReleaseServices": [result({"StackId": "stack-id"})],
            f"{DESCRIBE_STACKS}#CheckRelease": [
                self.stack("UPDATE_IN_PROGRESS", NEW, 1),
                self.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", NEW, 2),
                self.stack("UPDATE_COMPLETE", NEW, 2),
            ],
        }

    def tidied(self, pages: int = 1) -> Responses:
        """The marks' tidying: each repository's marks listed, and some removed in one call."""
        return {
            LIST_IMAGES: [page for _ in self.repositories for page in listing(pages)],
            DELETE_IMAGES: [result({"ImageIds": [], "Failures": []}) for _ in self.repositories],
        }

    def notified(self) -> Responses:
        return {PUBLISH: [result({"MessageId": "5a9f6b3c-0000-4000-8000-000000000000"})]}

    def restored(self) -> Responses:
        return {
            f"{UPDATE_STACK}#RollBack": [result({"StackId": "stack-id"})],
            f"{DESCRIBE_STACKS}#CheckRestore": [
                self.stack("UPDATE_IN_PROGRESS", PREVIOUS, 2),
                self.stack("UPDATE_COMPLETE", PREVIOUS, 3),
            ],
            **self.tidied(),
            **self.notified(),
        }

    def cancelled(self) -> Responses:
        return {CANCEL_UPDATE: [result({})]}

    def scenario(self, responses: Mapping[str, Sequence[Response]], tag: Any = NEW) -> Scenario:
        """A release of ``tag`` meeting ``responses``; a scheduled environment's database is
        ``available`` unless ``responses`` say otherwise."""
        if self.database is not None and DESCRIBE_DB_INSTANCES not in responses:
            responses = {
                DESCRIBE_DB_INSTANCES: [db_instance(self.spec.region, self.database, "available")],
                **responses,
            }
        return Scenario(
            definition=self.definition,
            input={} if tag is None else {"imageTag": tag},
            responses=responses,
            context={"Execution": {"StartTime": STARTED, "Name": "release-1"}},
        )


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
            task_definition_arn=f"arn:aws:ecs:{spec.region}:{ACCOUNT}:task-definition/delivery{step}Task:1",
            repository_uri=f"{ACCOUNT}.dkr.ecr.{spec.region}.amazonaws.com/{spec.stack_prefix}/{service}",
            security_group_id=f"sg-0{service}",
        )

    delivery = spec.delivery
    return ReleaseTargets(
        compute_stack=spec.stack_name(COMPUTE),
        stack_role_arn=f"arn:aws:iam::{ACCOUNT}:role/delivery-ReleaseStackRole",
        cluster_arn=f"arn:aws:ecs:{spec.region}:{ACCOUNT}:cluster/{spec.cluster_name}",
        subnets=("subnet-0a", "subnet-0b"),
        topic_arn=f"arn:aws:sns:{spec.region}:{ACCOUNT}:alarms",
        repositories={s.name: f"{spec.stack_prefix}/{s.name}" for s in spec.services},
        migrations=run("Migrations", delivery.migrations_service),
        smoke_tests=run("SmokeTests", delivery.smoke_test_service),
    )


def plain_world(spec: PlatformSpec) -> World:
    """The definition built from ``spec`` with plain names (no synth)."""
    return World(spec, release_definition(spec, plain_targets(spec)))


def one_service() -> PlatformSpec:
    """A platform of one service, which migrates, answers the smoke tests and runs them."""
    spec = own_services(dev_profile())
    (only, _) = spec.services
    delivery = replace(spec.delivery, migrations_service=only.name, api_service=only.name, smoke_test_service=only.name)
    return replace(spec, services=(only,), delivery=delivery)


def three_services() -> PlatformSpec:
    return with_third_service(dev_profile())


# --- Reading a trace ---------------------------------------------------------------------------


def arguments(trace: Trace, resource: str, state: str | None = None) -> list[Any]:
    """The arguments of each call to ``resource`` (from ``state``, qualified inside a Map)."""
    return [c.arguments for c in trace.calls if c.resource == resource and (state is None or c.state == state)]


def parameters(update: Mapping[str, Any]) -> dict[str, Any]:
    """An UpdateStack's parameters: each key's new value, or "previous"."""
    return {
        p["ParameterKey"]: p.get("ParameterValue", "previous" if p.get("UsePreviousValue") else None)
        for p in update["Parameters"]
    }


def notice(trace: Trace) -> str:
    """The one failure notice the release published."""
    (published,) = arguments(trace, PUBLISH)
    message: str = published["Message"]
    return message


def plain_worlds() -> dict[str, World]:
    """The shipped profiles and platforms of one and three services, built without synth."""
    specs = {
        "dev": dev_profile(),
        "prod": prod_profile(),
        "one service": one_service(),
        "three services": three_services(),
    }
    return {name: plain_world(spec) for name, spec in specs.items()}


PLATFORMS = ("dev", "prod", "one service", "three services")
"""The platforms every release scenario runs on: ``plain_worlds``' names."""


@dataclass(frozen=True)
class Case:
    """One scenario's run: the world it met and what the release did."""

    world: World
    trace: Trace


def run_cases(
    worlds: Mapping[str, World], scenarios: Callable[[World], Mapping[str, Scenario]]
) -> dict[tuple[str, str], Case]:
    """Every scenario of every world, run in one batch of the interpreter, by (platform, name)."""
    keys, batch = [], []
    for platform, world in worlds.items():
        for name, scenario in scenarios(world).items():
            keys.append((platform, name, world))
            batch.append(scenario)
    traces = run(batch)
    return {(platform, name): Case(world, trace) for (platform, name, world), trace in zip(keys, traces, strict=True)}


# --- The clock a scheduled environment is judged by (tools.release start, verify) ----------------


def scheduled(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` if it has a schedule, else ``spec`` with the default one: what the tests of a
    sleeping environment run on, whatever the profile says."""
    return spec if spec.schedule is not None else replace(spec, schedule=RunSchedule())


def window_edges(schedule: RunSchedule) -> tuple[datetime, datetime, datetime]:
    """On the window's first day (in the week of Monday 2026-12-07, on the zone's clock): the
    minute before it opens (asleep), the minute it opens (awake), the minute it ends (asleep)."""
    day = date(2026, 12, 7) + timedelta(days=DAYS.index(schedule.days[0]))
    zone = ZoneInfo(schedule.time_zone)
    opens = datetime.combine(day, time.fromisoformat(schedule.starts), zone)
    ends = datetime.combine(day, time.fromisoformat(schedule.ends), zone)
    return opens - timedelta(minutes=1), opens, ends
