"""The failure path's ends: where every failure goes first, and the notice published to the
alarm topic (the tag, the step, what went wrong, what was restored, the tag each service runs
now, whether an operator must act) before the execution fails as ``DeploymentFailed.<step>``."""

from __future__ import annotations

import json

from layers.release.states import AWS_CALL_TIMEOUT_SECONDS, ReleaseContext, State, jsonata
from platform_spec.names import image_tag_parameter


def release_failed() -> dict[str, State]:
    """``ReleaseFailed``, where every failure goes: the marks are tidied first when any were
    made (``TidyMarks``), then the notice."""
    return {
        "ReleaseFailed": {
            "Type": "Choice",
            "Choices": [{"Condition": jsonata("$marked"), "Next": "TidyMarks"}],
            "Default": "NotifyFailure",
        }
    }


def running(release: ReleaseContext) -> str:
    """What the notice says runs: each service and its tag, or why that is unknown."""
    pairs = json.dumps([[image_tag_parameter(s.name), s.name] for s in release.spec.services])
    return (
        f"($type($runs) = 'object' ? $join($map({pairs}, function($p) {{"
        " $p[1] & ' ' & $string($lookup($runs, $p[0])) }), ', ') : $string($runs))"
    )


def failure_notice(release: ReleaseContext) -> dict[str, State]:
    """``NotifyFailure`` publishes the notice (a failed publish still fails the execution),
    and ``DeploymentFailed`` ends the execution with the same summary."""
    prefix = release.spec.stack_prefix
    summary = (
        f"$failure & '. ' & $restored & '. Now running: ' & {running(release)} & '. ' & $operator & '.'"
        " & ($type($marksNote) = 'string' ? ' ' & $marksNote & '.' : '')"
    )
    return {
        "NotifyFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Arguments": {
                "TopicArn": release.targets.topic_arn,
                "Subject": jsonata(f"$substring('{prefix}: release failed at ' & $failedStep, 0, 100)"),
                "Message": jsonata(
                    f"'Release of ' & $imageTag & ' to {prefix} failed at ' & $failedStep & ': ' & {summary}"
                ),
            },
            "TimeoutSeconds": AWS_CALL_TIMEOUT_SECONDS,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "DeploymentFailed"}],
            "Next": "DeploymentFailed",
        },
        "DeploymentFailed": {
            "Type": "Fail",
            "Error": jsonata("'DeploymentFailed.' & $failedStep"),
            "Cause": jsonata(f"'Release of ' & $imageTag & ' failed at ' & $failedStep & ': ' & {summary}"),
        },
    }
