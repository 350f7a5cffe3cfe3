"""The release's first states: every variable the failure path reads, the tag checked with
the spec's rule, a scheduled environment refused while it sleeps (``layers.release.asleep``), and the
compute stack's released tags read (it must be stable)."""

from __future__ import annotations

from layers.release.asleep import refuse_asleep
from layers.release.states import NO_ACTION, ReleaseContext, State, catch, jsonata, jsonata_list, merge_states, note
from platform_spec.checks import IMAGE_TAG_PATTERN
from platform_spec.names import RELEASE_TAG_PREFIX

# The spec's tag rule, as a JSONata regular expression (the same syntax between the slashes).
TAG_RULE = f"/{IMAGE_TAG_PATTERN.pattern}/"
STABLE_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


def start(release: ReleaseContext) -> dict[str, State]:
    """``Start`` to ``MarkImages``; a bad tag fails the execution, a sleeping environment and a
    busy stack the release."""
    asleep = refuse_asleep(release, next_state="ReadReleasedTags")
    compute_stack = release.targets.compute_stack
    released_tags = (
        f"$states.result.Stacks[0].Parameters[ParameterKey in {jsonata_list(release.tag_keys)}]"
        "{ParameterKey: ParameterValue}"
    )
    checked: dict[str, State] = {
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
                "runs": f"unknown: {compute_stack} could not be read; the release changed nothing",
                "operator": NO_ACTION,
                "previousTags": {},
                "marked": False,
                "released": False,
                "settling": False,
                "cancelled": False,
                "cause": "none was read",
                "updateToken": "none",
                "updateStarted": jsonata("$states.context.Execution.StartTime"),
                "releaseAttempts": 0,
                "restoreAttempts": 0,
                "updateError": "none",
                "marksNote": None,
                "polls": 0,
            },
            "Next": "CheckTag",
        },
        "CheckTag": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": jsonata(
                        f"$type($states.input.imageTag) = 'string' and $contains($states.input.imageTag, {TAG_RULE})"
                    ),
                    "Next": next(iter(asleep), "ReadReleasedTags"),
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
    }
    read: dict[str, State] = {
        "ReadReleasedTags": release.describe_stack(
            Assign={
                "stack": jsonata("$states.result.Stacks[0]"),
                "previousTags": jsonata(released_tags),
                "runs": jsonata(released_tags),
            },
            Catch=[catch("ReadReleasedTags", "ReleaseFailed")],
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
            f"'{compute_stack} is ' & $stack.StackStatus & ': another update is under way'",
            "ReleaseFailed",
        ),
    }
    return merge_states(("start (tag check)", checked), ("refuse_asleep", asleep), ("start (released tags)", read))
