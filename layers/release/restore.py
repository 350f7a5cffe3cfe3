"""The previous tags put back after a failure once the services were touched: the same
CloudFormation update (only services whose tag changed are redeployed), sent again when
refused, and followed until restored, rolled back by CloudFormation, stuck or out of checks."""

from __future__ import annotations

from layers.release.states import ERROR_TEXT, NO_ACTION, ROLL_BACK_BY_HAND, ReleaseContext, State, jsonata, merge_states


def restore_previous_tags(release: ReleaseContext) -> dict[str, State]:
    """``RollBack``: the previous tags through the same CloudFormation update; wait until restored."""
    restored = f"$stack.StackStatus = 'UPDATE_COMPLETE' and {release.stack_tags} = $previousTags"
    sent: dict[str, State] = {
        "RollBack": release.update_stack(
            "$lookup($previousTags, $p.ParameterKey)",
            "restore",
            Catch=[
                {
                    "ErrorEquals": ["States.ALL"],
                    "Assign": {"updateError": jsonata(ERROR_TEXT)},
                    "Next": "RestoreRefused",
                }
            ],
            Next="WaitForRestore",
        ),
        "RestoreRefused": release.refused(
            "$updateError",
            "restoreAttempts",
            "restore",
            NoUpdates="PreviousInPlace",
            Received="WaitForRestore",
            Again="RetryRestore",
            Default="RestoreNotSent",
        ),
        "RetryRestore": {"Type": "Wait", "Seconds": jsonata("5 * $power(2, $restoreAttempts)"), "Next": "RollBack"},
        "PreviousInPlace": release.outcome(
            "'the previous tags were still in place'", "$previousTags", f"'{NO_ACTION}'"
        ),
        "RestoreNotSent": release.outcome(
            "'putting the previous tags back failed: ' & $updateError",
            release.stack_tags,
            f"'An operator must act: release the previous tags again {ROLL_BACK_BY_HAND}'",
        ),
    }
    followed = release.follow(
        "WaitForRestore",
        "CheckRestore",
        then="RestoreFinished",
        on_error={"ErrorEquals": ["States.ALL"], "Next": "StackUnknown"},
    )
    finished: dict[str, State] = {
        "RestoreFinished": {
            "Type": "Choice",
            "Choices": [
                # Complete with the previous tags: before the update shows, the stack still
                # reads UPDATE_COMPLETE with the new ones.
                {"Condition": jsonata(restored), "Next": "Restored"},
                release.update_failed("WhyRestoreFailed"),
                {"Condition": jsonata(f"$polls >= {release.max_polls}"), "Next": "RestoreTimedOut"},
            ],
            "Default": "WaitForRestore",
        },
        "Restored": release.outcome("'restored the previous tags'", release.stack_tags, f"'{NO_ACTION}'"),
        "WhyRestoreFailed": release.why_failed("RestoreEnded"),
        "RestoreEnded": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": jsonata("$stack.StackStatus = 'UPDATE_ROLLBACK_COMPLETE'"),
                    "Next": "RestoreRolledBack",
                }
            ],
            "Default": "RestoreStuck",
        },
        # CloudFormation rolled the restore back: to the tag that just failed.
        "RestoreRolledBack": release.outcome(
            "'putting the previous tags back failed (' & $cause & '), and CloudFormation rolled that back to '"
            " & $imageTag & ', the tag that failed'",
            release.stack_tags,
            f"'An operator must act: the services run ' & $imageTag & ', which failed; release a tag that works "
            f"{ROLL_BACK_BY_HAND}'",
        ),
        "RestoreStuck": release.outcome(
            "'putting the previous tags back failed: ' & $cause", release.unknown, release.stuck()
        ),
        "RestoreTimedOut": release.outcome(
            f"'the restore did not finish after {release.max_polls} checks'",
            release.unknown,
            f"'An operator must act: follow {release.targets.compute_stack} until it is stable {ROLL_BACK_BY_HAND}'",
        ),
    }
    return merge_states(
        ("restore_previous_tags", sent),
        ("ReleaseContext.follow (restore)", followed),
        ("restore_previous_tags", finished),
    )
