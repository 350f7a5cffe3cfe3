"""The cdk-nag findings ECS Exec brings to a task role, acknowledged where they hold."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs


def _as_nag_writes_it(stack: Stack, value: str) -> str:
    """A CloudFormation value the way cdk-nag prints it inside a finding id."""
    resolved: Any = stack.resolve(value)
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return "<{}.{}>".format(*resolved["Fn::GetAtt"])
    return resolved if isinstance(resolved, str) else json.dumps(resolved, separators=(",", ":"))


def acknowledge_ecs_exec(task_definition: ecs.TaskDefinition, exec_log_group: logs.ILogGroup) -> None:
    """Call only for a task whose service has ECS Exec on."""
    task_role = Validations.of(task_definition.task_role)
    task_role.acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="ECS Exec's ssmmessages channel actions and logs:DescribeLogGroups have no resource-level "
            "permissions; present only while ECS Exec is on for this service.",
        )
    )
    stack = Stack.of(task_definition)
    group = _as_nag_writes_it(stack, exec_log_group.log_group_name)
    task_role.acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:logs:{stack.region}:<AWS::AccountId>:"
            f"log-group:{group}:*]",
            reason="The trailing '*' stands for the log streams ECS Exec creates in the cluster's session "
            "log group, the only group named.",
        )
    )
