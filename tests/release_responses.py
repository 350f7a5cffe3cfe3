"""AWS answers a release meets, in the shapes the Step Functions integrations return them
(PascalCase), for the tests that execute the release state machine (tests/release_world.py
puts them together). Nothing here names a service: the world reads names off the spec and
the definition under test."""

from __future__ import annotations

import json
from typing import Any

from platform_spec.names import RELEASE_TAG_PREFIX
from tests.stepfunctions.runner import Response, error, result

ACCOUNT = "111122223333"
OLDER, PREVIOUS, NEW = "sha-0000000", "sha-1111111", "sha-2222222"
STARTED = "2026-11-24T10:15:00.123Z"
SDK = "arn:aws:states:::aws-sdk:"
DESCRIBE_STACKS = f"{SDK}cloudformation:describeStacks"
DESCRIBE_EVENTS = f"{SDK}cloudformation:describeStackEvents"
UPDATE_STACK = f"{SDK}cloudformation:updateStack"
CANCEL_UPDATE = f"{SDK}cloudformation:cancelUpdateStack"
DESCRIBE_SERVICES = f"{SDK}ecs:describeServices"
DESCRIBE_TASK_DEFINITION = f"{SDK}ecs:describeTaskDefinition"
REGISTER_TASK_DEFINITION = f"{SDK}ecs:registerTaskDefinition"
GET_IMAGE = f"{SDK}ecr:batchGetImage"
PUT_IMAGE = f"{SDK}ecr:putImage"
LIST_IMAGES = f"{SDK}ecr:listImages"
DELETE_IMAGES = f"{SDK}ecr:batchDeleteImage"
DESCRIBE_DB_INSTANCES = f"{SDK}rds:describeDBInstances"
RUN_TASK = "arn:aws:states:::ecs:runTask.sync"
PUBLISH = "arn:aws:states:::sns:publish"
RELEASE_TAG = f"{RELEASE_TAG_PREFIX}20261124T101500123Z"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# One repository's tags before the release, by image: the release's image (with the mark
# MarkImages puts on it), what runs (marked when it was released, and once before), the
# previous release's roll-back target, and a build an interrupted release marked.
MARKS_OF = {
    "new": [NEW, RELEASE_TAG],
    "previous": [PREVIOUS, f"{RELEASE_TAG_PREFIX}20261120T090000000Z", f"{RELEASE_TAG_PREFIX}20261001T090000000Z"],
    "older": [OLDER, f"{RELEASE_TAG_PREFIX}20261101T090000000Z"],
    "interrupted": ["sha-3333333", f"{RELEASE_TAG_PREFIX}20261122T090000000Z"],
}
MARKS = {t for tags in MARKS_OF.values() for t in tags if t.startswith(RELEASE_TAG_PREFIX)}
# Keeping only what runs and what a roll-back returns to removes, after a release that changed
# the tag, all but the release's own mark and the newest on the previous image; after a
# failure that left the previous tag running, the release's mark and the interrupted one.
REMOVED_AFTER_CHANGE = MARKS - {RELEASE_TAG, MARKS_OF["previous"][1]}
REMOVED_AFTER_FAILURE = {RELEASE_TAG, MARKS_OF["interrupted"][1]}


def digest(image: str) -> str:
    return "sha256:" + (image.encode().hex() * 8)[:64]


def listing(pages: int = 1) -> list[Response]:
    """listImages (tagged) of one repository, split into ``pages`` pages."""
    ids = [{"ImageDigest": digest(image), "ImageTag": tag} for image, tags in MARKS_OF.items() for tag in tags]
    size = -(-len(ids) // pages)
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    return [
        result({"ImageIds": chunk, **({"NextToken": f"page-{n + 2}"} if n + 1 < len(chunks) else {})})
        for n, chunk in enumerate(chunks)
    ]


def image(repository: str, media_type: str = OCI_INDEX) -> Response:
    """batchGetImage of the new tag, found as a manifest of ``media_type``."""
    manifest = {"schemaVersion": 2, "mediaType": media_type, "manifests" if "index" in media_type else "layers": []}
    found = {
        "RegistryId": ACCOUNT,
        "RepositoryName": repository,
        "ImageId": {"ImageDigest": digest("new"), "ImageTag": NEW},
        "ImageManifest": json.dumps(manifest, separators=(",", ":")),
        "ImageManifestMediaType": media_type,
    }
    return result({"Images": [found], "Failures": []})


def image_not_found() -> Response:
    failure = {
        "ImageId": {"ImageTag": NEW},
        "FailureCode": "ImageNotFound",
        "FailureReason": "Requested image not found",
    }
    return result({"Images": [], "Failures": [failure]})


def deployment(task_definition: str, status: str, rollout: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "Id": f"ecs-svc/{abs(hash((task_definition, status))) % 10**18}",
        "Status": status,
        "TaskDefinition": task_definition,
        "DesiredCount": 1,
        "RunningCount": 1,
        "RolloutState": rollout,
        "RolloutStateReason": reason or f"ECS deployment {rollout.lower()}.",
        "CreatedAt": "2026-11-24T10:20:00.000Z",
        "UpdatedAt": "2026-11-24T10:25:00.000Z",
    }


def stack_id(region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/8e1f6a70-c9c3-11ef-9c2f"


def stack_event(
    region: str, stack_name: str, logical_id: str, status: str, reason: str, token: str | None, time: str
) -> Any:
    event: dict[str, Any] = {
        "StackId": stack_id(region, stack_name),
        "EventId": f"{logical_id}-{status}-{time}",
        "StackName": stack_name,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": f"{logical_id}-physical",
        "ResourceType": "AWS::ECS::Service" if logical_id != stack_name else "AWS::CloudFormation::Stack",
        "Timestamp": time,
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    if token is not None:
        event["ClientRequestToken"] = token
    return event


def stack_description(
    region: str, name: str, status: str, parameters: Any, outputs: Any, reason: str | None
) -> Response:
    """describeStacks of one stack, in ``region``."""
    stack: dict[str, Any] = {
        "StackId": stack_id(region, name),
        "StackName": name,
        "Parameters": parameters,
        "CreationTime": "2026-10-01T09:00:00.000Z",
        "LastUpdatedTime": "2026-11-20T09:00:00.000Z",
        "StackStatus": status,
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Outputs": outputs,
        "Tags": [],
        "EnableTerminationProtection": False,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    if reason is not None:
        stack["StackStatusReason"] = reason
    return result({"Stacks": [stack]})


def stack_events(region: str, name: str, token: str | None, failures: Any) -> Response:
    """describeStackEvents (newest first): an earlier deploy's failure, then an update's events
    (with ``token``, or none), ``failures`` (logical id, reason) in order, and its roll-back."""
    oldest = [
        stack_event(
            region, name, "EarlierDeploy", "UPDATE_FAILED", "an earlier deploy", "Console-1", "2026-11-20T09:05:00Z"
        ),
        stack_event(region, name, name, "UPDATE_IN_PROGRESS", "User Initiated", token, "2026-11-24T10:20:00.000Z"),
        *(
            stack_event(region, name, logical, "UPDATE_FAILED", reason, token, f"2026-11-24T10:3{n}:00.000Z")
            for n, (logical, reason) in enumerate(failures)
        ),
        stack_event(region, name, name, "UPDATE_ROLLBACK_IN_PROGRESS", "", token, "2026-11-24T10:40:00.000Z"),
        stack_event(region, name, name, "UPDATE_ROLLBACK_COMPLETE", "", token, "2026-11-24T10:50:00.000Z"),
    ]
    return result({"StackEvents": oldest[::-1]})


def task_definition(run: dict[str, str], step: str, arn: str, revision: int) -> Response:
    container = run["container"]
    image_ = f"{run['repository_uri']}:initial"
    return result(
        {
            "TaskDefinition": {
                "TaskDefinitionArn": arn,
                "Family": arn.rsplit("/", 1)[-1].split(":", maxsplit=1)[0],
                "TaskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{step}TaskRole",
                "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{step}ExecutionRole",
                "NetworkMode": "awsvpc",
                "Revision": revision,
                "Volumes": [{"Name": f"{container}-tmp", "Host": {}}],
                "Status": "ACTIVE",
                "RequiresAttributes": [{"Name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
                "PlacementConstraints": [],
                "Compatibilities": ["EC2", "FARGATE"],
                "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
                "RequiresCompatibilities": ["FARGATE"],
                "Cpu": "256",
                "Memory": "512",
                "RegisteredAt": "2026-11-01T09:00:00.000Z",
                "ContainerDefinitions": [
                    {
                        "Name": container,
                        "Image": image_,
                        "Essential": True,
                        "User": "1000:1000",
                        "ReadonlyRootFilesystem": True,
                        "Environment": [{"Name": "HOME", "Value": "/tmp"}],
                        "MountPoints": [{"ContainerPath": "/tmp", "SourceVolume": f"{container}-tmp"}],
                        "DependsOn": [{"ContainerName": "volume-owner", "Condition": "SUCCESS"}],
                    },
                    {
                        # The task's own image hands /tmp over (WorkloadContainers).
                        "Name": "volume-owner",
                        "Image": image_,
                        "Essential": False,
                        "User": "0:0",
                        "EntryPoint": ["sh", "-c"],
                        "Command": [f"set -eu; chown 1000:1000 /volumes/{container}-tmp"],
                    },
                    {
                        # Any container on another image keeps it.
                        "Name": "sidecar",
                        "Image": "public.ecr.aws/docker/library/busybox:1.37.0",
                        "Essential": False,
                    },
                ],
            },
            "Tags": [],
        }
    )


def task(cluster: str, container: str, exit_code: int) -> Response:
    stopped = {
        # In the cluster's region and account (arn:aws:ecs:<region>:<account>:cluster/<name>).
        "TaskArn": f"{cluster.rsplit(':', 1)[0]}:task/{cluster.rsplit('/', 1)[-1]}/0a1b2c3d4e",
        "ClusterArn": cluster,
        "LastStatus": "STOPPED",
        "DesiredStatus": "STOPPED",
        "StopCode": "EssentialContainerExited",
        "StoppedReason": "Essential container in task exited",
        "Containers": [
            {"Name": container, "ExitCode": exit_code, "LastStatus": "STOPPED"},
            {"Name": "volume-owner", "ExitCode": 0, "LastStatus": "STOPPED"},
        ],
    }
    if exit_code == 0:
        return result(stopped)
    return error("States.TaskFailed", json.dumps(stopped))


def throttled(service: str = "CloudFormation") -> Response:
    """What Step Functions reports for a throttled SDK call: the service's generic exception."""
    return error(
        f"{service}.{service}Exception",
        f"Rate exceeded (Service: {service}, Status Code: 400, Request ID: 4f1c1f7e-0000-4000-8000-000000000000)",
    )


def db_instance(region: str, identifier: str, status: str) -> Response:
    """describeDBInstances of one instance in ``region``, in ``status`` (``available``, ``stopped``...)."""
    instance = {
        "DbInstanceIdentifier": identifier,
        "DbInstanceArn": f"arn:aws:rds:{region}:{ACCOUNT}:db:{identifier}",
        "DbInstanceClass": "db.t4g.micro",
        "Engine": "postgres",
        "DbInstanceStatus": status,
        "MultiAZ": False,
        "StorageEncrypted": True,
    }
    return result({"DbInstances": [instance]})


def db_instance_not_found(identifier: str) -> Response:
    """What Step Functions reports when the instance does not exist."""
    return error(
        "Rds.DbInstanceNotFoundException",
        f"DBInstance {identifier} not found. (Service: Rds, Status Code: 404,"
        " Request ID: 6e1a2b3c-0000-4000-8000-000000000000)",
    )
