"""CloudFormation custom resource: run the database bootstrap task and wait for it.

Create and Update run the task (its SQL is idempotent) and answer SUCCESS only when its
container exits 0; Delete leaves the users in place (the data stack keeps the database).
Every failure is answered, naming the task and where its log is, so the deploy fails at
once instead of waiting out the resource's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
from cfn_response import respond

POLL_SECONDS = 6
# Leaves the function time to answer before its own timeout (12 minutes).
WAIT_SECONDS = 660


def run_bootstrap(
    properties: dict[str, Any],
    ecs: Any,
    *,
    sleep: Callable[[float], None] | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> tuple[bool, str]:
    """Run the task to completion: (succeeded, what happened)."""
    started = ecs.run_task(
        cluster=properties["Cluster"],
        taskDefinition=properties["TaskDefinition"],
        launchType="FARGATE",
        count=1,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": properties["Subnets"],
                "securityGroups": properties["SecurityGroups"],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    if started.get("failures") or not started.get("tasks"):
        failure = (started.get("failures") or [{}])[0]
        return False, f"the bootstrap task did not start: {failure.get('reason', 'no task returned')}"
    task_arn = started["tasks"][0]["taskArn"]
    task_id = task_arn.rsplit("/", 1)[-1]
    where = f"log {properties['LogGroup']}, stream {properties['Container']}/{properties['Container']}/{task_id}"
    waited = 0.0
    while True:
        (task,) = ecs.describe_tasks(cluster=properties["Cluster"], tasks=[task_arn])["tasks"]
        if task["lastStatus"] == "STOPPED":
            break
        if waited >= wait_seconds:
            return False, f"the bootstrap task {task_id} was still {task['lastStatus']} after {wait_seconds:.0f} s"
        (sleep or time.sleep)(POLL_SECONDS)
        waited += POLL_SECONDS
    container: dict[str, Any] = next(
        (c for c in task.get("containers", []) if c["name"] == properties["Container"]), {}
    )
    exit_code = container.get("exitCode")
    if exit_code == 0:
        return True, f"the database users are in place (task {task_id})"
    reason = container.get("reason") or task.get("stoppedReason", "")
    return False, f"the bootstrap task {task_id} exited {exit_code} ({reason}); see {where}"


def handler(event: dict[str, Any], context: Any, ecs: Any = None) -> None:
    if event["RequestType"] == "Delete":
        respond(event, "SUCCESS", "the database keeps its users")
        return
    try:
        succeeded, message = run_bootstrap(event["ResourceProperties"], ecs or boto3.client("ecs"))
    except Exception as error:  # report every failure to CloudFormation instead of letting it wait
        respond(event, "FAILED", f"could not run the bootstrap task: {error}")
        return
    respond(event, "SUCCESS" if succeeded else "FAILED", message)
