"""Principals: whose account a caller is in, the keys a principal adds to the request context,
and how a resource policy's Principal element matches a caller."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from aws_model.iam.requests import Principal, Request, UnsupportedPolicy
from aws_model.iam.statements import Principals

ACCOUNT_ID = re.compile(r"\d{12}")
IAM_ARN = re.compile(r"arn:[a-z-]+:(?:iam|sts)::(\d{12}):.+")


def account_of(principal: Principal) -> str | None:
    if principal.kind == "Service":
        if not principal.value or "*" in principal.value:
            raise ValueError(f"service principal must be a service name, got {principal.value!r}")
        return None
    match = IAM_ARN.fullmatch(principal.value)
    if match is None:
        raise UnsupportedPolicy(f"principal {principal.value!r} is not an IAM role or user ARN")
    return match.group(1)


def request_context(request: Request, principal_account: str | None) -> dict[str, str | tuple[str, ...]]:
    """Lower-case the keys, render booleans as IAM does, and add the principal's own keys."""
    context: dict[str, str | tuple[str, ...]] = {}
    for key, value in request.context.items():
        lowered = key.lower()
        if lowered in context:
            raise ValueError(f"context key {key!r} given twice (condition keys are case-insensitive)")
        if isinstance(value, bool):
            context[lowered] = "true" if value else "false"
        elif isinstance(value, str):
            context[lowered] = value
        else:
            context[lowered] = tuple(value)
    principal = request.principal
    implied: dict[str, str] = {"aws:principalisawsservice": "true" if principal.kind == "Service" else "false"}
    if principal.kind == "Service":
        implied["aws:principalservicename"] = principal.value
    else:
        implied["aws:principalarn"] = principal.value
        implied["aws:principalaccount"] = principal_account or ""
    for key, value in implied.items():
        context.setdefault(key, value)
    return context


def principal_match(
    principals: Principals,
    principal: Principal,
    account: str,
    *,
    deny: bool,
    context: Mapping[str, str | tuple[str, ...]],
) -> Literal["direct", "account", "wildcard-service"] | None:
    if principals.wildcard:
        if principal.kind == "AWS" or deny:
            return "direct"
        return "wildcard-service"
    if principal.kind == "Service":
        return "direct" if principal.value in principals.services else None
    for value in principals.aws:
        owner = _account_principal(value)
        if owner == account:
            # An account principal delegates to the account's IAM policies; in a Deny it covers them all.
            return "direct" if deny else "account"
        # A role named directly, or another account named as a whole (its side of the check is its own).
        if value == principal.value or (owner is not None and owner == context.get("aws:principalaccount")):
            return "direct"
    return None


def _account_principal(value: str) -> str | None:
    if ACCOUNT_ID.fullmatch(value):
        return value
    match = re.fullmatch(r"arn:[a-z-]+:iam::(\d{12}):root", value)
    return match.group(1) if match else None
