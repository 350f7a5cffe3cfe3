"""Offline evaluation of IAM policies for one request, in a single account.

The access ledger asks, for every run-time AWS call the platform depends on, whether the
synthesized policies allow it. A guess that errs towards "allowed" would hide exactly the
bugs the ledger exists to catch, so this evaluator implements only rules it can follow
faithfully and raises :class:`UnsupportedPolicy` for everything else instead of passing it.

Rules followed (AWS documentation):

- Evaluation logic and same-account combination of identity and resource policies:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
  An explicit deny in any applicable policy wins; otherwise, in one account, an allow in an
  identity policy or an allow naming the principal in the resource policy is enough.
- Condition operators:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  A key missing from the request context makes a condition false, except that negated
  operators (StringNotEquals, ArnNotLike, ...) are then true, ``...IfExists`` is then true, and
  ``Null`` tests presence itself. Several operators and several keys are ANDed; the values
  listed for one key are ORed (NORed for negated operators).
- Multi-valued context keys:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  ``ForAllValues:`` is true when every request value matches (and when the key is missing or
  empty); ``ForAnyValue:`` is true when at least one does (and false when the key is missing).
- KMS key policies:
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
  The key policy is always required. IAM policies grant access to a key only when the key
  policy allows the account principal (``arn:aws:iam::ACCOUNT:root``) for the action.

- Cross-account access, only for an external principal whose own account belongs to AWS (the
  load balancer log delivery account of a region): both sides must allow, and the caller's side
  is AWS's own, so the resource policy must allow the principal or its account directly.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html

Not modelled, hence callers must not rely on them: other cross-account access (raises),
permissions boundaries, session policies, SCPs/RCPs, grants, VPC endpoint policies.
The principal's own keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalIsAWSService,
aws:PrincipalServiceName) are added to the request context unless the caller supplies them;
every other key must come from the caller.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Decision", "NamedPolicy", "Principal", "Request", "UnsupportedPolicy", "evaluate"]


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


# Operators whose values are compared one by one; the "Not" forms are their negations.
_STRING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}
    | {"NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"}
)
_NEGATED_OPERATORS = {
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
_ACCOUNT_ID = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:[a-z-]+:(?:iam|sts)::(\d{12}):.+")


@dataclass(frozen=True)
class _Condition:
    operator: str  # as written, for messages
    base: str  # the operator without prefix and suffix, negation kept
    set_operator: Literal["ForAnyValue", "ForAllValues"] | None
    if_exists: bool
    key: str  # lower-cased
    values: tuple[str, ...]


@dataclass(frozen=True)
class _Principals:
    wildcard: bool
    aws: tuple[str, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class _Statement:
    policy: str
    label: str
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: a resource policy statement without Resource
    not_resource: bool
    principals: _Principals | None  # None: identity policy
    conditions: tuple[_Condition, ...]
    variables: bool  # policy version 2012-10-17 gives "${...}" its variable meaning

    @property
    def where(self) -> str:
        return f"{self.policy} statement {self.label}"


def evaluate(
    request: Request,
    *,
    account: str,
    identity_policies: Sequence[NamedPolicy],
    resource_policy: NamedPolicy | None,
    resource_is_kms_key: bool = False,
    external_principal: bool = False,
) -> Decision:
    """Decide ``request`` against the principal's identity policies and the resource's policy.

    ``account`` is the account that owns the resource; a principal of another account raises,
    unless ``external_principal`` says it is an AWS-owned account whose side of the
    cross-account check is not ours to see (then only the resource policy can allow).
    """
    principal_account = _check_request(
        request,
        account=account,
        has_identity_policies=bool(identity_policies),
        resource_policy=resource_policy,
        resource_is_kms_key=resource_is_kms_key,
        external_principal=external_principal,
    )
    context = _request_context(request, principal_account)

    identity = [s for p in identity_policies for s in _parse_policy(p, resource_policy=False)]
    resource = _parse_policy(resource_policy, resource_policy=True) if resource_policy is not None else []

    # 1. An explicit deny anywhere wins.
    for statement in [*identity, *resource]:
        if statement.effect == "Deny" and _applies(statement, request, context, account, deny=True) is not None:
            return Decision(allowed=False, reason=f"explicit deny by {statement.where}")

    # 2. The resource policy either names the principal or, through the account, delegates to IAM.
    delegations: list[_Statement] = []
    for statement in resource:
        if statement.effect != "Allow":
            continue
        match = _applies(statement, request, context, account, deny=False)
        if match == "direct":
            return Decision(allowed=True, reason=f"allowed by {statement.where}")
        if match == "account":
            delegations.append(statement)

    # 3. Identity policies; for a KMS key only where the key policy enables them.
    identity_allow = next(
        (s for s in identity if s.effect == "Allow" and _applies(s, request, context, account, deny=False)),
        None,
    )
    if identity_allow is not None and resource_is_kms_key and not delegations:
        key_policy = resource_policy.name if resource_policy is not None else "(none)"
        return Decision(
            allowed=False,
            reason=(
                f"{identity_allow.where} allows {request.action}, but key policy {key_policy} has no"
                " statement allowing the account principal that action, so IAM policies do not apply to the key"
            ),
        )
    if identity_allow is not None and resource_is_kms_key:
        return Decision(
            allowed=True, reason=f"allowed by {identity_allow.where}, enabled by key policy {delegations[0].where}"
        )
    if identity_allow is not None:
        return Decision(allowed=True, reason=f"allowed by {identity_allow.where}")

    names = [p.name for p in identity_policies] + ([resource_policy.name] if resource_policy is not None else [])
    considered = ", ".join(names) if names else "(no policies)"
    return Decision(
        allowed=False,
        reason=(
            f"no statement of {considered} allows {request.action} on {request.resource} for {request.principal.value}"
        ),
    )


def _check_request(
    request: Request,
    *,
    account: str,
    has_identity_policies: bool,
    resource_policy: NamedPolicy | None,
    resource_is_kms_key: bool,
    external_principal: bool,
) -> str | None:
    """Refuse calls the rules above do not cover; return the principal's account (None for a service)."""
    if not _ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"account must be 12 digits, got {account!r}")
    principal = request.principal
    if principal.kind == "Service" and has_identity_policies:
        raise ValueError(f"service principal {principal.value} has no identity policies, yet some were passed")
    if resource_is_kms_key and resource_policy is None:
        raise ValueError(f"a KMS key always has a key policy; pass it to evaluate {request.action}")
    principal_account = _principal_account(principal)
    if external_principal:
        if principal_account is None or principal_account == account or has_identity_policies:
            raise ValueError("an external principal is a role of another account, without identity policies here")
        return principal_account
    if principal_account is not None and principal_account != account:
        raise UnsupportedPolicy(
            f"cross-account request from {principal.value} to account {account} is not evaluated by this module"
        )
    return principal_account


# --- Parsing ---------------------------------------------------------------------------------


def _parse_policy(policy: NamedPolicy, *, resource_policy: bool) -> list[_Statement]:
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


def _parse_statement(policy: str, index: int, raw: Any, *, resource_policy: bool, variables: bool) -> _Statement:
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
    return _Statement(
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


def _parse_principals(raw: Any, where: str) -> _Principals:
    if raw == "*":
        return _Principals(wildcard=True, aws=(), services=())
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
    return _Principals(wildcard=wildcard, aws=aws, services=services)


def _parse_conditions(raw: Any, where: str) -> tuple[_Condition, ...]:
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicy(f"{where}: Condition must be an object")
    conditions: list[_Condition] = []
    for operator, block in raw.items():
        set_operator: Literal["ForAnyValue", "ForAllValues"] | None = None
        name = operator
        if name.startswith("ForAnyValue:"):
            set_operator, name = "ForAnyValue", name.removeprefix("ForAnyValue:")
        elif name.startswith("ForAllValues:"):
            set_operator, name = "ForAllValues", name.removeprefix("ForAllValues:")
        if_exists = name.endswith("IfExists")
        base = name.removesuffix("IfExists")
        known = base in _STRING_OPERATORS or base in _NEGATED_OPERATORS or (base == "Null" and not if_exists)
        if not known:
            raise UnsupportedPolicy(f"{where}: condition operator {operator!r} is not supported")
        if base == "Null" and set_operator is not None:
            raise UnsupportedPolicy(f"{where}: condition operator {operator!r} is not supported")
        if not isinstance(block, Mapping):
            raise UnsupportedPolicy(f"{where}: condition {operator} must map keys to values")
        for key, value in block.items():
            values = _strings(value, f"{where} condition {operator} {key}")
            conditions.append(
                _Condition(
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


# --- Matching --------------------------------------------------------------------------------


def _principal_account(principal: Principal) -> str | None:
    if principal.kind == "Service":
        if not principal.value or "*" in principal.value:
            raise ValueError(f"service principal must be a service name, got {principal.value!r}")
        return None
    match = _IAM_ARN.fullmatch(principal.value)
    if match is None:
        raise UnsupportedPolicy(f"principal {principal.value!r} is not an IAM role or user ARN")
    return match.group(1)


def _request_context(request: Request, principal_account: str | None) -> dict[str, str | tuple[str, ...]]:
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


def _applies(
    statement: _Statement,
    request: Request,
    context: Mapping[str, str | tuple[str, ...]],
    account: str,
    *,
    deny: bool,
) -> Literal["direct", "account"] | None:
    """Whether the statement covers the request; for resource policies, how the principal matched."""
    if _matches_any(statement.actions, request.action, ignore_case=True) == statement.not_action:
        return None
    if statement.resources is not None:
        _refuse_variables(statement, statement.resources, "Resource")
        if _matches_any(statement.resources, request.resource, ignore_case=False) == statement.not_resource:
            return None
    match: Literal["direct", "account", "wildcard-service"] | None = "direct"
    if statement.principals is not None:
        match = _principal_match(statement.principals, request.principal, account, deny=deny, context=context)
        if match is None:
            return None
    if not all(_condition_holds(c, context, statement) for c in statement.conditions):
        return None
    if match == "wildcard-service":
        raise UnsupportedPolicy(
            f"{statement.where}: whether a wildcard principal allows service principal"
            f" {request.principal.value} differs between services"
        )
    return match


def _principal_match(
    principals: _Principals,
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
    if _ACCOUNT_ID.fullmatch(value):
        return value
    match = re.fullmatch(r"arn:[a-z-]+:iam::(\d{12}):root", value)
    return match.group(1) if match else None


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: "*" any run of characters (":" and "/" included), "?" exactly one."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _matches_any(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    return any(_glob(p, ignore_case=ignore_case).fullmatch(value) for p in patterns)


def _refuse_variables(statement: _Statement, values: Sequence[str], element: str) -> None:
    if statement.variables:
        for value in values:
            if "${" in value:
                raise UnsupportedPolicy(f"{statement.where}: policy variable in {element} value {value!r}")


def _condition_holds(
    condition: _Condition, context: Mapping[str, str | tuple[str, ...]], statement: _Statement
) -> bool:
    _refuse_variables(statement, condition.values, f"condition {condition.operator}")
    raw = context.get(condition.key)
    present = raw is not None and raw != ()
    where = f"{statement.where} condition {condition.operator} {condition.key}"

    if condition.base == "Null":
        expectations = {v.lower() for v in condition.values}
        if not expectations <= {"true", "false"}:
            raise UnsupportedPolicy(f"{where}: Null takes true or false, got {list(condition.values)}")
        return ("true" in expectations and not present) or ("false" in expectations and present)

    negated = condition.base in _NEGATED_OPERATORS
    positive = _NEGATED_OPERATORS.get(condition.base, condition.base)
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
