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

from collections.abc import Mapping, Sequence
from typing import Literal

from aws_model.iam.conditions import condition_holds, matches_any, refuse_variables
from aws_model.iam.principals import ACCOUNT_ID, account_of, principal_match, request_context
from aws_model.iam.requests import Decision, NamedPolicy, Request, UnsupportedPolicy
from aws_model.iam.statements import Statement, parse_policy

__all__ = ["evaluate"]


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
    context = request_context(request, principal_account)

    identity = [s for p in identity_policies for s in parse_policy(p, resource_policy=False)]
    resource = parse_policy(resource_policy, resource_policy=True) if resource_policy is not None else []

    # 1. An explicit deny anywhere wins.
    for statement in [*identity, *resource]:
        if statement.effect == "Deny" and _applies(statement, request, context, account, deny=True) is not None:
            return Decision(allowed=False, reason=f"explicit deny by {statement.where}")

    # 2. The resource policy either names the principal or, through the account, delegates to IAM.
    delegations: list[Statement] = []
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
    if not ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"account must be 12 digits, got {account!r}")
    principal = request.principal
    if principal.kind == "Service" and has_identity_policies:
        raise ValueError(f"service principal {principal.value} has no identity policies, yet some were passed")
    if resource_is_kms_key and resource_policy is None:
        raise ValueError(f"a KMS key always has a key policy; pass it to evaluate {request.action}")
    principal_account = account_of(principal)
    if external_principal:
        if principal_account is None or principal_account == account or has_identity_policies:
            raise ValueError("an external principal is a role of another account, without identity policies here")
        return principal_account
    if principal_account is not None and principal_account != account:
        raise UnsupportedPolicy(
            f"cross-account request from {principal.value} to account {account} is not evaluated by this module"
        )
    return principal_account


def _applies(
    statement: Statement,
    request: Request,
    context: Mapping[str, str | tuple[str, ...]],
    account: str,
    *,
    deny: bool,
) -> Literal["direct", "account"] | None:
    """Whether the statement covers the request; for resource policies, how the principal matched."""
    if matches_any(statement.actions, request.action, ignore_case=True) == statement.not_action:
        return None
    if statement.resources is not None:
        refuse_variables(statement, statement.resources, "Resource")
        if matches_any(statement.resources, request.resource, ignore_case=False) == statement.not_resource:
            return None
    match: Literal["direct", "account", "wildcard-service"] | None = "direct"
    if statement.principals is not None:
        match = principal_match(statement.principals, request.principal, account, deny=deny, context=context)
        if match is None:
            return None
    if not all(condition_holds(c, context, statement) for c in statement.conditions):
        return None
    if match == "wildcard-service":
        raise UnsupportedPolicy(
            f"{statement.where}: whether a wildcard principal allows service principal"
            f" {request.principal.value} differs between services"
        )
    return match
