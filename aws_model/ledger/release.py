"""The ledger's calls for the release state machine: what each Task state calls, on the resources
its arguments name, the stack update CloudFormation applies as the role the release passes it,
and the execution's logs and traces."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from aws_model.iam import Principal
from aws_model.ledger.entries import ECS_SYNC_RULE, EXECUTION_LOG_ACTIONS, TRACE_ACTIONS, Caller, Entry
from aws_model.ledger.reader import Reader
from aws_model.stack_updates import update_calls
from layers.release.state_names import REGISTER, RUN, all_states, describe_state, step_of


def _task_states(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Task state, inside Map and Parallel states too; a Task inside a Map whose items
    are a literal list carries them as ``__map_items__``."""
    for name, state, in_map in all_states(states):
        if state["Type"] != "Task":
            continue
        if in_map is None:
            yield name, state
        else:
            items = in_map.get("Items") if isinstance(in_map.get("Items"), list) else []
            yield name, {**state, "__map_items__": items}


def _described_task_definitions(tasks: list[tuple[str, Mapping[str, Any]]], step: str | None) -> list[str]:
    """The task definition ``Describe<step>`` reads to register the revision ``Run<step>`` runs
    (``layers.release.state_names``); none for a state named after no step."""
    return [
        str(state["Arguments"]["TaskDefinition"])
        for name, state in tasks
        if step is not None
        and name == describe_state(step)
        and state["Resource"].endswith(":ecs:describeTaskDefinition")
    ]


class ReleaseCalls(Reader):
    """Reads the state machines' definitions."""

    def state_machines(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::StepFunctions::StateMachine"):
            raw = body["Properties"]
            role = self._role(stack, raw["RoleArn"], f"state machine {logical_id}'s role")
            definition = json.loads(self._props(stack, body)["DefinitionString"])
            tasks = list(_task_states(definition["States"]))
            for name, state in tasks:
                yield from self._integration(role, name, state, tasks)
            yield from self._execution_records(role)

    def _integration(
        self, role: Caller, name: str, state: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> Iterator[Entry]:
        """What one Task state calls, on the resources its arguments (or its Map's items) name."""
        resource = str(state["Resource"])
        arguments = state.get("Arguments", {})
        purpose = f"release: {name}"
        sdk = re.fullmatch(r"arn:aws:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<api>[A-Za-z0-9]+)", resource)
        if resource == "arn:aws:states:::ecs:runTask.sync":
            yield from self._run_task_sync(
                role, purpose, arguments, _described_task_definitions(tasks, step_of(name, RUN))
            )
        elif resource == "arn:aws:states:::sns:publish":
            yield from self._publish(role, purpose, str(arguments["TopicArn"]))
        elif sdk is not None:
            action = f"{sdk['service']}:{sdk['api'][0].upper()}{sdk['api'][1:]}"
            targets = (
                self._database_targets(arguments)
                if sdk["service"] == "rds"
                else self._sdk_targets(sdk["service"], name, arguments, tasks)
            )
            for target in targets:
                yield Entry(purpose, role, action, target)
            if action == "cloudformation:UpdateStack":
                yield Entry(
                    purpose,
                    role,
                    "iam:PassRole",
                    str(arguments["RoleARN"]),
                    context={"iam:PassedToService": "cloudformation.amazonaws.com"},
                )
                yield from self._stack_update(name, arguments, tasks)
        else:
            raise ValueError(f"state {name}: the ledger does not know integration {resource}")

    def _stack_update(
        self, name: str, arguments: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> Iterator[Entry]:
        """CloudFormation applying the release's tags as the role the update passes it (its
        service role: "CloudFormation service role", CloudFormation user guide), once for every
        update state of the definition (``aws_model/stack_updates.py``)."""
        updates = [n for n, s in tasks if str(s["Resource"]).endswith(":cloudformation:updateStack")]
        if name != updates[0]:
            return
        stack, role_arn = str(arguments["StackName"]), str(arguments["RoleARN"])
        role_stack, role_id = self._find("AWS::IAM::Role", "Arn", role_arn)
        caller = Caller(f"CloudFormation as {role_id}", Principal("AWS", role_arn), role=(role_stack, role_id))
        # The parameters the update sets: those its Parameters expression names.
        named = str(arguments["Parameters"])
        parameters = [p for p in self.d.parameters(stack) if re.search(rf"[\"']{re.escape(p)}[\"']", named)]
        for call in update_calls(self.d, stack, parameters):
            yield Entry(f"release: {call.purpose}", caller, call.action, call.resource, context=call.context)

    def _sdk_targets(
        self, service: str, name: str, arguments: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        """The resources an aws-sdk call acts on, as the deployment names them."""
        if service == "ecs" and (step := step_of(name, REGISTER)) is not None:
            # A new revision of the family Describe<step> read.
            described = _described_task_definitions(tasks, step)
            if not described:
                raise ValueError(f"state {name}: no Describe state names the task definition it copies")
            return [f"{arn.rsplit(':', 1)[0]}:2" for arn in described]
        if service == "cloudformation":
            return [self.d.resolve(str(arguments["StackName"]), {"Ref": "AWS::StackId"})]
        if service == "ecr":
            return [
                f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{item['repository']}"
                for _, state in tasks
                for item in state.get("__map_items__", [])
            ] or ["*"]
        if service == "ecs" and "Services" in arguments:
            released = {str(a["StackName"]) for _, s in tasks if (a := s.get("Arguments", {})) and "StackName" in a}
            return [
                self.d.ref(stack, lid)
                for stack in sorted(released)
                for lid in self.d.resources(stack, "AWS::ECS::Service")
            ]
        if service == "ecs" and "TaskDefinition" in arguments and isinstance(arguments["TaskDefinition"], str):
            return ["*"]  # describeTaskDefinition has no resource-level permissions
        return ["*"]

    def _database_targets(self, arguments: Mapping[str, Any]) -> list[str]:
        """An RDS call on one instance: the platform's own, named by its identifier (which must
        be the deployment's), acts on that instance's ARN."""
        identifier = str(arguments["DbInstanceIdentifier"])
        stack, logical_id = self._find("AWS::RDS::DBInstance", "Ref", identifier)
        return [str(self.d.get_att(stack, logical_id, "DBInstanceArn"))]

    def _run_task_sync(
        self, role: Caller, purpose: str, arguments: Mapping[str, Any], task_definitions: list[str]
    ) -> Iterator[Entry]:
        """runTask.sync runs a revision registered from a task definition the definition names,
        in the cluster it names, and follows it through an EventBridge rule it keeps itself
        (Step Functions developer guide, "IAM policies for Amazon ECS/Fargate")."""
        cluster = str(arguments["Cluster"])
        context = {"ecs:cluster": cluster}
        if not task_definitions:
            raise ValueError(f"{purpose}: no Describe state names the task definition it runs")
        for task_definition in task_definitions:
            stack, logical_id = self._find("AWS::ECS::TaskDefinition", "Ref", task_definition)
            props = self._props(stack, self.d.resource(stack, logical_id))
            family = task_definition.rsplit(":", 1)[0]
            yield Entry(purpose, role, "ecs:RunTask", f"{family}:2", context=context)
            for role_arn in (props["TaskRoleArn"], props["ExecutionRoleArn"]):
                yield Entry(
                    purpose, role, "iam:PassRole", role_arn, context={"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                )
        task = f"arn:{self.partition}:ecs:{self.region}:{self.account}:task/{cluster.rsplit('/', maxsplit=1)[-1]}/0123"
        for action in ("ecs:DescribeTasks", "ecs:StopTask"):
            yield Entry(purpose, role, action, task, context=context)
        rule = f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{ECS_SYNC_RULE}"
        for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
            yield Entry(purpose, role, action, rule)

    def _execution_records(self, role: Caller) -> Iterator[Entry]:
        """Logging every execution to CloudWatch Logs and tracing it with X-Ray (Step Functions
        developer guide, "Logging using CloudWatch Logs" and "AWS X-Ray" IAM policies)."""
        for action in EXECUTION_LOG_ACTIONS:
            yield Entry("release: log every execution", role, action, "*")
        for action in TRACE_ACTIONS:
            yield Entry("release: trace every execution", role, action, "*")
