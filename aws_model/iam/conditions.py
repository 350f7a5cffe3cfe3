"""Matching: IAM wildcards in actions and resources, and condition operators against the
request context (AWS IAM user guide, "Condition operators" and "Single-valued vs.
multi-valued context keys")."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from aws_model.iam.requests import UnsupportedPolicy
from aws_model.iam.statements import NEGATED_OPERATORS, Condition, Statement


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: "*" any run of characters (":" and "/" included), "?" exactly one."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches_any(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    return any(_glob(p, ignore_case=ignore_case).fullmatch(value) for p in patterns)


def refuse_variables(statement: Statement, values: Sequence[str], element: str) -> None:
    if statement.variables:
        for value in values:
            if "${" in value:
                raise UnsupportedPolicy(f"{statement.where}: policy variable in {element} value {value!r}")


def condition_holds(condition: Condition, context: Mapping[str, str | tuple[str, ...]], statement: Statement) -> bool:
    refuse_variables(statement, condition.values, f"condition {condition.operator}")
    raw = context.get(condition.key)
    present = raw is not None and raw != ()
    where = f"{statement.where} condition {condition.operator} {condition.key}"

    if condition.base == "Null":
        expectations = {v.lower() for v in condition.values}
        if not expectations <= {"true", "false"}:
            raise UnsupportedPolicy(f"{where}: Null takes true or false, got {list(condition.values)}")
        return ("true" in expectations and not present) or ("false" in expectations and present)

    negated = condition.base in NEGATED_OPERATORS
    positive = NEGATED_OPERATORS.get(condition.base, condition.base)
    if not present:
        # ForAllValues and IfExists hold on a missing key; ForAnyValue does not; plain operators hold if negated.
        if condition.set_operator == "ForAllValues" or condition.if_exists:
            return True
        return negated and condition.set_operator is None

    assert raw is not None
    if condition.set_operator is None and isinstance(raw, tuple):
        raise UnsupportedPolicy(f"{where}: multi-valued context key needs ForAnyValue: or ForAllValues:")
    request_values = raw if isinstance(raw, tuple) else (raw,)

    def one(value: str) -> bool:
        hit = any(_value_matches(positive, policy_value, value, where) for policy_value in condition.values)
        return hit != negated

    if condition.set_operator == "ForAllValues":
        return all(one(v) for v in request_values)
    return any(one(v) for v in request_values)


def _value_matches(operator: str, policy_value: str, value: str, where: str) -> bool:
    if operator == "StringEquals":
        return policy_value == value
    if operator == "StringEqualsIgnoreCase":
        return policy_value.casefold() == value.casefold()
    if operator == "StringLike":
        return _glob(policy_value, ignore_case=False).fullmatch(value) is not None
    if operator in ("ArnEquals", "ArnLike"):
        return _arn_matches(policy_value, value, where)
    if operator == "Bool":
        if policy_value.lower() not in ("true", "false"):
            raise UnsupportedPolicy(f"{where}: Bool takes true or false, got {policy_value!r}")
        return policy_value.lower() == value.lower()
    # Numeric operators.
    wanted, got = _number(policy_value, where), _number(value, where)
    comparisons = {
        "NumericEquals": got == wanted,
        "NumericLessThan": got < wanted,
        "NumericLessThanEquals": got <= wanted,
        "NumericGreaterThan": got > wanted,
        "NumericGreaterThanEquals": got >= wanted,
    }
    return comparisons[operator]


def _arn_matches(pattern: str, value: str, where: str) -> bool:
    """ArnEquals and ArnLike compare each of the six colon-separated parts, wildcards allowed."""
    pattern_parts = pattern.split(":", 5)
    if len(pattern_parts) != 6 or pattern_parts[0] != "arn":
        raise UnsupportedPolicy(f"{where}: {pattern!r} is not an ARN pattern")
    value_parts = value.split(":", 5)
    if len(value_parts) != 6:
        return False
    return all(_glob(p, ignore_case=False).fullmatch(v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UnsupportedPolicy(f"{where}: {text!r} is not a number") from None
