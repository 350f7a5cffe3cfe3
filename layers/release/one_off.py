"""Tasks that run to completion on the new image, migrations before the services are updated
and smoke tests after: a revision registered for the run (``runTask.sync``)."""

from __future__ import annotations

from typing import Any

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
    service's image (the task and its volume owner), and run it to completion."""
    described = f"{run.step[0].lower()}{run.step[1:]}Definition"
    registered = f"{run.step[0].lower()}{run.step[1:]}TaskDefinition"
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
        f"Describe{run.step}": aws_call(
            "ecs:describeTaskDefinition",
            {"TaskDefinition": run.task_definition_arn},
            Assign={described: jsonata("$states.result.TaskDefinition")},
            Catch=[catch(f"Describe{run.step}", on_failure)],
            Next=f"Register{run.step}",
        ),
        f"Register{run.step}": aws_call(
            "ecs:registerTaskDefinition",
            register,
            Assign={registered: jsonata("$states.result.TaskDefinition.TaskDefinitionArn")},
            Catch=[catch(f"Register{run.step}", on_failure)],
            Next=f"Run{run.step}",
        ),
        f"Run{run.step}": {
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
            "Catch": [catch(f"Run{run.step}", on_failure)],
            "Next": next_state,
        },
    }
