"""The delivery stack: the deployment state machine's flow and permissions, and its tasks."""

from __future__ import annotations

import json
from typing import Any

from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from compliance.access_ledger import EXECUTION_LOG_ACTIONS, TRACE_ACTIONS
from spec import outputs
from tests.platform_synth import Synthesized

Resources = dict[str, dict[str, Any]]


def _resources(synth: Synthesized, kind: str) -> Resources:
    return {k: v for k, v in synth.template_json("delivery")["Resources"].items() if v["Type"] == kind}


def definition(synth: Synthesized) -> dict[str, Any]:
    """The state machine's definition, with references shown as <ref>."""
    (machine,) = _resources(synth, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<ref>" for part in parts)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _all_states(states: dict[str, Any]) -> dict[str, Any]:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(_all_states(branch["States"]))
        if "ItemProcessor" in state:
            found.update(_all_states(state["ItemProcessor"]["States"]))
    return found


def test_definition_matches_snapshot(profile: Synthesized, snapshot: SnapshotAssertion) -> None:
    assert definition(profile) == snapshot.use_extension(JSONSnapshotExtension)


def test_no_desired_count_anywhere(profile: Synthesized) -> None:
    assert "DesiredCount" not in json.dumps(definition(profile))


def test_the_flow_runs_migrations_then_updates_every_service_then_smoke_tests(profile: Synthesized) -> None:
    states = definition(profile)["States"]
    assert states["RememberRunningTaskDefinitions"]["Next"] == "DescribeMigrations"
    assert states["RunMigrations"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert states["RunMigrations"]["Next"] == "UpdateServices"
    branches = states["UpdateServices"]["Branches"]
    assert [b["StartAt"] for b in branches] == [
        f"Describe{outputs.output_key(s.name, '')}" for s in profile.spec.services
    ]
    for branch, service in zip(branches, profile.spec.services, strict=True):
        label = outputs.output_key(service.name, "")
        roll = branch["States"][f"Roll{label}"]
        assert roll["Arguments"]["ForceNewDeployment"] is True
        assert roll["Arguments"]["TaskDefinition"] == "{% $newTaskDefinition %}"
        register = branch["States"][f"Register{label}"]["Arguments"]
        assert f'$c.Name = "{service.container_name}"' in register
        choices = branch["States"][f"Rolled{label}"]["Choices"]
        assert f"$polls >= {profile.spec.delivery.rollout_max_polls}" in choices[2]["Condition"]
        assert branch["States"][f"WaitFor{label}"]["Seconds"] == profile.spec.delivery.rollout_poll_seconds
    assert states["UpdateServices"]["Next"] == "DescribeSmokeTests"
    assert states["RunSmokeTests"]["Next"] == "Deployed"


def test_every_failure_after_the_update_restores_the_previous_task_definitions(profile: Synthesized) -> None:
    states = definition(profile)["States"]
    assign = states["RememberRunningTaskDefinitions"]["Assign"]
    assert assign["previous"] == "{% $merge($states.result.Services.{ServiceArn: TaskDefinition}) %}"
    for step in ("UpdateServices", "DescribeSmokeTests", "RegisterSmokeTests", "RunSmokeTests"):
        (catch,) = states[step]["Catch"]
        assert catch["Next"] == "RollBack", step
        assert catch["Assign"]["failedStep"] == step
    rollback = states["RollBack"]
    assert "$previous" in rollback["Items"]
    restore = rollback["ItemProcessor"]["States"]["RestorePreviousTaskDefinition"]["Arguments"]
    assert restore["TaskDefinition"] == "{% $states.input.taskDefinition %}"
    assert restore["Service"] == "{% $states.input.service %}"
    assert rollback["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Resource"] == "arn:aws:states:::sns:publish"
    assert states["NotifyFailure"]["Next"] == "DeploymentFailed"
    assert "$failedStep" in states["DeploymentFailed"]["Error"]
    # Before any service changed, a failure only notifies.
    for step in ("DescribeMigrations", "RegisterMigrations", "RunMigrations"):
        assert states[step]["Catch"][0]["Next"] == "NotifyFailure"


def test_every_next_names_a_state_and_every_state_is_reachable(profile: Synthesized) -> None:
    def check(block: dict[str, Any]) -> None:
        states = block["States"]
        targets = {block["StartAt"]}
        for state in states.values():
            targets.update(t for t in [state.get("Next"), state.get("Default")] if t)
            targets.update(c["Next"] for c in state.get("Choices", []) + state.get("Catch", []))
            for branch in state.get("Branches", []):
                check(branch)
            if "ItemProcessor" in state:
                check(state["ItemProcessor"])
        assert targets == set(states)

    check(definition(profile))


def test_every_service_is_described_and_updated(profile: Synthesized) -> None:
    (policy,) = [
        p
        for p in _resources(profile, "AWS::IAM::Policy").values()
        if any("ecs:UpdateService" in json.dumps(s["Action"]) for s in p["Properties"]["PolicyDocument"]["Statement"])
    ]
    (update,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "ecs:UpdateService" in json.dumps(s["Action"])
    ]
    assert len(update["Resource"]) == len(profile.spec.services)


def test_the_role_names_its_resources_except_where_the_api_cannot(profile: Synthesized) -> None:
    (machine,) = _resources(profile, "AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in _resources(profile, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    no_resource_level = {
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        *EXECUTION_LOG_ACTIONS,
        *TRACE_ACTIONS,
    }
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert set(actions) <= no_resource_level, actions
        assert not any(action.endswith("*") for action in actions), actions
    assert any("ecs:RunTask" in json.dumps(s["Action"]) for s in statements)


def test_logging_everything_and_tracing(profile: Synthesized) -> None:
    (machine,) = _resources(profile, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert props["TracingConfiguration"] == {"Enabled": True}


def _container(synth: Synthesized, name: str) -> dict[str, Any]:
    for task in _resources(synth, "AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            if container["Name"] == name:
                found: dict[str, Any] = container
                return found
    raise AssertionError(name)


def test_migrations_run_the_backend_image_with_database_access(profile: Synthesized) -> None:
    delivery = profile.spec.delivery
    migrating = profile.spec.service(delivery.migrations_service)
    container = _container(profile, "migrations")
    assert container["Command"] == list(delivery.migrate_command)
    assert container["Image"]["Fn::Join"][1][-1].endswith(f":{migrating.image_tag}")
    assert {s["Name"] for s in container["Secrets"]} == {"DB_MASTER_USERNAME", "DB_MASTER_PASSWORD"}
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["DB_USER"] == migrating.database_user
    assert "rds-db:connect" in json.dumps(_resources(profile, "AWS::IAM::Policy"))


def test_smoke_tests_get_the_derived_urls(profile: Synthesized) -> None:
    delivery = profile.spec.delivery
    container = _container(profile, "smoke-tests")
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["API_URL"] == profile.spec.service_url(profile.spec.service(delivery.api_service))
    assert "Fn::Join" in environment["WEB_URL"] or "https://" in json.dumps(environment["WEB_URL"])
    assert container["Command"] == list(delivery.smoke_test_command)


def test_outputs_for_the_verify_command(profile: Synthesized) -> None:
    delivery_outputs = set(profile.template_json("delivery")["Outputs"])
    assert {
        outputs.STATE_MACHINE_ARN,
        outputs.PROBE_TASK_DEFINITION,
        outputs.PROBE_SUBNETS,
        outputs.PROBE_SECURITY_GROUP,
        outputs.PROBE_LOG_GROUP,
    } <= delivery_outputs
    compute_outputs = set(profile.template_json("compute")["Outputs"])
    for service in profile.spec.services:
        for attribute in (
            outputs.SERVICE_ARN,
            outputs.CLOUD_MAP_SERVICE_ID,
            outputs.TARGET_GROUP_ARN,
            outputs.LOG_GROUP,
        ):
            assert outputs.output_key(service.name, attribute) in compute_outputs
