"""The release state machine's definition, a pure function of the spec and the names of what
it acts on; no CDK. Tests build it with plain names and execute it; the construct builds it
with the stacks' tokens and adds the role, logs and tracing.

Input: ``{"imageTag": "<tag>"}``. The flow:

1. the tag is checked with the spec's rule, and the compute stack's released tags are read;
2. each service's image with that tag is looked up in ECR and marked ``release-<time>``
   (the repositories' lifecycle keeps the newest marked images: what runs never expires);
3. migrations run on the new image (``runTask.sync`` on a revision registered for the run);
4. the services are released by one CloudFormation update of the compute stack: the previous
   template, the new tag in each service's ``<Service>ImageTag`` parameter, every other
   parameter kept, the bootstrap's CloudFormation execution role. ECS's circuit breaker and
   CloudFormation's own roll-back apply; the release waits for the update to finish;
5. each service's deployment of the revision the stack now names must be PRIMARY and
   COMPLETED (never "whatever deployment is PRIMARY": a circuit-breaker roll-back is PRIMARY
   and COMPLETED too);
6. smoke tests run on the new image;
7. a failure after the services were touched puts the previous tags back the same way
   (only services whose tag changed are redeployed) and waits until restored. Any failure
   is published to the alarm topic, naming the tag and the step, and the execution fails
   as ``DeploymentFailed.<step>``.

Step Functions gives ``Arguments`` only ``$states.input`` and ``$states.context``;
``$states.result`` exists in a Task's ``Output`` and ``Assign``, ``$states.errorOutput`` in a
``Catch`` (developer guide, "Passing data between states with variables"). Anything read
from a result is therefore assigned to a variable first.

The inputs are in ``release.targets`` and the generic pieces (SDK calls, failure notes) in
``release.states``; the flow stays in this one file because its states name each other.
"""

from __future__ import annotations

import json
from typing import Any

from platform_spec import PlatformSpec
from platform_spec.checks import IMAGE_TAG_PATTERN
from platform_spec.names import RELEASE_TAG_PREFIX, SERVICE_ARN, TASK_DEFINITION_ARN, image_tag_parameter, output_key
from release.states import (
    AWS_CALL_TIMEOUT_SECONDS,
    TRANSIENT_RETRY,
    State,
    aws_call,
    catch,
    jsonata,
    jsonata_list,
    note,
)
from release.targets import OneOffRun, ReleaseTargets

# The spec's tag rule, as a JSONata regular expression (the same syntax between the slashes).
TAG_RULE = f"/{IMAGE_TAG_PATTERN.pattern}/"
# What the CDK CLI acknowledges when it deploys; the release updates the same stack.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
STABLE_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
NO_UPDATES = "No updates are to be performed"


class _Builder:
    def __init__(self, spec: PlatformSpec, targets: ReleaseTargets) -> None:
        self.spec = spec
        self.targets = targets
        delivery = spec.delivery
        self.poll_seconds = delivery.rollout_poll_seconds
        self.max_polls = delivery.rollout_max_polls
        self.task_timeout = delivery.task_timeout_minutes * 60
        self.tag_keys = [image_tag_parameter(s.name) for s in spec.services]

    # --- the compute stack -------------------------------------------------------------------

    def describe_stack(self, **fields: Any) -> State:
        """Read the compute stack; transient API errors are retried."""
        return aws_call(
            "cloudformation:describeStacks",
            {"StackName": self.targets.compute_stack},
            Retry=TRANSIENT_RETRY,
            **fields,
        )

    def update_stack(self, tag_value: str, token_suffix: str, **fields: Any) -> State:
        """Update the compute stack: previous template, tag parameters set, the rest kept."""
        parameters = jsonata(
            "$append([], $map($stack.Parameters, function($p) {"
            f" $p.ParameterKey in {jsonata_list(self.tag_keys)}"
            f" ? {{'ParameterKey': $p.ParameterKey, 'ParameterValue': {tag_value}}}"
            " : {'ParameterKey': $p.ParameterKey, 'UsePreviousValue': true} }))"
        )
        return aws_call(
            "cloudformation:updateStack",
            {
                "StackName": self.targets.compute_stack,
                "UsePreviousTemplate": True,
                "Parameters": parameters,
                "Capabilities": list(CAPABILITIES),
                "RoleARN": self.targets.cfn_execution_role_arn,
                "ClientRequestToken": jsonata(f"$releaseTag & '-{token_suffix}'"),
            },
            **fields,
        )

    # --- the flow -----------------------------------------------------------------------------

    def definition(self) -> State:
        spec = self.spec
        return {
            "Comment": f"Release an image tag to {spec.stack_prefix}: migrations, services through "
            "CloudFormation, smoke tests; back to the previous tags on failure",
            "QueryLanguage": "JSONata",
            "TimeoutSeconds": spec.delivery.release_timeout_minutes * 60,
            "StartAt": "Start",
            "States": {
                **self.start(),
                **self.mark_images(),
                **self.one_off(self.targets.migrations, on_failure="NotifyFailure", next_state="ReleaseServices"),
                **self.release(),
                **self.verify(),
                **self.one_off(self.targets.smoke_tests, on_failure="RollBack", next_state="Released"),
                "Released": {
                    "Type": "Succeed",
                    "Output": jsonata("{'imageTag': $imageTag, 'releaseTag': $releaseTag}"),
                },
                **self.roll_back(),
                **self.notify(),
            },
        }

    def start(self) -> dict[str, State]:
        return {
            "Start": {
                "Type": "Pass",
                # Every variable the failure path reads exists from here on.
                "Assign": {
                    "imageTag": jsonata("$type($states.input.imageTag) = 'string' ? $states.input.imageTag : '(none)'"),
                    "releaseTag": jsonata(
                        f"'{RELEASE_TAG_PREFIX}' & $replace($states.context.Execution.StartTime, /[^0-9A-Za-z]/, '')"
                    ),
                    "failedStep": "Start",
                    "failure": "no failure",
                    "restored": "nothing was changed",
                    "polls": 0,
                },
                "Next": "CheckTag",
            },
            "CheckTag": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": jsonata(
                            "$type($states.input.imageTag) = 'string'"
                            f" and $contains($states.input.imageTag, {TAG_RULE})"
                        ),
                        "Next": "ReadReleasedTags",
                    }
                ],
                "Default": "InvalidTag",
            },
            "InvalidTag": {
                "Type": "Fail",
                "Error": "InvalidInput",
                "Cause": jsonata(
                    '\'Start the execution with {"imageTag": "<tag>"}, a tag of 1-128 letters, digits, \''
                    " & \"'_', '.' or '-', not starting with '.' or '-' (got \" & $string($states.input.imageTag) & ')'"
                ),
            },
            "ReadReleasedTags": self.describe_stack(
                Assign={
                    "stack": jsonata("$states.result.Stacks[0]"),
                    "previousTags": jsonata(
                        f"$states.result.Stacks[0].Parameters[ParameterKey in {jsonata_list(self.tag_keys)}]"
                        "{ParameterKey: ParameterValue}"
                    ),
                },
                Catch=[catch("ReadReleasedTags", "NotifyFailure")],
                Next="StackReady",
            ),
            "StackReady": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": jsonata(f"$stack.StackStatus in {jsonata_list(STABLE_STATUSES)}"),
                        "Next": "MarkImages",
                    }
                ],
                "Default": "StackBusy",
            },
            "StackBusy": note(
                "ReadReleasedTags",
                f"'{self.targets.compute_stack} is ' & $stack.StackStatus & ': another update is under way'",
                "NotifyFailure",
            ),
        }

    def mark_images(self) -> dict[str, State]:
        """Each service's image is looked up and given the release's tag; a missing image
        ends the release before anything is touched."""
        return {
            "MarkImages": {
                "Type": "Map",
                "Items": [{"repository": name} for _, name in sorted(self.targets.repositories.items())],
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "GetImage",
                    "States": {
                        "GetImage": aws_call(
                            "ecr:batchGetImage",
                            {
                                "RepositoryName": jsonata("$states.input.repository"),
                                "ImageIds": [{"ImageTag": jsonata("$imageTag")}],
                            },
                            Output=jsonata(
                                "{'repository': $states.input.repository, 'image': $states.result.Images[0]}"
                            ),
                            Next="ImageFound",
                        ),
                        "ImageFound": {
                            "Type": "Choice",
                            "Choices": [
                                {"Condition": jsonata("$exists($states.input.image.ImageManifest)"), "Next": "TagImage"}
                            ],
                            "Default": "ImageMissing",
                        },
                        "ImageMissing": {
                            "Type": "Fail",
                            "Error": "ImageMissing",
                            "Cause": jsonata("$states.input.repository & ':' & $imageTag & ' is not in ECR'"),
                        },
                        "TagImage": aws_call(
                            "ecr:putImage",
                            {
                                "RepositoryName": jsonata("$states.input.repository"),
                                "ImageManifest": jsonata("$states.input.image.ImageManifest"),
                                "ImageManifestMediaType": jsonata("$states.input.image.ImageManifestMediaType"),
                                "ImageTag": jsonata("$releaseTag"),
                            },
                            End=True,
                        ),
                    },
                },
                "Catch": [catch("MarkImages", "NotifyFailure")],
                "Next": f"Describe{self.targets.migrations.step}",
            }
        }

    def one_off(self, run: OneOffRun, *, on_failure: str, next_state: str) -> dict[str, State]:
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
                    "Cluster": self.targets.cluster_arn,
                    "TaskDefinition": jsonata(f"${registered}"),
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": list(self.targets.subnets),
                            "SecurityGroups": [run.security_group_id],
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                },
                "TimeoutSeconds": self.task_timeout,
                "Catch": [catch(f"Run{run.step}", on_failure)],
                "Next": next_state,
            },
        }

    def release(self) -> dict[str, State]:
        polls_exhausted = f"$polls >= {self.max_polls}"
        return {
            "ReleaseServices": self.update_stack(
                "$imageTag",
                "release",
                Assign={"polls": 0, "restored": "CloudFormation restored the previous tags"},
                Catch=[catch("ReleaseServices", "ReleaseRefused")],
                Next="WaitForRelease",
            ),
            # Every service already runs this tag: nothing to update; the services are still checked.
            "ReleaseRefused": {
                "Type": "Choice",
                "Choices": [{"Condition": jsonata(f"$contains($failure, '{NO_UPDATES}')"), "Next": "ReadOutputs"}],
                "Default": "NotifyFailure",
            },
            "ReadOutputs": self.describe_stack(
                Assign={
                    "outputs": jsonata("$states.result.Stacks[0].Outputs{OutputKey: OutputValue}"),
                    "restored": "nothing was changed",
                },
                Catch=[catch("ReleaseServices", "NotifyFailure")],
                Next="CheckServices",
            ),
            "WaitForRelease": {"Type": "Wait", "Seconds": self.poll_seconds, "Next": "CheckRelease"},
            "CheckRelease": self.describe_stack(
                Assign={
                    "stack": jsonata("$states.result.Stacks[0]"),
                    "outputs": jsonata("$states.result.Stacks[0].Outputs{OutputKey: OutputValue}"),
                    "polls": jsonata("$polls + 1"),
                },
                Catch=[catch("ReleaseServices", "RollBack")],
                Next="ReleaseFinished",
            ),
            "ReleaseFinished": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": jsonata("$stack.StackStatus = 'UPDATE_COMPLETE'"), "Next": "CheckServices"},
                    {
                        "Condition": jsonata("$stack.StackStatus = 'UPDATE_ROLLBACK_COMPLETE'"),
                        "Next": "ReleaseRolledBack",
                    },
                    {"Condition": jsonata("$contains($stack.StackStatus, 'FAILED')"), "Next": "ReleaseStuck"},
                    {"Condition": jsonata(polls_exhausted), "Next": "ReleaseTimedOut"},
                ],
                "Default": "WaitForRelease",
            },
            "ReleaseRolledBack": note(
                "ReleaseServices",
                "'CloudFormation rolled the update back: ' & $string($stack.StackStatusReason)",
                "NotifyFailure",
            ),
            "ReleaseStuck": note(
                "ReleaseServices",
                f"'{self.targets.compute_stack} is ' & $stack.StackStatus & ': ' & $string($stack.StackStatusReason)",
                "NotifyFailure",
                restored="the stack needs an operator (docs/operations.md: Rolling back by hand)",
            ),
            "ReleaseTimedOut": note(
                "ReleaseServices",
                f"'the update did not finish after {self.max_polls} checks, {self.poll_seconds} s apart'",
                "CancelRelease",
            ),
            "CancelRelease": aws_call(
                "cloudformation:cancelUpdateStack",
                {"StackName": self.targets.compute_stack},
                Assign={"polls": 0, "restoredStatus": "UPDATE_ROLLBACK_COMPLETE"},
                Catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"restored": "cancelling the update failed: the stack needs an operator"},
                        "Next": "NotifyFailure",
                    }
                ],
                Next="WaitForRestore",
            ),
        }

    def verify(self) -> dict[str, State]:
        """Each service's deployment of the revision its stack now names: PRIMARY and COMPLETED."""
        services = [
            (output_key(s.name, SERVICE_ARN), output_key(s.name, TASK_DEFINITION_ARN)) for s in self.spec.services
        ]
        service_keys = jsonata_list([arn for arn, _ in services])
        expected = (
            "$merge($append([], $map("
            + json.dumps([list(p) for p in services])
            + (", function($k) { {$lookup($outputs, $k[0]): $lookup($outputs, $k[1])} })))")
        )
        rollouts = jsonata(
            f"($expected := {expected}; $map($states.result.Services, function($s) {{ ("
            " $d := $s.Deployments[TaskDefinition = $lookup($expected, $s.ServiceArn)][0];"
            " {'service': $s.ServiceName, 'state':"
            "   $not($exists($d)) ? 'replaced' :"
            "   $d.RolloutState = 'FAILED' ? 'failed' :"
            "   $d.Status != 'PRIMARY' ? 'replaced' :"
            "   $d.RolloutState = 'COMPLETED' ? 'released' : 'rolling'} ) }))"
        )
        n = len(self.spec.services)
        return {
            "CheckServices": aws_call(
                "ecs:describeServices",
                {
                    "Cluster": self.targets.cluster_arn,
                    "Services": jsonata(f"$append([], $map({service_keys}, function($k) {{ $lookup($outputs, $k) }}))"),
                },
                Assign={"rollouts": rollouts, "polls": jsonata("$polls + 1")},
                Retry=TRANSIENT_RETRY,
                Catch=[catch("CheckServices", "RollBack")],
                Next="ServicesReleased",
            ),
            "ServicesReleased": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": jsonata(f"$count($rollouts[state = 'released']) = {n}"),
                        "Next": f"Describe{self.targets.smoke_tests.step}",
                    },
                    {
                        "Condition": jsonata(
                            f"$count($rollouts[state in ['failed', 'replaced']]) > 0 or $polls >= {self.max_polls}"
                        ),
                        "Next": "NotReleased",
                    },
                ],
                "Default": "WaitForServices",
            },
            "WaitForServices": {"Type": "Wait", "Seconds": self.poll_seconds, "Next": "CheckServices"},
            "NotReleased": note(
                "CheckServices",
                "'not running the released revision: ' & $join($map($rollouts[state != 'released'], "
                "function($r) { $r.service & ' (' & $r.state & ')' }), ', ')",
                "RollBack",
            ),
        }

    def roll_back(self) -> dict[str, State]:
        """The previous tags through the same CloudFormation update; wait until restored."""
        return {
            "RollBack": self.update_stack(
                "$lookup($previousTags, $p.ParameterKey)",
                "restore",
                Assign={"polls": 0, "restoredStatus": "UPDATE_COMPLETE"},
                Catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {
                            "restored": jsonata(
                                f"$contains($states.errorOutput.Cause, '{NO_UPDATES}')"
                                " ? 'the previous tags were still in place'"
                                " : 'putting the previous tags back failed: ' & $states.errorOutput.Cause"
                            )
                        },
                        "Next": "NotifyFailure",
                    }
                ],
                Next="WaitForRestore",
            ),
            "WaitForRestore": {"Type": "Wait", "Seconds": self.poll_seconds, "Next": "CheckRestore"},
            "CheckRestore": self.describe_stack(
                Assign={"stack": jsonata("$states.result.Stacks[0]"), "polls": jsonata("$polls + 1")},
                Catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"restored": "could not follow the restore: check the stack"},
                        "Next": "NotifyFailure",
                    }
                ],
                Next="RestoreFinished",
            ),
            "RestoreFinished": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": jsonata("$stack.StackStatus = $restoredStatus"),
                        "Assign": {"restored": jsonata("'restored the previous tags: ' & $string($previousTags)")},
                        "Next": "NotifyFailure",
                    },
                    {
                        "Condition": jsonata(
                            "$contains($stack.StackStatus, 'FAILED') or ($contains($stack.StackStatus, 'COMPLETE')"
                            " and $not($contains($stack.StackStatus, 'IN_PROGRESS')))"
                        ),
                        "Assign": {
                            "restored": jsonata(
                                "'restoring the previous tags failed: ' & $stack.StackStatus & ' '"
                                " & $string($stack.StackStatusReason)"
                            )
                        },
                        "Next": "NotifyFailure",
                    },
                    {
                        "Condition": jsonata(f"$polls >= {self.max_polls}"),
                        "Assign": {"restored": "the restore did not finish in time: check the stack"},
                        "Next": "NotifyFailure",
                    },
                ],
                "Default": "WaitForRestore",
            },
        }

    def notify(self) -> dict[str, State]:
        return {
            "NotifyFailure": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Arguments": {
                    "TopicArn": self.targets.topic_arn,
                    "Subject": jsonata(
                        f"$substring('{self.spec.stack_prefix}: release failed at ' & $failedStep, 0, 100)"
                    ),
                    "Message": jsonata(
                        f"'Release of ' & $imageTag & ' to {self.spec.stack_prefix} failed at ' & $failedStep"
                        " & ': ' & $failure & '. ' & $restored & '.'"
                    ),
                },
                "TimeoutSeconds": AWS_CALL_TIMEOUT_SECONDS,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "DeploymentFailed"}],
                "Next": "DeploymentFailed",
            },
            "DeploymentFailed": {
                "Type": "Fail",
                "Error": jsonata("'DeploymentFailed.' & $failedStep"),
                "Cause": jsonata(
                    "'Release of ' & $imageTag & ' failed at ' & $failedStep & ': ' & $failure & '. ' & $restored"
                ),
            },
        }


def release_definition(spec: PlatformSpec, targets: ReleaseTargets) -> dict[str, Any]:
    """The Amazon States Language definition of the release, as a dict."""
    return _Builder(spec, targets).definition()
