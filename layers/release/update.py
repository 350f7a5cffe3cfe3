"""The services released by one CloudFormation update of the compute stack, and the wait for
it: a refused call sent again, CloudFormation's own roll-back followed, and an update that
cannot be followed or does not finish in time cancelled, then followed until the stack is
stable (``settle``)."""

from __future__ import annotations

from layers.release.states import (
    NO_ACTION,
    ROLL_BACK_BY_HAND,
    TRANSIENT_RETRY,
    ReleaseContext,
    State,
    aws_call,
    catch,
    jsonata,
    merge_states,
    note,
)


def update_services(release: ReleaseContext) -> dict[str, State]:
    """``ReleaseServices``: the new tag in every service's tag parameter; then the wait until
    the update completes (the services are checked), fails or runs out of checks."""
    polls_exhausted = f"$polls >= {release.max_polls}"
    stack = release.targets.compute_stack
    sent: dict[str, State] = {
        "ReleaseServices": release.update_stack(
            "$imageTag", "release", Catch=[catch("ReleaseServices", "ReleaseRefused")], Next="WaitForRelease"
        ),
        # Every service already runs this tag: nothing to update; the services are still
        # checked. Out of attempts, one of them may have been received: follow the stack.
        "ReleaseRefused": release.refused(
            "$failure",
            "releaseAttempts",
            "release",
            NoUpdates="ReadOutputs",
            Received="WaitForRelease",
            Again="RetryRelease",
            OutOfAttempts="CancelRelease",
            Default="ReleaseFailed",
        ),
        "RetryRelease": {
            "Type": "Wait",
            "Seconds": jsonata("5 * $power(2, $releaseAttempts)"),
            "Next": "ReleaseServices",
        },
        "ReadOutputs": release.describe_stack(
            Assign={
                "stack": jsonata("$states.result.Stacks[0]"),
                "outputs": jsonata("$states.result.Stacks[0].Outputs{OutputKey: OutputValue}"),
                "restored": "nothing was changed",
            },
            Catch=[catch("ReleaseServices", "ReleaseFailed")],
            Next="CheckServices",
        ),
    }
    # Reading the stack keeps failing while the update may run: CloudFormation would
    # refuse the restore's update, so the update is cancelled first.
    followed = release.follow(
        "WaitForRelease",
        "CheckRelease",
        then="ReleaseFinished",
        on_error=catch("ReleaseServices", "CancelRelease"),
        outputs=True,
    )
    finished: dict[str, State] = {
        "ReleaseFinished": {
            "Type": "Choice",
            "Choices": [
                {"Condition": jsonata("$stack.StackStatus = 'UPDATE_COMPLETE'"), "Next": "CheckServices"},
                release.update_failed("WhyReleaseFailed"),
                {"Condition": jsonata(polls_exhausted), "Next": "ReleaseTimedOut"},
            ],
            "Default": "WaitForRelease",
        },
        "WhyReleaseFailed": release.why_failed("ReleaseEnded"),
        "ReleaseEnded": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": jsonata("$stack.StackStatus = 'UPDATE_ROLLBACK_COMPLETE' and $settling"),
                    "Next": "SettledRolledBack",
                },
                {
                    "Condition": jsonata("$stack.StackStatus = 'UPDATE_ROLLBACK_COMPLETE'"),
                    "Next": "ReleaseRolledBack",
                },
                {"Condition": jsonata("$settling"), "Next": "SettleStuck"},
            ],
            "Default": "ReleaseStuck",
        },
        "ReleaseRolledBack": note(
            "ReleaseServices",
            "'CloudFormation rolled the update back: ' & $cause",
            "ReleaseFailed",
            restored="CloudFormation restored the previous tags",
            runs=jsonata(release.stack_tags),
            operator=NO_ACTION,
        ),
        "ReleaseStuck": note(
            "ReleaseServices",
            f"'{stack} is ' & $stack.StackStatus & ': ' & $cause",
            "ReleaseFailed",
            restored="CloudFormation could not put the previous tags back",
            runs=jsonata(release.unknown),
            operator=jsonata(release.stuck()),
        ),
        "ReleaseTimedOut": note(
            "ReleaseServices",
            f"'the update did not finish after {release.max_polls} checks, {release.poll_seconds} s apart'",
            "StopRelease",
        ),
        # Only an update in progress can be cancelled; CloudFormation's own roll-back (or
        # clean-up) is left to finish and followed.
        "StopRelease": {
            "Type": "Choice",
            "Choices": [{"Condition": jsonata("$stack.StackStatus = 'UPDATE_IN_PROGRESS'"), "Next": "CancelRelease"}],
            "Assign": {"polls": 0, "settling": True},
            "Default": "WaitForSettle",
        },
    }
    return merge_states(
        ("update_services", sent), ("ReleaseContext.follow (release)", followed), ("update_services", finished)
    )


def settle(release: ReleaseContext) -> dict[str, State]:
    """Cancel the update, then follow the stack until it is stable, within a bound of its own."""
    stack = release.targets.compute_stack
    cancel: dict[str, State] = {
        "CancelRelease": aws_call(
            "cloudformation:cancelUpdateStack",
            {"StackName": stack, "ClientRequestToken": jsonata("$releaseTag & '-cancel'")},
            Retry=TRANSIENT_RETRY,
            Assign={"polls": 0, "settling": True, "cancelled": True},
            # Refused once the update is no longer in progress: it finished or is rolling
            # back; either way the stack is followed.
            Catch=[{"ErrorEquals": ["States.ALL"], "Assign": {"polls": 0, "settling": True}, "Next": "WaitForSettle"}],
            Next="WaitForSettle",
        ),
    }
    followed = release.follow(
        "WaitForSettle",
        "CheckSettle",
        then="Settled",
        on_error={"ErrorEquals": ["States.ALL"], "Next": "StackUnknown"},
    )
    settled: dict[str, State] = {
        "Settled": {
            "Type": "Choice",
            "Choices": [
                # The update completed before the cancel could stop it: put the previous tags back.
                {"Condition": jsonata("$stack.StackStatus = 'UPDATE_COMPLETE'"), "Next": "RollBack"},
                release.update_failed("WhyReleaseFailed"),
                {"Condition": jsonata(f"$polls >= {release.max_polls}"), "Next": "SettleTimedOut"},
            ],
            "Default": "WaitForSettle",
        },
        "SettledRolledBack": release.outcome(
            "$cancelled ? 'the update was cancelled and CloudFormation restored the previous tags'"
            " : 'CloudFormation rolled the update back (' & $cause & ') and restored the previous tags'",
            release.stack_tags,
            f"'{NO_ACTION}'",
        ),
        "SettleStuck": release.outcome(
            "'CloudFormation could not put the previous tags back: ' & $cause", release.unknown, release.stuck()
        ),
        "SettleTimedOut": release.outcome(
            f"'CloudFormation had not finished after {release.max_polls} more checks'",
            release.unknown,
            f"'An operator must act: follow {stack} until it is stable, and roll back by hand if it completed "
            f"{ROLL_BACK_BY_HAND}'",
        ),
        "StackUnknown": release.outcome(
            f"'{stack} could not be read to follow the update'",
            f"'unknown: {stack} could not be read, so each service runs ' & $imageTag & ' or its previous tag'",
            f"'An operator must act: check {stack} and the tags its services run {ROLL_BACK_BY_HAND}'",
        ),
    }
    return merge_states(("settle", cancel), ("ReleaseContext.follow (settle)", followed), ("settle", settled))
