"""What the IAM evaluator judges and answers: a request (principal, action, resource, context),
the policies it is judged against, the decision, and the refusal to judge what it cannot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Decision", "NamedPolicy", "Principal", "Request", "UnsupportedPolicy"]


class UnsupportedPolicy(Exception):  # noqa: N818 (the name the access ledger is written against)
    """A policy or request the evaluator cannot judge faithfully; never treated as allow or deny."""


@dataclass(frozen=True)
class Principal:
    """Who makes the call: a role (kind "AWS", its ARN) or an AWS service (kind "Service")."""

    kind: Literal["AWS", "Service"]
    value: str


@dataclass(frozen=True)
class Request:
    """One call: condition-key names in ``context`` are case-insensitive, as in IAM."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str | bool | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class NamedPolicy:
    """A resolved policy document with a name that decisions quote, e.g. "stack/RoleDefaultPolicy"."""

    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """The outcome and the statement (or absence of one) that decided it."""

    allowed: bool
    reason: str
