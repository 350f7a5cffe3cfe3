"""Amazon States Language pieces the release is built from: JSONata expressions, AWS SDK
calls with a timeout, and the failure bookkeeping every step shares (``failedStep`` and
``failure``, which the notification reads)."""

from __future__ import annotations

import json
from typing import Any

State = dict[str, Any]
AWS_CALL_TIMEOUT_SECONDS = 60
TRANSIENT_RETRY = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}]
"""For reads, which change nothing: throttling and brief API errors are retried."""


def jsonata(expression: str) -> str:
    """A field's value as a JSONata expression (the machine's query language is JSONata)."""
    return "{% " + expression + " %}"


def jsonata_list(values: list[str] | tuple[str, ...]) -> str:
    """A JSONata array literal of strings."""
    return json.dumps(list(values))


def catch(step: str, next_state: str) -> State:
    """On any error: remember the step and what went wrong, go to ``next_state``."""
    return {
        "ErrorEquals": ["States.ALL"],
        "Assign": {
            "failedStep": step,
            "failure": jsonata("$states.errorOutput.Error & ': ' & $substring($states.errorOutput.Cause, 0, 1500)"),
        },
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
