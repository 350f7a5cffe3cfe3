"""The delivery stack: the deployment state machine's flow and permissions, and its tasks."""

from __future__ import annotations

import json
from typing import Any

from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from aws_model.ledger import EXECUTION_LOG_ACTIONS, TRACE_ACTIONS
from layers.release.state_names import all_states
from platform_spec import names
from platform_spec.names import COMPUTE, DELIVERY
from tests.platform_synth import Synthesized

Resources = dict[str, dict[str, Any]]


def _resources(synth: Synthesized, kind: str) -> Resources:
    return {k: v for k, v in synth.template_json(DELIVERY)["Resources"].items() if v["Type"] == kind}


def definition(synth: Synthesized) -> dict[str, Any]:
    """The state machine's definition, with references shown as <ref>."""
    (machine,) = _resources(synth, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<ref>" for part in parts)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_definition_matches_snapshot(shipped: Synthesized, snapshot: SnapshotAssertion) -> None:
    assert definition(shipped) == snapshot.use_extension(JSONSnapshotExtension)


def test_no_desired_count_anywhere(profile: Synthesized) -> None:
    assert "DesiredCount" not in json.dumps(definition(profile))


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


def _role_statements(synth: Synthesized) -> list[dict[str, Any]]:
    (machine,) = _resources(synth, "AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in _resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_the_release_updates_exactly_the_compute_stack_with_its_own_stack_role(profile: Synthesized) -> None:
    statements = _role_statements(profile)
    (stack,) = [s for s in statements if "cloudformation:UpdateStack" in _actions(s)]
    assert sorted(_actions(stack)) == [
        "cloudformation:CancelUpdateStack",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStacks",
        "cloudformation:UpdateStack",
    ]
    assert f":stack/{profile.stack_name(COMPUTE)}/*" in json.dumps(stack["Resource"])
    passes = [s for s in statements if "iam:PassRole" in _actions(s)]
    (to_cloudformation,) = [
        s for s in passes if s["Condition"]["StringEquals"]["iam:PassedToService"] == "cloudformation.amazonaws.com"
    ]
    # The release's own CloudFormation role, made beside it; never the bootstrap's execution role.
    (stack_role,) = [
        lid
        for lid, role in _resources(profile, "AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "cloudformation.amazonaws.com"}
    ]
    assert to_cloudformation["Resource"] == {"Fn::GetAtt": [stack_role, "Arn"]}
    assert not any("ecs:UpdateService" in _actions(s) for s in statements), "only CloudFormation changes services"


def test_the_role_trusts_only_its_own_state_machine(profile: Synthesized) -> None:
    """Any other state machine of the account would get the release's grants (evaluated in
    tests/synth/test_release_stack_role.py)."""
    (machine,) = _resources(profile, "AWS::StepFunctions::StateMachine").values()
    role = profile.template_json(DELIVERY)["Resources"][machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (own,) = trust["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Join"][1][-1:]
    assert own == f":stateMachine:{profile.spec.release_state_machine_name}"
    assert set(trust["Condition"]) == {"StringEquals", "ArnEquals"}


def test_one_off_tasks_run_only_their_families_in_the_platforms_cluster(profile: Synthesized) -> None:
    statements = _role_statements(profile)
    (run,) = [s for s in statements if "ecs:RunTask" in _actions(s)]
    assert len(run["Resource"]) == 2
    cluster = f":cluster/{profile.spec.cluster_name}"
    assert cluster in json.dumps(run["Condition"]["ArnEquals"]["ecs:cluster"])
    (follow,) = [s for s in statements if "ecs:StopTask" in _actions(s)]
    assert f":task/{profile.spec.cluster_name}/*" in json.dumps(follow["Resource"])


def test_the_execution_and_every_waiting_state_have_a_timeout(profile: Synthesized) -> None:
    document = definition(profile)
    assert document["TimeoutSeconds"] == profile.spec.release_timeout_minutes * 60
    for name, state, _ in all_states(document["States"]):
        if state["Type"] == "Task":
            assert "TimeoutSeconds" in state, name


def test_the_role_names_its_resources_except_where_the_api_cannot(profile: Synthesized) -> None:
    statements = _role_statements(profile)
    no_resource_level = {
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        *EXECUTION_LOG_ACTIONS,
        *TRACE_ACTIONS,
    }
    for statement in statements:
        actions = _actions(statement)
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


def test_migrations_run_the_migrating_services_image_with_database_access(profile: Synthesized) -> None:
    delivery = profile.spec.delivery
    migrating = profile.spec.service(delivery.migrations_service)
    container = _container(profile, "migrations")
    assert container["Command"] == list(delivery.migrate_command)
    assert container["Image"]["Fn::Join"][1][-1].endswith(f":{migrating.initial_image_tag}")
    # The service's own secrets only (tests/synth/test_service_secrets.py): the migrator signs in with an
    # IAM token, never the master password.
    assert sorted(s["Name"] for s in container.get("Secrets", [])) == sorted(migrating.secrets)
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["DB_USER"] == profile.spec.database.migrator_user
    assert {k: environment.get(k) for k in migrating.settings} == dict(migrating.settings)
    assert "rds-db:connect" in json.dumps(_resources(profile, "AWS::IAM::Policy"))


def test_smoke_tests_get_the_derived_urls(profile: Synthesized) -> None:
    delivery = profile.spec.delivery
    container = _container(profile, "smoke-tests")
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["API_URL"] == profile.spec.service_url(profile.spec.service(delivery.api_service))
    assert "Fn::Join" in environment["WEB_URL"] or "https://" in json.dumps(environment["WEB_URL"])
    assert container["Command"] == list(delivery.smoke_test_command)


def test_outputs_for_the_verify_command(profile: Synthesized) -> None:
    delivery_outputs = set(profile.template_json(DELIVERY)["Outputs"])
    assert {
        names.STATE_MACHINE_ARN,
        names.PROBE_TASK_DEFINITION,
        names.PROBE_SUBNETS,
        names.PROBE_SECURITY_GROUP,
        names.PROBE_LOG_GROUP,
    } <= delivery_outputs
    compute_outputs = set(profile.template_json(COMPUTE)["Outputs"])
    for service in profile.spec.services:
        wanted = names.service_outputs(registered=service.has_port, public=service.is_public)
        for attribute in names.SERVICE_OUTPUTS:
            assert (names.output_key(service.name, attribute) in compute_outputs) == (attribute in wanted)
