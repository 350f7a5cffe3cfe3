"""Tasks that run to completion on the new image, migrations before the services are updated
and smoke tests after: a revision registered for the run (``runTask.sync``)."""

from __future__ import annotations

from typing import Any

from layers.release.state_names import (
    describe_state,
    described_variable,
    register_state,
    registered_variable,
    run_state,
)
from layers.release.states import ReleaseContext, State, aws_call, catch, jsonata
from layers.release.targets import OneOffRun


def one_off(
    release: ReleaseContext,
    run: OneOffRun,
    *,
    on_failure: str,
    next_state: str,
    assign: dict[str, Any] | None = None,
) -> dict[str, State]:
    """Register a revision of ``run`` with the new image in every container that ran the
    service's image (the task and its volume owner), and run it to completion: the states and
    variables ``layers.release.state_names`` names after the run's step."""
    described, registered = described_variable(run.step), registered_variable(run.step)
    describe_name, register_name, run_name = describe_state(run.step), register_state(run.step), run_state(run.step)
    register = jsonata(
        f"($td := ${described}; {{"
        "'Family': $td.Family, 'TaskRoleArn': $td.TaskRoleArn, 'ExecutionRoleArn': $td.ExecutionRoleArn, "
        "'NetworkMode': $td.NetworkMode, 'RequiresCompatibilities': $td.RequiresCompatibilities, "
        "'Cpu': $td.Cpu, 'Memory': $td.Memory, 'RuntimePlatform': $td.RuntimePlatform, "
        "'Volumes': $td.Volumes, 'EphemeralStorage': $td.EphemeralStorage, "
        "'ContainerDefinitions': $append([], $map($td.ContainerDefinitions, function($c) { "
        f"$substringBefore($c.Image, ':') = '{run.repository_uri}' "
        f"? $merge([$c, {{'Image': '{run.repository_uri}:' & $imageTag}}]) : $c }}))}})"
    )
    return {
        describe_name: aws_call(
            "ecs:describeTaskDefinition",
            {"TaskDefinition": run.task_definition_arn},
            Assign={described: jsonata("$states.result.TaskDefinition")},
            Catch=[catch(describe_name, on_failure)],
            Next=register_name,
        ),
        register_name: aws_call(
            "ecs:registerTaskDefinition",
            register,
            Assign={registered: jsonata("$states.result.TaskDefinition.TaskDefinitionArn")},
            Catch=[catch(register_name, on_failure)],
            Next=run_name,
        ),
        run_name: {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Arguments": {
                "Cluster": release.targets.cluster_arn,
                "TaskDefinition": jsonata(f"${registered}"),
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "Subnets": list(release.targets.subnets),
                        "SecurityGroups": [run.security_group_id],
                        "AssignPublicIp": "DISABLED",
                    }
                },
            },
            "TimeoutSeconds": release.task_timeout,
            **({"Assign": assign} if assign else {}),
            "Catch": [catch(run_name, on_failure)],
            "Next": next_state,
        },
    }
