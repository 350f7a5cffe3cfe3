"""The cdk-nag findings the platform's workloads share, acknowledged where they hold: ECS Exec on a
task role, and pulling from ECR on an execution role."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs


def finding_arn(stack: Stack, service: str, resource: str) -> str:
    """An ARN in ``stack``'s region and account as cdk-nag spells it in a finding id: a pseudo
    parameter the stack leaves open as ``<AWS::AccountId>`` (and so on), a value the stack pins
    (the spec's ``account``) as itself."""

    def spelled(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    partition, region = spelled(stack.partition, "Partition"), spelled(stack.region, "Region")
    return f"arn:{partition}:{service}:{region}:{spelled(stack.account, 'AccountId')}:{resource}"


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
    # Every stack imports the group by its literal name (PlatformSpec.exec_log_group_name),
    # so the finding id cdk-nag builds from the policy is known here.
    group = stack.resolve(exec_log_group.log_group_name)
    assert isinstance(group, str), "the ECS Exec log group must be named literally"
    task_role.acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{finding_arn(stack, 'logs', f'log-group:{group}:*')}]",
            reason="The trailing '*' stands for the log streams ECS Exec creates in the cluster's session "
            "log group, the only group named.",
        )
    )


def acknowledge_ecr_pull(task_definition: ecs.TaskDefinition) -> None:
    """Call only for a task that pulls from a repository of the data stack."""
    Validations.of(task_definition.obtain_execution_role()).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="ecr:GetAuthorizationToken has no resource-level permissions; every other action of "
            "this role names its repository, log group, secret or key.",
        )
    )
