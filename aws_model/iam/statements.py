"""Policy documents parsed into statements, validated whole before any is matched: a malformed
or unsupported element is refused (``UnsupportedPolicy``), never half-evaluated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_model.iam.requests import NamedPolicy, UnsupportedPolicy

# Operators whose values are compared one by one; the "Not" forms are their negations.
_STRING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}
    | {"NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"}
)
NEGATED_OPERATORS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}
_STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"}
)
_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, for messages
    base: str  # the operator without prefix and suffix, negation kept
    set_operator: Literal["ForAnyValue", "ForAllValues"] | None
    if_exists: bool
    key: str  # lower-cased
    values: tuple[str, ...]


@dataclass(frozen=True)
class Principals:
    wildcard: bool
    aws: tuple[str, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    policy: str
    label: str
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: a resource policy statement without Resource
    not_resource: bool
    principals: Principals | None  # None: identity policy
    conditions: tuple[Condition, ...]
    variables: bool  # policy version 2012-10-17 gives "${...}" its variable meaning

    @property
    def where(self) -> str:
        return f"{self.policy} statement {self.label}"


def parse_policy(policy: NamedPolicy, *, resource_policy: bool) -> list[Statement]:
    """Validate the whole document up front, so a malformed statement never goes unnoticed."""
    document = policy.document
    if not isinstance(document, Mapping):
        raise UnsupportedPolicy(f"{policy.name}: policy document is not an object")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise UnsupportedPolicy(f"{policy.name}: unknown policy element(s) {sorted(unknown)}")
    version = document.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise UnsupportedPolicy(f"{policy.name}: unknown policy Version {version!r}")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not statements:
        raise UnsupportedPolicy(f"{policy.name}: Statement must be an object or a non-empty list")
    return [
        _parse_statement(policy.name, index, s, resource_policy=resource_policy, variables=version == "2012-10-17")
        for index, s in enumerate(statements)
    ]


def _parse_statement(policy: str, index: int, raw: Any, *, resource_policy: bool, variables: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicy(f"{policy} statement {index}: statement is not an object")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise UnsupportedPolicy(f"{policy} statement {index}: Sid must be a string")
    label = sid if sid else str(index)
    where = f"{policy} statement {label}"
    _check_elements(raw, where, resource_policy=resource_policy)
    effect = raw["Effect"]
    principals = _parse_principals(raw["Principal"], where) if resource_policy else None
    not_action = "NotAction" in raw
    actions = _strings(raw["NotAction" if not_action else "Action"], f"{where} Action")
    not_resource = "NotResource" in raw
    resources: tuple[str, ...] | None = None
    if "Resource" in raw or not_resource:
        resources = _strings(raw["NotResource" if not_resource else "Resource"], f"{where} Resource")
    conditions = _parse_conditions(raw.get("Condition", {}), where)
    return Statement(
        policy=policy,
        label=label,
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        conditions=conditions,
        variables=variables,
    )


def _check_elements(raw: Mapping[str, Any], where: str, *, resource_policy: bool) -> None:
    """Structural rules of a statement; anything off is refused rather than half-evaluated."""
    unknown = set(raw) - _STATEMENT_ELEMENTS
    if unknown:
        raise UnsupportedPolicy(f"{where}: unknown element(s) {sorted(unknown)}")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise UnsupportedPolicy(f"{where}: Effect must be Allow or Deny, got {raw.get('Effect')!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise UnsupportedPolicy(f"{where}: exactly one of Action and NotAction is required")
    if "Resource" in raw and "NotResource" in raw:
        raise UnsupportedPolicy(f"{where}: Resource and NotResource are mutually exclusive")
    if "NotPrincipal" in raw:
        raise UnsupportedPolicy(f"{where}: NotPrincipal is not supported")
    if resource_policy and "Principal" not in raw:
        raise UnsupportedPolicy(f"{where}: a resource policy statement needs a Principal")
    if not resource_policy and "Principal" in raw:
        raise UnsupportedPolicy(f"{where}: an identity policy statement cannot have a Principal")
    if not resource_policy and "Resource" not in raw and "NotResource" not in raw:
        raise UnsupportedPolicy(f"{where}: an identity policy statement needs Resource or NotResource")


def _parse_principals(raw: Any, where: str) -> Principals:
    if raw == "*":
        return Principals(wildcard=True, aws=(), services=())
    if not isinstance(raw, Mapping) or not raw:
        raise UnsupportedPolicy(f'{where}: Principal must be "*" or a non-empty object, got {raw!r}')
    aws: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    wildcard = False
    for kind, value in raw.items():
        values = _strings(value, f"{where} Principal {kind}")
        if kind == "AWS":
            wildcard = wildcard or "*" in values
            aws = tuple(v for v in values if v != "*")
            for v in aws:
                if "*" in v or "?" in v:
                    raise UnsupportedPolicy(f"{where}: wildcard inside principal {v!r} is not supported")
        elif kind == "Service":
            services = values
        elif kind not in ("Federated", "CanonicalUser"):
            # Federated and CanonicalUser principals never match a role or a service: left out safely.
            raise UnsupportedPolicy(f"{where}: unknown principal type {kind!r}")
    return Principals(wildcard=wildcard, aws=aws, services=services)


def _parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicy(f"{where}: Condition must be an object")
    conditions: list[Condition] = []
    for operator, block in raw.items():
        set_operator: Literal["ForAnyValue", "ForAllValues"] | None = None
        name = operator
        if name.startswith("ForAnyValue:"):
            set_operator, name = "ForAnyValue", name.removeprefix("ForAnyValue:")
        elif name.startswith("ForAllValues:"):
            set_operator, name = "ForAllValues", name.removeprefix("ForAllValues:")
        if_exists = name.endswith("IfExists")
        base = name.removesuffix("IfExists")
        known = base in _STRING_OPERATORS or base in NEGATED_OPERATORS or (base == "Null" and not if_exists)
        if not known:
            raise UnsupportedPolicy(f"{where}: condition operator {operator!r} is not supported")
        if base == "Null" and set_operator is not None:
            raise UnsupportedPolicy(f"{where}: condition operator {operator!r} is not supported")
        if not isinstance(block, Mapping):
            raise UnsupportedPolicy(f"{where}: condition {operator} must map keys to values")
        for key, value in block.items():
            values = _strings(value, f"{where} condition {operator} {key}")
            conditions.append(
                Condition(
                    operator=operator,
                    base=base,
                    set_operator=set_operator,
                    if_exists=if_exists,
                    key=key.lower(),
                    values=values,
                )
            )
    return tuple(conditions)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """Policy values are a string or a list of them; booleans and numbers read as their JSON text."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, int | float):
            out.append(str(item))
        elif isinstance(item, Mapping):
            raise UnsupportedPolicy(f"{where}: unresolved value {item!r}; resolve CloudFormation intrinsics first")
        else:
            raise UnsupportedPolicy(f"{where}: unsupported value {item!r}")
    if not out:
        raise UnsupportedPolicy(f"{where}: empty list of values")
    return tuple(out)
