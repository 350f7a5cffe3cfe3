"""Unit tests of the offline Step Functions (JSONata) interpreter in tests/stepfunctions.

Every case below is one small definition, run in a single batch (one Node process); each test is
named for the Step Functions rule it checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.stepfunctions.runner import HANG, Response, Scenario, Trace, error, result, run, validate

SNS = "arn:aws:states:::sns:publish"
DESCRIBE = "arn:aws:states:::aws-sdk:cloudformation:describeStacks"
REGISTER = "arn:aws:states:::aws-sdk:servicediscovery:registerInstance"
RUN_TASK = "arn:aws:states:::ecs:runTask.sync"
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"

UNCHECKED: Any = object()


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A JSONata state machine starting at its first state."""
    return {"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states, **top}


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def pass_(output: Any = UNCHECKED, assign: dict[str, Any] | None = None, next_: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Pass"}
    if output is not UNCHECKED:
        state["Output"] = output
    if assign is not None:
        state["Assign"] = assign
    state.update({"Next": next_} if next_ else {"End": True})
    return state


def task(resource: str, next_: str | None = None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, **fields}
    state.update({"Next": next_} if next_ else {"End": True})
    return state


@dataclass(frozen=True)
class Case:
    rule: str
    definition: dict[str, Any]
    input: Any = field(default_factory=dict)
    responses: dict[str, list[Response]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    status: str = "SUCCEEDED"
    error: str | None = None
    cause_contains: tuple[str, ...] = ()
    output: Any = UNCHECKED
    states: list[str] | None = None
    calls: list[tuple[str, Any]] | None = None
    variables: dict[str, Any] | None = None
    waited_seconds: float | None = None
    elapsed_seconds: float | None = None
    timeout_seconds: Any = UNCHECKED


STACK = {"Stacks": [{"StackId": "arn:stack/one", "StackStatus": "CREATE_COMPLETE"}]}
REGISTER_WITH_RESULT = machine(
    {
        "Describe": task(DESCRIBE, "Register", Arguments={"StackName": "{% $states.input.stack %}"}),
        "Register": task(REGISTER, Arguments={"InstanceId": "{% $states.result.Stacks[0].StackId %}"}),
    }
)

CASES: list[Case] = [
    # --- $states.result, $states.errorOutput
    Case(
        rule="states_result_is_undefined_in_arguments",
        definition=REGISTER_WITH_RESULT,
        input={"stack": "one"},
        responses={DESCRIBE: [result(STACK)], REGISTER: [result({})]},
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("'Register'", "Arguments.InstanceId", "returned nothing (undefined)"),
        states=["Describe", "Register"],
        calls=[("Describe", {"StackName": "one"})],
    ),
    Case(
        rule="states_result_in_a_whole_arguments_expression_drops_what_it_feeds",
        definition=machine(
            {
                "Describe": task(DESCRIBE, "Register"),
                "Register": task(
                    REGISTER,
                    Arguments="{% ($s := $states.result.Stacks[0]; {'Id': $s.StackId, 'Tags': [$s.Tags]}) %}",
                ),
            }
        ),
        responses={DESCRIBE: [result(STACK)], REGISTER: [result({})]},
        calls=[("Describe", {}), ("Register", {"Tags": []})],
    ),
    Case(
        rule="arguments_read_the_previous_result_through_states_input",
        definition=machine(
            {
                "Describe": task(DESCRIBE, "Register", Arguments={"StackName": "{% $states.input.stack %}"}),
                "Register": task(REGISTER, Arguments={"InstanceId": "{% $states.input.Stacks[0].StackId %}"}),
            }
        ),
        input={"stack": "one"},
        responses={DESCRIBE: [result(STACK)], REGISTER: [result({"OperationId": "op"})]},
        output={"OperationId": "op"},
        calls=[("Describe", {"StackName": "one"}), ("Register", {"InstanceId": "arn:stack/one"})],
    ),
    Case(
        rule="states_result_is_available_in_output_and_assign",
        definition=machine(
            {
                "Describe": task(
                    DESCRIBE,
                    Output={"status": "{% $states.result.Stacks[0].StackStatus %}", "in": "{% $states.input.stack %}"},
                    Assign={"stackId": "{% $states.result.Stacks[0].StackId %}"},
                )
            }
        ),
        input={"stack": "one"},
        responses={DESCRIBE: [result(STACK)]},
        output={"status": "CREATE_COMPLETE", "in": "one"},
        variables={"stackId": "arn:stack/one"},
    ),
    Case(
        rule="states_result_is_undefined_in_a_choice_condition",
        definition=machine(
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $exists($states.result) %}", "Next": "HasResult"}],
                    "Default": "NoResult",
                },
                "HasResult": pass_("has"),
                "NoResult": pass_("none"),
            }
        ),
        output="none",
    ),
    Case(
        rule="catch_assign_and_output_read_states_error_output",
        definition=machine(
            {
                "Publish": task(
                    SNS,
                    Catch=[
                        {
                            "ErrorEquals": ["SNS.NotFound"],
                            "Assign": {"failure": "{% $states.errorOutput %}", "topic": "{% $states.input.topic %}"},
                            "Output": {"cause": "{% $states.errorOutput.Cause %}"},
                            "Next": "Handled",
                        }
                    ],
                    Assign={"published": True},
                ),
                "Handled": pass_(),
            }
        ),
        input={"topic": "t"},
        responses={SNS: [error("SNS.NotFound", "no such topic")]},
        output={"cause": "no such topic"},
        states=["Publish", "Handled"],
        variables={"failure": {"Error": "SNS.NotFound", "Cause": "no such topic"}, "topic": "t"},
    ),
    Case(
        rule="catch_without_output_passes_the_error_output",
        definition=machine(
            {"Publish": task(SNS, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]), "Handled": pass_()}
        ),
        responses={SNS: [error("SNS.Throttled", "slow down")]},
        output={"Error": "SNS.Throttled", "Cause": "slow down"},
    ),
    Case(
        rule="states_error_output_is_undefined_outside_a_catcher",
        definition=machine({"P": pass_({"e": "{% $states.errorOutput %}"})}),
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("Output.e",),
    ),
    # --- variables
    Case(
        rule="assign_and_output_see_the_values_from_before_the_state",
        definition=machine(
            {
                "Init": pass_(assign={"x": 1}, next_="Bump"),
                "Bump": pass_({"xSeen": "{% $x %}"}, assign={"x": "{% $x + 1 %}", "old": "{% $x %}"}, next_="After"),
                "After": pass_({"xSeen": "{% $x %}", "before": "{% $states.input.xSeen %}"}),
            }
        ),
        output={"xSeen": 2, "before": 1},
        variables={"x": 2, "old": 1},
    ),
    Case(
        rule="assign_values_are_evaluated_together_so_a_swap_works",
        definition=machine(
            {
                "Init": pass_(assign={"x": 3, "y": 6}, next_="Swap"),
                "Swap": pass_(assign={"x": "{% $y %}", "y": "{% $x %}"}),
            }
        ),
        variables={"x": 6, "y": 3},
    ),
    Case(
        rule="parallel_branch_variables_stay_in_the_branch",
        definition=machine(
            {
                "Init": pass_(assign={"outer": "o"}, next_="Fork"),
                "Fork": {
                    "Type": "Parallel",
                    "Branches": [
                        branch(
                            {
                                "Set": pass_(assign={"inner": "{% $outer & '-1' %}"}, next_="Read"),
                                "Read": pass_({"inner": "{% $inner %}", "outer": "{% $outer %}"}),
                            }
                        ),
                        branch({"Other": pass_({"innerVisible": "{% $exists($inner) %}"})}),
                    ],
                    "Next": "After",
                },
                "After": pass_({"branches": "{% $states.input %}", "innerVisible": "{% $exists($inner) %}"}),
            }
        ),
        output={"branches": [{"inner": "o-1", "outer": "o"}, {"innerVisible": False}], "innerVisible": False},
        states=["Init", "Fork", "Fork/Set", "Fork/Read", "Fork/Other", "After"],
        variables={"outer": "o"},
    ),
    Case(
        rule="map_iteration_variables_stay_in_the_iteration",
        definition=machine(
            {
                "Init": pass_(assign={"outer": 10}, next_="Each"),
                "Each": {
                    "Type": "Map",
                    "Items": "{% [1, 2] %}",
                    "ItemProcessor": branch(
                        {
                            "Mark": pass_(
                                assign={"seen": "{% $exists($seen) %}", "mine": "{% $states.input %}"}, next_="Read"
                            ),
                            "Read": pass_({"seenBefore": "{% $seen %}", "sum": "{% $mine + $outer %}"}),
                        }
                    ),
                    "Assign": {"results": "{% $states.result %}"},
                    "Next": "After",
                },
                "After": pass_({"mineVisible": "{% $exists($mine) %}"}),
            }
        ),
        output={"mineVisible": False},
        states=["Init", "Each", "Each/Mark", "Each/Read", "Each/Mark", "Each/Read", "After"],
        variables={"outer": 10, "results": [{"seenBefore": False, "sum": 11}, {"seenBefore": False, "sum": 12}]},
    ),
    Case(
        rule="an_iteration_cannot_assign_an_outer_variable",
        definition=machine(
            {
                "Init": pass_(assign={"total": 0}, next_="Each"),
                "Each": {
                    "Type": "Map",
                    "Items": [1],
                    "ItemProcessor": branch({"Add": pass_(assign={"total": "{% $total + $states.input %}"})}),
                    "End": True,
                },
            }
        ),
        status="ERROR",
        error="InvalidDefinition",
        cause_contains=("'Add'", "'total'", "outer scope"),
    ),
    # --- Map
    Case(
        rule="map_items_must_be_an_array_not_the_object_each_returns_for_one_key",
        definition=machine(
            {
                "Each": {
                    "Type": "Map",
                    "Items": "{% $each($states.input.stacks, function($v, $k) { {'name': $k, 'status': $v} }) %}",
                    "ItemProcessor": branch({"Use": pass_()}),
                    "End": True,
                }
            }
        ),
        input={"stacks": {"one": "CREATE_COMPLETE"}},
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("'Items'", "Expected 'array', but was 'object'"),
        states=["Each"],
    ),
    Case(
        rule="map_items_from_each_over_two_keys_is_an_array",
        definition=machine(
            {
                "Each": {
                    "Type": "Map",
                    "Items": "{% $each($states.input.stacks, function($v, $k) { {'name': $k, 'status': $v} }) %}",
                    "ItemProcessor": branch({"Use": pass_("{% $states.input.name %}")}),
                    "End": True,
                }
            }
        ),
        input={"stacks": {"one": "A", "two": "B"}},
        output=["one", "two"],
    ),
    Case(
        rule="map_item_selector_sees_the_item_index_and_value",
        definition=machine(
            {
                "Each": {
                    "Type": "Map",
                    "Items": ["a", "{% $states.input.second %}"],
                    "ItemSelector": {
                        "i": "{% $states.context.Map.Item.Index %}",
                        "v": "{% $states.context.Map.Item.Value %}",
                        "whole": "{% $states.input.second %}",
                    },
                    "MaxConcurrency": 1,
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **branch({"Use": pass_()})},
                    "Output": {"n": "{% $count($states.result) %}", "items": "{% $states.result %}"},
                    "End": True,
                }
            }
        ),
        input={"second": "b"},
        output={"n": 2, "items": [{"i": 0, "v": "a", "whole": "b"}, {"i": 1, "v": "b", "whole": "b"}]},
    ),
    Case(
        rule="map_without_items_iterates_over_its_input",
        definition=machine({"Each": {"Type": "Map", "ItemProcessor": branch({"Use": pass_()}), "End": True}}),
        input=[1, 2, 3],
        output=[1, 2, 3],
    ),
    Case(
        rule="a_failing_iteration_fails_the_map_with_its_error",
        definition=machine(
            {
                "Each": {
                    "Type": "Map",
                    "Items": [1, 2],
                    "ItemProcessor": branch({"Run": task(RUN_TASK, Arguments={"n": "{% $states.input %}"})}),
                    "Catch": [{"ErrorEquals": ["ECS.TaskFailed"], "Next": "Handled"}],
                    "Next": "Done",
                },
                "Handled": pass_(),
                "Done": pass_(),
            }
        ),
        responses={RUN_TASK: [result({}), error("ECS.TaskFailed", "exit 1")]},
        output={"Error": "ECS.TaskFailed", "Cause": "exit 1"},
        states=["Each", "Each/Run", "Each/Run", "Handled"],
        calls=[("Each/Run", {"n": 1}), ("Each/Run", {"n": 2})],
    ),
    # --- Parallel
    Case(
        rule="parallel_result_is_the_branch_outputs_in_order",
        definition=machine(
            {
                "Fork": {
                    "Type": "Parallel",
                    "Arguments": {"n": "{% $states.input.n * 10 %}"},
                    "Branches": [branch({"A": pass_("{% $states.input.n + 1 %}")}), branch({"B": pass_("b")})],
                    "Output": "{% $states.result %}",
                    "End": True,
                }
            }
        ),
        input={"n": 1},
        output=[11, "b"],
    ),
    Case(
        rule="a_failing_branch_fails_the_parallel_with_its_error",
        definition=machine(
            {
                "Fork": {
                    "Type": "Parallel",
                    "Branches": [
                        branch({"Ok": pass_()}),
                        branch({"Broken": {"Type": "Fail", "Error": "Branch.Broke", "Cause": "no"}}),
                    ],
                    "Catch": [
                        {
                            "ErrorEquals": ["Branch.Broke"],
                            "Assign": {"why": "{% $states.errorOutput %}"},
                            "Next": "Caught",
                        }
                    ],
                    "Next": "Done",
                },
                "Caught": pass_(),
                "Done": pass_(),
            }
        ),
        states=["Fork", "Fork/Ok", "Fork/Broken", "Caught"],
        variables={"why": {"Error": "Branch.Broke", "Cause": "no"}},
    ),
    # --- Choice
    Case(
        rule="choice_condition_must_be_a_boolean",
        definition=machine(
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.flag %}", "Next": "Yes"}],
                    "Default": "Yes",
                },
                "Yes": pass_(),
            }
        ),
        input={"flag": "yes"},
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("Choices[0].Condition", "Expected 'boolean', but was 'string'"),
    ),
    Case(
        rule="choice_without_match_or_default_is_no_choice_matched",
        definition=machine(
            {
                "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n > 5 %}", "Next": "Big"}]},
                "Big": pass_(),
            }
        ),
        input={"n": 1},
        status="FAILED",
        error="States.NoChoiceMatched",
    ),
    Case(
        rule="choice_rule_assign_and_output_apply_when_the_rule_matches",
        definition=machine(
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Condition": "{% $states.input.n > 5 %}",
                            "Assign": {"size": "big"},
                            "Output": {"n": "{% $states.input.n %}"},
                            "Next": "Done",
                        }
                    ],
                    "Assign": {"size": "small"},
                    "Output": "default",
                    "Default": "Done",
                },
                "Done": pass_(),
            }
        ),
        input={"n": 9},
        output={"n": 9},
        variables={"size": "big"},
    ),
    Case(
        rule="choice_state_assign_and_output_apply_on_the_default",
        definition=machine(
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.n > 5 %}", "Assign": {"size": "big"}, "Next": "Done"}],
                    "Assign": {"size": "small"},
                    "Output": "default",
                    "Default": "Done",
                },
                "Done": pass_(),
            }
        ),
        input={"n": 1},
        output="default",
        variables={"size": "small"},
    ),
    # --- Retry and Catch
    Case(
        rule="retry_then_catch_after_max_attempts",
        definition=machine(
            {
                "Publish": task(
                    SNS,
                    "Done",
                    Arguments={"attempt": "{% $states.context.State.RetryCount %}"},
                    Retry=[
                        {"ErrorEquals": ["SNS.Throttled"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}
                    ],
                    Catch=[{"ErrorEquals": ["SNS.Throttled"], "Next": "Handled"}],
                ),
                "Handled": pass_(),
                "Done": pass_(),
            }
        ),
        responses={SNS: [error("SNS.Throttled"), error("SNS.Throttled"), error("SNS.Throttled", "still")]},
        output={"Error": "SNS.Throttled", "Cause": "still"},
        states=["Publish", "Handled"],
        calls=[("Publish", {"attempt": 0}), ("Publish", {"attempt": 1}), ("Publish", {"attempt": 2})],
        elapsed_seconds=2 + 6,
    ),
    Case(
        rule="retry_succeeds_on_a_later_attempt",
        definition=machine(
            {"Publish": task(SNS, Retry=[{"ErrorEquals": ["States.TaskFailed"]}], Output="{% $states.result.id %}")}
        ),
        responses={SNS: [error("SNS.InternalError"), result({"id": "m-1"})]},
        output="m-1",
        elapsed_seconds=1,
    ),
    Case(
        rule="max_attempts_zero_never_retries",
        definition=machine({"Publish": task(SNS, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}])}),
        responses={SNS: [error("SNS.InternalError", "x")]},
        status="FAILED",
        error="SNS.InternalError",
        cause_contains=("x",),
    ),
    Case(
        rule="query_evaluation_error_is_caught_by_its_name_not_by_task_failed",
        definition=machine(
            {
                "Register": task(
                    REGISTER,
                    "Done",
                    Arguments={"InstanceId": "{% $states.result.id %}"},
                    Catch=[
                        {"ErrorEquals": ["States.TaskFailed"], "Output": "task", "Next": "Done"},
                        {"ErrorEquals": ["States.QueryEvaluationError"], "Output": "query", "Next": "Done"},
                    ],
                ),
                "Done": pass_(),
            }
        ),
        output="query",
        calls=[],
    ),
    Case(
        rule="states_all_must_be_the_last_catcher",
        definition=machine(
            {
                "Publish": task(
                    SNS,
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}, {"ErrorEquals": ["X"], "Next": "H"}],
                ),
                "H": pass_(),
            }
        ),
        status="ERROR",
        error="InvalidDefinition",
        cause_contains=("States.ALL",),
    ),
    Case(
        rule="an_error_in_a_task_output_is_not_caught_by_its_own_catch",
        definition=machine(
            {
                "Publish": task(
                    SNS, Output="{% $states.result.missing %}", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}]
                ),
                "H": pass_(),
            }
        ),
        responses={SNS: [result({})]},
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("'Output'",),
    ),
    # --- timeouts and hangs
    Case(
        rule="hang_with_timeout_seconds_is_states_timeout",
        definition=machine(
            {
                "Run": task(
                    RUN_TASK,
                    TimeoutSeconds=600,
                    Catch=[
                        {"ErrorEquals": ["States.TaskFailed"], "Output": "task failed", "Next": "H"},
                        {"ErrorEquals": ["States.Timeout"], "Next": "H"},
                    ],
                ),
                "H": pass_("{% $states.input.Error %}"),
            }
        ),
        responses={RUN_TASK: [HANG]},
        output="States.Timeout",
        elapsed_seconds=600,
    ),
    Case(
        rule="hang_with_jsonata_heartbeat_seconds_times_out_at_the_heartbeat",
        definition=machine(
            {
                "Wait": task(
                    CALLBACK,
                    TimeoutSeconds=3600,
                    HeartbeatSeconds="{% $states.input.beat %}",
                    Arguments={"token": "{% $states.context.Task.Token %}"},
                )
            }
        ),
        input={"beat": 60},
        responses={CALLBACK: [HANG]},
        status="FAILED",
        error="States.Timeout",
        calls=[("Wait", {"token": "task-token-1"})],
        elapsed_seconds=60,
    ),
    Case(
        rule="hang_without_any_timeout_hangs_forever",
        definition=machine({"Run": task(RUN_TASK)}),
        responses={RUN_TASK: [HANG]},
        status="HANGS",
        error="NoTimeout",
        cause_contains=("'Run'", RUN_TASK),
        timeout_seconds=None,
    ),
    Case(
        rule="hang_under_the_state_machine_timeout_times_the_execution_out",
        definition=machine({"Run": task(RUN_TASK)}, TimeoutSeconds=900),
        responses={RUN_TASK: [HANG]},
        status="TIMED_OUT",
        error="States.Timeout",
        timeout_seconds=900,
        elapsed_seconds=900,
    ),
    Case(
        rule="a_slow_call_beyond_timeout_seconds_is_states_timeout",
        definition=machine({"Run": task(RUN_TASK, TimeoutSeconds=30)}),
        responses={RUN_TASK: [result({}, seconds=31)]},
        status="FAILED",
        error="States.Timeout",
    ),
    # --- Wait and the clock
    Case(
        rule="wait_advances_the_virtual_clock",
        definition=machine(
            {
                "Fixed": {"Type": "Wait", "Seconds": 30, "Next": "Dynamic"},
                "Dynamic": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "Until"},
                "Until": {"Type": "Wait", "Timestamp": "2025-01-01T00:01:00Z", "Next": "Now"},
                "Now": pass_({"now": "{% $now() %}", "entered": "{% $states.context.State.EnteredTime %}"}),
            }
        ),
        input={"delay": 15},
        output={"now": "2025-01-01T00:01:00.000Z", "entered": "2025-01-01T00:01:00.000Z"},
        waited_seconds=60,
    ),
    Case(
        rule="wait_seconds_must_be_a_non_negative_integer",
        definition=machine({"W": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "End": True}}),
        input={"delay": "soon"},
        status="FAILED",
        error="States.QueryEvaluationError",
    ),
    Case(
        rule="waiting_past_the_state_machine_timeout_times_out",
        definition=machine({"W": {"Type": "Wait", "Seconds": 120, "End": True}}, TimeoutSeconds=60),
        status="TIMED_OUT",
        error="States.Timeout",
        timeout_seconds=60,
    ),
    # --- Fail, Succeed
    Case(
        rule="fail_error_and_cause_may_be_jsonata",
        definition=machine(
            {
                "Stop": {
                    "Type": "Fail",
                    "Error": "{% $states.input.code %}",
                    "Cause": "{% 'stack ' & $states.input.name %}",
                }
            }
        ),
        input={"code": "Deploy.Failed", "name": "web"},
        status="FAILED",
        error="Deploy.Failed",
        cause_contains=("stack web",),
    ),
    Case(
        rule="fail_error_must_evaluate_to_a_string",
        definition=machine({"Stop": {"Type": "Fail", "Error": "{% 42 %}"}}),
        status="FAILED",
        error="States.QueryEvaluationError",
    ),
    Case(
        rule="succeed_output_ends_the_execution",
        definition=machine({"Done": {"Type": "Succeed", "Output": {"ok": "{% $states.input.ok %}"}}}),
        input={"ok": True},
        output={"ok": True},
    ),
    # --- expressions
    Case(
        rule="an_expression_returning_undefined_fails_the_state",
        definition=machine({"P": pass_("{% $states.input.missing %}")}),
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("'$states.input.missing'", "returned nothing (undefined)"),
    ),
    Case(
        rule="an_expression_that_throws_fails_the_state",
        definition=machine({"P": pass_("{% 1 + 'a' %}")}),
        status="FAILED",
        error="States.QueryEvaluationError",
        cause_contains=("threw an error", "T2002"),
    ),
    Case(
        rule="step_functions_jsonata_functions_are_available",
        definition=machine(
            {
                "P": pass_(
                    {
                        "parts": "{% $partition([1, 2, 3], 2) %}",
                        "range": "{% $range(0, 6, 2) %}",
                        "hash": "{% $hash('abc', 'SHA-256') %}",
                        "parsed": "{% $parse('{\"a\": 1}') %}",
                        "uuid": "{% $length($uuid()) %}",
                        "random": "{% $random() < 1 %}",
                    }
                )
            }
        ),
        output={
            "parts": [[1, 2], [3]],
            "range": [0, 2, 4, 6],
            "hash": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "parsed": {"a": 1},
            "uuid": 36,
            "random": True,
        },
    ),
    Case(
        rule="context_object_holds_execution_and_state",
        definition=machine(
            {
                "P": pass_(
                    {
                        "name": "{% $states.context.Execution.Name %}",
                        "input": "{% $states.context.Execution.Input %}",
                        "state": "{% $states.context.State.Name %}",
                        "machine": "{% $states.context.StateMachine.Name %}",
                        "start": "{% $states.context.Execution.StartTime %}",
                    }
                )
            }
        ),
        input={"a": 1},
        context={"Execution": {"Name": "deploy-42"}, "StateMachine.Name": "Deploy"},
        output={
            "name": "deploy-42",
            "input": {"a": 1},
            "state": "P",
            "machine": "Deploy",
            "start": "2025-01-01T00:00:00.000Z",
        },
    ),
    Case(
        rule="a_task_without_arguments_sends_its_input",
        definition=machine({"Publish": task(SNS)}),
        input={"Message": "hi"},
        responses={SNS: [result({"MessageId": "1"})]},
        output={"MessageId": "1"},
        calls=[("Publish", {"Message": "hi"})],
    ),
    # --- scripted responses
    Case(
        rule="running_out_of_scripted_responses_is_reported",
        definition=machine({"First": task(SNS, "Second"), "Second": task(SNS)}),
        responses={SNS: [result({})]},
        status="ERROR",
        error="ScriptExhausted",
        cause_contains=("'Second'", SNS),
    ),
    Case(
        rule="an_unscripted_resource_is_reported",
        definition=machine({"Describe": task(DESCRIBE)}),
        status="ERROR",
        error="ScriptExhausted",
        cause_contains=("'Describe'", DESCRIBE),
    ),
    Case(
        rule="a_per_state_response_key_takes_precedence",
        definition=machine(
            {
                "First": task(SNS, "Second", Output="{% $states.result %}"),
                "Second": task(SNS, Output={"first": "{% $states.input %}", "second": "{% $states.result %}"}),
            }
        ),
        responses={SNS: [result("generic")], f"{SNS}#Second": [result("specific")]},
        output={"first": "generic", "second": "specific"},
    ),
    Case(
        rule="a_per_state_key_may_use_the_qualified_name",
        definition=machine(
            {"Each": {"Type": "Map", "Items": [1], "ItemProcessor": branch({"Run": task(RUN_TASK)}), "End": True}}
        ),
        responses={f"{RUN_TASK}#Each/Run": [result("inner")]},
        output=["inner"],
    ),
    # --- what the interpreter refuses
    Case(
        rule="jsonpath_state_machines_are_unsupported",
        definition={"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        status="ERROR",
        error="Unsupported",
        cause_contains=("JSONPath",),
    ),
    Case(
        rule="jsonpath_fields_in_a_jsonata_state_are_unsupported",
        definition=machine({"P": {"Type": "Pass", "Parameters": {"a.$": "$.b"}, "End": True}}),
        status="ERROR",
        error="Unsupported",
        cause_contains=("Parameters",),
    ),
    Case(
        rule="an_unknown_field_is_never_ignored",
        definition=machine({"P": {"Type": "Pass", "Resultt": 1, "End": True}}),
        status="ERROR",
        error="Unsupported",
        cause_contains=("Resultt",),
    ),
    Case(
        rule="a_next_without_its_state_is_an_invalid_definition",
        definition=machine({"P": pass_(next_="Nowhere")}),
        status="ERROR",
        error="InvalidDefinition",
        cause_contains=("Nowhere",),
    ),
]


@pytest.fixture(scope="module")
def traces() -> dict[str, Trace]:
    scenarios = [Scenario(c.definition, c.input, c.responses, c.context) for c in CASES]
    return {case.rule: trace for case, trace in zip(CASES, run(scenarios), strict=True)}


def test_rule_names_are_unique() -> None:
    assert len({case.rule for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.rule for case in CASES])
def test_rule(case: Case, traces: dict[str, Trace]) -> None:
    trace = traces[case.rule]
    assert (trace.status, trace.error) == (case.status, case.error), trace.cause
    for fragment in case.cause_contains:
        assert fragment in (trace.cause or ""), trace.cause
    if case.output is not UNCHECKED:
        assert trace.output == case.output
    if case.states is not None:
        assert trace.states == case.states
    if case.calls is not None:
        assert [(call.state, call.arguments) for call in trace.calls] == case.calls
    if case.variables is not None:
        assert trace.variables == case.variables
    if case.waited_seconds is not None:
        assert trace.waited_seconds == case.waited_seconds
    if case.elapsed_seconds is not None:
        assert trace.elapsed_seconds == case.elapsed_seconds
    if case.timeout_seconds is not UNCHECKED:
        assert trace.timeout_seconds == case.timeout_seconds
    if case.status == "SUCCEEDED":
        assert trace.unconsumed_responses == {}


def test_asl_validator_accepts_a_jsonata_definition() -> None:
    assert validate(REGISTER_WITH_RESULT) == []


def test_asl_validator_rejects_a_missing_transition_target() -> None:
    messages = validate(machine({"P": pass_(next_="Nowhere")}))
    assert any("MISSING_TRANSITION_TARGET" in message and "Nowhere" in message for message in messages), messages


def test_asl_validator_rejects_a_jsonata_syntax_error() -> None:
    messages = validate(machine({"P": pass_("{% $states.input. %}")}))
    assert any("/States/P/Output" in message for message in messages), messages
