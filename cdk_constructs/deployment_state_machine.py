"""The deployment flow as a Step Functions state machine.

Input: ``{"imageTag": "<tag>"}``. Remember the task definition every service
runs; register a migrations revision with the new image and run it; register
a new revision of every service with the new image and roll them out in
parallel (``ForceNewDeployment``, never a ``DesiredCount``); wait until each
rollout completes (bounded polls); register and run the smoke tests. On any
failure after the services were touched, put each back on the task definition
it ran before, notify the alarm topic and fail naming the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Aws, Duration, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.retention import log_retention

ECS_EVENTS_RULE = "StepFunctionsGetEventsForECSTaskRule"

State = dict[str, Any]


@dataclass(frozen=True)
class ImageSwap:
    """Which container of a task definition takes the new image, from which repository."""

    container_name: str
    repository_uri: str


@dataclass(frozen=True)
class RolledService:
    name: str
    service: ecs.FargateService
    task_definition: ecs.TaskDefinition
    swap: ImageSwap


@dataclass(frozen=True)
class OneOffRun:
    name: str
    task_definition: ecs.TaskDefinition
    swap: ImageSwap
    security_group: ec2.ISecurityGroup


def _jsonata(expression: str) -> str:
    return "{% " + expression + " %}"


def _register_arguments(swap: ImageSwap) -> str:
    """registerTaskDefinition's arguments: the described revision with one image replaced."""
    return _jsonata(
        "($td := $states.result.TaskDefinition; {"
        '"Family": $td.Family, "TaskRoleArn": $td.TaskRoleArn, "ExecutionRoleArn": $td.ExecutionRoleArn, '
        '"NetworkMode": $td.NetworkMode, "RequiresCompatibilities": $td.RequiresCompatibilities, '
        '"Cpu": $td.Cpu, "Memory": $td.Memory, "RuntimePlatform": $td.RuntimePlatform, '
        '"Volumes": $td.Volumes, "EphemeralStorage": $td.EphemeralStorage, '
        '"ContainerDefinitions": [$map($td.ContainerDefinitions, function($c) { '
        f'$c.Name = "{swap.container_name}" ? $merge([$c, {{"Image": "{swap.repository_uri}:" & $imageTag}}]) : $c'
        " })]})"
    )


class DeploymentStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        subnets: list[ec2.ISubnet],
        services: list[RolledService],
        migrations: OneOffRun,
        smoke_tests: OneOffRun,
        rollout_poll_seconds: int,
        rollout_max_polls: int,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._cluster = cluster
        self._subnets = [s.subnet_id for s in subnets]
        self._topic = topic
        self._poll_seconds = rollout_poll_seconds
        self._max_polls = rollout_max_polls
        self._run_families = [migrations.task_definition.family, smoke_tests.task_definition.family]
        self.definition = self._definition(services, migrations, smoke_tests)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
        self._grant(services, migrations, smoke_tests, topic_key)
        log_group = logs.LogGroup(self, "Logs", encryption_key=logs_key, retention=log_retention(log_retention_days))
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_string(Stack.of(self).to_json_string(self.definition)),
            role=self.role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=Duration.hours(2),
        )
        self._acknowledge()

    # --- definition -----------------------------------------------------

    def _definition(self, services: list[RolledService], migrations: OneOffRun, smoke_tests: OneOffRun) -> State:
        service_arns = [s.service.service_arn for s in services]
        states: dict[str, State] = {
            "CheckInput": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": _jsonata(
                            "$type($states.input.imageTag) = 'string' and $length($states.input.imageTag) > 0"
                        ),
                        "Next": "RememberRunningTaskDefinitions",
                    }
                ],
                "Default": "InvalidInput",
            },
            "InvalidInput": {
                "Type": "Fail",
                "Error": "InvalidInput",
                "Cause": 'Start the execution with {"imageTag": "<tag pushed to every repository>"}',
            },
            "RememberRunningTaskDefinitions": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
                "Arguments": {"Cluster": self._cluster.cluster_arn, "Services": service_arns},
                "Assign": {
                    "imageTag": _jsonata("$states.input.imageTag"),
                    "previous": _jsonata("$merge($states.result.Services.{ServiceArn: TaskDefinition})"),
                },
                "Catch": [self._catch("RememberRunningTaskDefinitions", "NotifyFailure")],
                "Next": f"Describe{migrations.name}",
            },
            **self._one_off(migrations, on_failure="NotifyFailure", next_state="UpdateServices"),
            "UpdateServices": {
                "Type": "Parallel",
                "Branches": [self._rollout_branch(service) for service in services],
                "Catch": [self._catch("UpdateServices", "RollBack")],
                "Next": f"Describe{smoke_tests.name}",
            },
            **self._one_off(smoke_tests, on_failure="RollBack", next_state="Deployed"),
            "Deployed": {"Type": "Succeed"},
            "RollBack": {
                "Type": "Map",
                "Items": _jsonata(
                    "$each($previous, function($taskDefinition, $service) "
                    "{ {'service': $service, 'taskDefinition': $taskDefinition} })"
                ),
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "RestorePreviousTaskDefinition",
                    "States": {
                        "RestorePreviousTaskDefinition": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:ecs:updateService",
                            "Arguments": {
                                "Cluster": self._cluster.cluster_arn,
                                "Service": _jsonata("$states.input.service"),
                                "TaskDefinition": _jsonata("$states.input.taskDefinition"),
                                "ForceNewDeployment": True,
                            },
                            "End": True,
                        }
                    },
                },
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {
                            "failure": _jsonata("$failure & '; roll-back failed too: ' & $states.errorOutput.Cause")
                        },
                        "Next": "NotifyFailure",
                    }
                ],
                "Next": "NotifyFailure",
            },
            "NotifyFailure": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Arguments": {
                    "TopicArn": self._topic.topic_arn,
                    "Subject": "Deployment failed",
                    "Message": _jsonata("'Deployment of ' & $imageTag & ' failed at ' & $failedStep & ': ' & $failure"),
                },
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "DeploymentFailed"}],
                "Next": "DeploymentFailed",
            },
            "DeploymentFailed": {
                "Type": "Fail",
                "Error": _jsonata("'DeploymentFailed.' & $failedStep"),
                "Cause": _jsonata("$failedStep & ' failed: ' & $failure"),
            },
        }
        return {
            "Comment": "Migrations, rolling update of every service, smoke tests; roll back on failure",
            "QueryLanguage": "JSONata",
            "StartAt": "CheckInput",
            "States": states,
        }

    @staticmethod
    def _catch(step: str, next_state: str) -> State:
        return {
            "ErrorEquals": ["States.ALL"],
            "Assign": {
                "failedStep": step,
                "failure": _jsonata("$states.errorOutput.Error & ': ' & $states.errorOutput.Cause"),
            },
            "Next": next_state,
        }

    def _register_states(
        self, name: str, *, source: str, swap: ImageSwap, assign: str, next_state: str, on_failure: str | None
    ) -> dict[str, State]:
        """Describe a task definition, register it again with the new image, remember the new ARN.

        ``on_failure`` None: the enclosing Parallel's Catch handles failures."""
        describe: State = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:describeTaskDefinition",
            "Arguments": {"TaskDefinition": source},
            "Next": f"Register{name}",
        }
        register: State = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:registerTaskDefinition",
            "Arguments": _register_arguments(swap),
            "Assign": {assign: _jsonata("$states.result.TaskDefinition.TaskDefinitionArn")},
            "Next": next_state,
        }
        if on_failure is not None:
            describe["Catch"] = [self._catch(f"Describe{name}", on_failure)]
            register["Catch"] = [self._catch(f"Register{name}", on_failure)]
        return {f"Describe{name}": describe, f"Register{name}": register}

    def _one_off(self, run: OneOffRun, *, on_failure: str, next_state: str) -> dict[str, State]:
        variable = f"{run.name[0].lower()}{run.name[1:]}TaskDefinition"
        return {
            **self._register_states(
                run.name,
                source=run.task_definition.task_definition_arn,
                swap=run.swap,
                assign=variable,
                next_state=f"Run{run.name}",
                on_failure=on_failure,
            ),
            f"Run{run.name}": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Arguments": {
                    "Cluster": self._cluster.cluster_arn,
                    "TaskDefinition": _jsonata(f"${variable}"),
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": self._subnets,
                            "SecurityGroups": [run.security_group.security_group_id],
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                },
                "Catch": [self._catch(f"Run{run.name}", on_failure)],
                "Next": next_state,
            },
        }

    def _rollout_branch(self, rolled: RolledService) -> State:
        name, arn = rolled.name, rolled.service.service_arn
        return {
            "StartAt": f"Describe{name}",
            "States": {
                **self._register_states(
                    name,
                    source=_jsonata(f"$lookup($previous, '{arn}')"),
                    swap=rolled.swap,
                    assign="newTaskDefinition",
                    next_state=f"Roll{name}",
                    on_failure=None,
                ),
                f"Roll{name}": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:updateService",
                    "Arguments": {
                        "Cluster": self._cluster.cluster_arn,
                        "Service": arn,
                        "TaskDefinition": _jsonata("$newTaskDefinition"),
                        "ForceNewDeployment": True,
                    },
                    "Assign": {"polls": 0},
                    "Next": f"WaitFor{name}",
                },
                f"WaitFor{name}": {"Type": "Wait", "Seconds": self._poll_seconds, "Next": f"Check{name}"},
                f"Check{name}": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
                    "Arguments": {"Cluster": self._cluster.cluster_arn, "Services": [arn]},
                    "Assign": {
                        "rollout": _jsonata("$states.result.Services[0].Deployments[Status = 'PRIMARY'].RolloutState"),
                        "polls": _jsonata("$polls + 1"),
                    },
                    "Next": f"Rolled{name}",
                },
                f"Rolled{name}": {
                    "Type": "Choice",
                    "Choices": [
                        {"Condition": _jsonata("$rollout = 'COMPLETED'"), "Next": f"{name}Rolled"},
                        {"Condition": _jsonata("$rollout = 'FAILED'"), "Next": f"{name}RolloutFailed"},
                        {"Condition": _jsonata(f"$polls >= {self._max_polls}"), "Next": f"{name}RolloutTimedOut"},
                    ],
                    "Default": f"WaitFor{name}",
                },
                f"{name}Rolled": {"Type": "Succeed"},
                f"{name}RolloutFailed": {
                    "Type": "Fail",
                    "Error": "RolloutFailed",
                    "Cause": f"{name}: the deployment circuit breaker stopped the rollout",
                },
                f"{name}RolloutTimedOut": {
                    "Type": "Fail",
                    "Error": "RolloutTimedOut",
                    "Cause": f"{name}: not rolled out after {self._max_polls} checks, {self._poll_seconds} s apart",
                },
            },
        }

    # --- permissions ----------------------------------------------------

    def _grant(
        self, services: list[RolledService], migrations: OneOffRun, smoke_tests: OneOffRun, topic_key: kms.IKey
    ) -> None:
        stack = Stack.of(self)
        statements = [
            iam.PolicyStatement(
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[s.service.service_arn for s in services],
            ),
            # Neither call supports resource-level permissions.
            iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"], resources=["*"]),
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[
                    stack.format_arn(
                        service="ecs", resource="task-definition", resource_name=f"{run.task_definition.family}:*"
                    )
                    for run in (migrations, smoke_tests)
                ],
                conditions={"ArnEquals": {"ecs:cluster": self._cluster.cluster_arn}},
            ),
            iam.PolicyStatement(
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[stack.format_arn(service="ecs", resource="task", resource_name="*")],
                conditions={"ArnEquals": {"ecs:cluster": self._cluster.cluster_arn}},
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[
                    role.role_arn
                    for task_definition in (
                        *(s.task_definition for s in services),
                        migrations.task_definition,
                        smoke_tests.task_definition,
                    )
                    for role in (task_definition.task_role, task_definition.obtain_execution_role())
                ],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=ECS_EVENTS_RULE)],
            ),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self._topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[topic_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
            ),
        ]
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def _acknowledge(self) -> None:
        stack = Stack.of(self)
        role = Validations.of(self.role)
        role.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition, CloudWatch Logs delivery "
                "and X-Ray tracing have no resource-level permissions; every other call names its resources.",
            )
        )
        for pattern, reason in (
            (
                f"arn:{stack.partition}:ecs:{stack.region}:<AWS::AccountId>:task/*",
                "Task ids are made at run time; the statement is limited to the platform's cluster by the "
                "ecs:cluster condition.",
            ),
            *(
                (
                    f"arn:{stack.partition}:ecs:{stack.region}:<AWS::AccountId>:task-definition/{family}:*",
                    "Any revision of this one family: the state machine registers a new revision at each deploy.",
                )
                for family in self._run_families
            ),
        ):
            role.acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{pattern}]", reason=reason))
