"""Amazon States Language pieces the release is built from: JSONata expressions, AWS SDK
calls with a timeout, the failure bookkeeping every step shares (``failedStep`` and
``failure``, which the notification reads), the assembly of the phases' states, and
``ReleaseContext``: what every phase reads (the spec's budget, the compute stack's calls and
what a failure notice says about them)."""

from __future__ import annotations

import json
from typing import Any

from layers.release.targets import ReleaseTargets
from platform_spec import PlatformSpec
from platform_spec.names import image_tag_parameter

State = dict[str, Any]
AWS_CALL_TIMEOUT_SECONDS = 60
TRANSIENT_RETRY = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}]
"""For reads, which change nothing: throttling and brief API errors are retried."""
UPDATE_ATTEMPTS = 4
"""Calls of one UpdateStack, the first included, while CloudFormation answers with a
throttling or transient error."""
TRANSIENT_ERROR = (
    "/^States\\.Timeout|Rate exceeded|Throttl|ServiceUnavailable|InternalFailure|Status Code: 5[0-9][0-9]"
    "|Unable to execute HTTP request/"
)
"""What a throttled or transient failure of an SDK call says, as a JSONata regular expression
over ``Error: Cause``. Step Functions names every CloudFormation error it has no class for
``CloudFormation.CloudFormationException``, throttling (``Rate exceeded``) and validation
(``No updates are to be performed``) alike, so a Retry, which matches names only, cannot
tell them apart: the release matches the cause instead."""
# What the CDK CLI acknowledges when it deploys; the release updates the same stack.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
NO_UPDATES = "No updates are to be performed"
NO_ACTION = "No operator action is needed"
ROLL_BACK_BY_HAND = "(docs/operations.md: Rolling back by hand)"


def jsonata(expression: str) -> str:
    """A field's value as a JSONata expression (the machine's query language is JSONata)."""
    return "{% " + expression + " %}"


def jsonata_list(values: list[str] | tuple[str, ...]) -> str:
    """A JSONata array literal of strings."""
    return json.dumps(list(values))


ERROR_TEXT = "$states.errorOutput.Error & ': ' & $substring($states.errorOutput.Cause, 0, 1500)"
"""What went wrong, in a catcher: the error's name and the start of its cause."""


def catch(step: str, next_state: str) -> State:
    """On any error: remember the step and what went wrong, go to ``next_state``."""
    return {
        "ErrorEquals": ["States.ALL"],
        "Assign": {"failedStep": step, "failure": jsonata(ERROR_TEXT)},
        "Next": next_state,
    }


def aws_call(resource: str, arguments: Any, **fields: Any) -> State:
    """A Task calling an AWS API through the SDK integration (``ecs:describeServices``); its
    answer is in PascalCase. A call that hangs fails the step instead of the whole release."""
    return {
        "Type": "Task",
        "Resource": f"arn:aws:states:::aws-sdk:{resource}",
        "Arguments": arguments,
        "TimeoutSeconds": AWS_CALL_TIMEOUT_SECONDS,
        **fields,
    }


def note(step: str, failure: str, next_state: str, **assign: str) -> State:
    """A Pass state that records a failure found by looking (not by an error)."""
    return {
        "Type": "Pass",
        "Assign": {"failedStep": step, "failure": jsonata(failure), **assign},
        "Next": next_state,
    }


def first_failure(fallback: str) -> str:
    """The first ``*_FAILED`` event of the update that ``$updateToken`` started, from a
    describeStackEvents answer (newest first, so the last match): its resource and reason.
    Events carry the token of the operation that caused them (CloudFormation API reference,
    UpdateStack, ClientRequestToken); an event without one counts when it came after the
    update began. ``fallback`` when none is on the first page (100 events, more than an
    update of the compute stack and its roll-back write)."""
    return (
        "($mine := $states.result.StackEvents[$contains(ResourceStatus, /_FAILED$/) and ("
        "ClientRequestToken = $updateToken or ($not($exists(ClientRequestToken))"
        " and $toMillis(Timestamp) >= $toMillis($updateStarted)))];"
        " $first := $mine[-1];"
        f" $exists($first) ? $first.LogicalResourceId & ': ' & $string($first.ResourceStatusReason) : {fallback})"
    )


def merge_states(*parts: tuple[str, dict[str, State]]) -> dict[str, State]:
    """The parts' states as one ``States`` map, in order; each part is ``(source, states)``,
    ``source`` saying where its states come from (a phase, a helper) for the error. States name
    each other, so two states of one name would leave one part routing into another's: a
    ``**`` merge would keep the later silently, this refuses it, naming the state and both sources."""
    states: dict[str, State] = {}
    sources: dict[str, str] = {}
    for source, part in parts:
        for name, state in part.items():
            if name in states:
                raise ValueError(f"two release states are named {name!r}: one from {sources[name]}, one from {source}")
            states[name] = state
            sources[name] = source
    return states


class ReleaseContext:
    """What every phase of the release reads: the spec, the targets, the spec's budget, the
    compute stack's calls, and what a failure notice says about the stack."""

    def __init__(self, spec: PlatformSpec, targets: ReleaseTargets) -> None:
        self.spec = spec
        self.targets = targets
        delivery = spec.delivery
        self.poll_seconds = delivery.rollout_poll_seconds
        # The spec's budget: checks of one update (the release, the stack settling, the
        # restore), and the whole release's timeout.
        self.max_polls = spec.update_polls
        self.task_timeout = delivery.task_timeout_minutes * 60
        self.tag_keys = [image_tag_parameter(s.name) for s in spec.services]
        keys = jsonata_list(self.tag_keys)
        # The tags the stack read last names, by parameter key.
        self.stack_tags = f"$stack.Parameters[ParameterKey in {keys}]{{ParameterKey: ParameterValue}}"
        # What CloudFormation says went wrong, until the stack events say better.
        self.no_reason = (
            "$exists($stack.StackStatusReason) and $stack.StackStatusReason != ''"
            " ? $stack.StackStatusReason : 'CloudFormation gave no reason'"
        )
        self.unknown = (
            f"'unknown: {targets.compute_stack} is ' & $stack.StackStatus & ', so each service runs '"
            " & $imageTag & ' or its previous tag'"
        )

    def update_failed(self, next_state: str) -> dict[str, Any]:
        """The choice that sends a stack whose update failed, or was rolled back, to ``next_state``
        with CloudFormation's reason as the cause (the stack events may tell it better)."""
        return {
            "Condition": jsonata(
                "$stack.StackStatus = 'UPDATE_ROLLBACK_COMPLETE' or $contains($stack.StackStatus, 'FAILED')"
            ),
            "Assign": {"cause": jsonata(self.no_reason)},
            "Next": next_state,
        }

    def describe_stack(self, **fields: Any) -> State:
        """Read the compute stack; transient API errors are retried."""
        return aws_call(
            "cloudformation:describeStacks",
            {"StackName": self.targets.compute_stack},
            Retry=TRANSIENT_RETRY,
            **fields,
        )

    def follow(self, wait: str, check: str, *, then: str, on_error: State, outputs: bool = False) -> dict[str, State]:
        """Wait a poll, then read the compute stack into ``$stack`` (its outputs too, with
        ``outputs``) and count the poll; go on to ``then``, or by ``on_error`` when it cannot be read."""
        assign = {"stack": jsonata("$states.result.Stacks[0]")}
        if outputs:
            assign["outputs"] = jsonata("$states.result.Stacks[0].Outputs{OutputKey: OutputValue}")
        assign["polls"] = jsonata("$polls + 1")
        return {
            wait: {"Type": "Wait", "Seconds": self.poll_seconds, "Next": check},
            check: self.describe_stack(Assign=assign, Catch=[on_error], Next=then),
        }

    def update_stack(self, tag_value: str, token_suffix: str, **fields: Any) -> State:
        """Update the compute stack: previous template, tag parameters set, the rest kept.

        "Specify this token if you plan to retry requests so that CloudFormation knows that
        you're not attempting to update a stack with the same name. You might retry
        UpdateStack requests to ensure that CloudFormation successfully received them."
        (CloudFormation API reference, UpdateStack, ClientRequestToken:
        https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html).
        Every attempt of one update sends the same token, so a resent call is that update."""
        parameters = jsonata(
            "$append([], $map($stack.Parameters, function($p) {"
            f" $p.ParameterKey in {jsonata_list(self.tag_keys)}"
            f" ? {{'ParameterKey': $p.ParameterKey, 'ParameterValue': {tag_value}}}"
            " : {'ParameterKey': $p.ParameterKey, 'UsePreviousValue': true} }))"
        )
        token = f"$releaseTag & '-{token_suffix}'"
        return aws_call(
            "cloudformation:updateStack",
            {
                "StackName": self.targets.compute_stack,
                "UsePreviousTemplate": True,
                "Parameters": parameters,
                "Capabilities": list(CAPABILITIES),
                "RoleARN": self.targets.stack_role_arn,
                "ClientRequestToken": jsonata(token),
            },
            # Which events are this update's: its token, or (without one) their time.
            Assign={
                "polls": 0,
                "updateToken": jsonata(token),
                "updateStarted": jsonata("$states.context.State.EnteredTime"),
            },
            **fields,
        )

    def refused(self, error: str, attempts: str, token_suffix: str, **routes: str) -> State:
        """After an UpdateStack error: nothing to update, already received (its token exists),
        throttled or transient (sent again while attempts remain), else ``routes["Default"]``."""
        token = jsonata(f"$releaseTag & '-{token_suffix}'")
        transient = f"$contains({error}, {TRANSIENT_ERROR})"
        choices: list[State] = [
            {"Condition": jsonata(f"$contains({error}, '{NO_UPDATES}')"), "Next": routes["NoUpdates"]},
            {
                "Condition": jsonata(f"$contains({error}, 'TokenAlreadyExists')"),
                "Assign": {"polls": 0, "updateToken": token},
                "Next": routes["Received"],
            },
            {
                "Condition": jsonata(f"{transient} and ${attempts} < {UPDATE_ATTEMPTS - 1}"),
                "Assign": {attempts: jsonata(f"${attempts} + 1")},
                "Next": routes["Again"],
            },
        ]
        if "OutOfAttempts" in routes:
            choices.append(
                {"Condition": jsonata(transient), "Assign": {"updateToken": token}, "Next": routes["OutOfAttempts"]}
            )
        return {"Type": "Choice", "Choices": choices, "Default": routes["Default"]}

    def why_failed(self, next_state: str) -> State:
        """The stack events' first failure of the update, into ``$cause`` (``StackStatusReason``
        may be empty); the reason CloudFormation gives stays there when the events cannot be read."""
        return aws_call(
            "cloudformation:describeStackEvents",
            {"StackName": self.targets.compute_stack},
            Retry=TRANSIENT_RETRY,
            Assign={"cause": jsonata(first_failure("$cause"))},
            Catch=[{"ErrorEquals": ["States.ALL"], "Next": next_state}],
            Next=next_state,
        )

    def outcome(self, restored: str, runs: str, operator: str, next_state: str = "ReleaseFailed") -> State:
        """What the notice reports besides the failure: what was restored, what runs, and
        whether an operator must act (JSONata expressions)."""
        return {
            "Type": "Pass",
            "Assign": {"restored": jsonata(restored), "runs": jsonata(runs), "operator": jsonata(operator)},
            "Next": next_state,
        }

    def stuck(self) -> str:
        """What the notice asks of an operator when the stack ended failed, not rolled back:
        its status, and where rolling back by hand is described."""
        stack = self.targets.compute_stack
        return f"'An operator must act: {stack} is ' & $stack.StackStatus & ' {ROLL_BACK_BY_HAND}'"
