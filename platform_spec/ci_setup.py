"""The CI spec's set-up (``CiSpec.setup``), checked: separate accounts, each environment's named; or one
shared account, each environment with a qualifier of its own (docs/operations.md, "CI roles")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from platform_spec.errors import SpecError
from platform_spec.profiles import PROFILES

if TYPE_CHECKING:
    from platform_spec.ci import CiSpec

SEPARATE_ACCOUNTS = "separate-accounts"
SHARED_ACCOUNT = "shared-account"
SETUPS = (SEPARATE_ACCOUNTS, SHARED_ACCOUNT)
_ACCOUNT = re.compile(r"^\d{12}$")
# The CDK bootstrap template's AllowedPattern for its Qualifier parameter.
_QUALIFIER = re.compile(r"^[A-Za-z0-9_-]{1,10}$")


def check_setup(spec: CiSpec) -> None:
    """The set-up's fields, each refused in one line naming it."""
    if spec.setup not in SETUPS:
        raise SpecError("setup", spec.setup, f"choose {' or '.join(SETUPS)}")
    accounts = _pairs(spec, "accounts", spec.accounts, _ACCOUNT, "a 12-digit AWS account id")
    qualifiers = _pairs(
        spec,
        "qualifiers",
        spec.qualifiers,
        _QUALIFIER,
        "1-10 letters, digits, '_' or '-' (the bootstrap template's rule)",
    )
    for flag in ("scoped_execution", "workflow_subjects"):
        if not isinstance(getattr(spec, flag), bool):
            raise SpecError(flag, getattr(spec, flag), "must be True or False")
    if spec.setup == SEPARATE_ACCOUNTS:
        _check_separate(spec, accounts)
        return
    _check_shared(spec, accounts, qualifiers)


def _check_separate(spec: CiSpec, accounts: dict[str, str]) -> None:
    missing = [environment for environment in spec.environments if environment not in accounts]
    if missing:
        raise SpecError(
            "accounts",
            spec.accounts,
            f"separate-accounts names every environment's account: {missing[0]} has none",
        )
    if len(set(accounts.values())) != len(accounts):
        raise SpecError("accounts", spec.accounts, "separate-accounts gives each environment an account of its own")


def _check_shared(spec: CiSpec, accounts: dict[str, str], qualifiers: dict[str, str]) -> None:
    if accounts:
        raise SpecError(
            "accounts", spec.accounts, "shared-account takes its one account from the workflows' AWS_ACCOUNT_ID"
        )
    if not spec.scoped_execution:
        raise SpecError("scoped_execution", spec.scoped_execution, "shared-account needs the scoped execution policy")
    missing = [environment for environment in spec.environments if environment not in qualifiers]
    if missing:
        raise SpecError(
            "qualifiers",
            spec.qualifiers,
            f"shared-account gives every environment a qualifier: {missing[0]} has none",
        )
    if len(set(qualifiers.values())) != len(qualifiers):
        raise SpecError("qualifiers", spec.qualifiers, "shared-account needs a distinct qualifier per environment")
    detecting = [e for e in spec.environments if PROFILES[e]().audit.creates_detector]
    if len(detecting) > 1:
        raise SpecError(
            "audit.detector",
            detecting,
            "one account holds one GuardDuty detector per region: only one environment's profile may make it",
        )
    for environment in spec.environments:
        for other in spec.environments:
            if other != environment and f"{spec.stack_prefix(environment)}-" in f"{spec.stack_prefix(other)}-":
                # The boundary denies by name: one prefix inside another would deny an environment its own.
                raise SpecError(
                    "environments",
                    (environment, other),
                    "in one account, no environment's prefix may contain another's",
                )


def _pairs(spec: CiSpec, field_name: str, value: object, pattern: re.Pattern[str], what: str) -> dict[str, str]:
    """``(environment, value)`` pairs as a mapping, each environment known and named once."""
    if not isinstance(value, tuple) or not all(isinstance(pair, tuple) and len(pair) == 2 for pair in value):
        raise SpecError(field_name, value, "must be a tuple of (environment, value) pairs")
    found: dict[str, str] = {}
    for environment, item in value:
        if environment not in spec.environments:
            raise SpecError(
                field_name, environment, f"not an environment of the CI spec ({', '.join(spec.environments)})"
            )
        if environment in found:
            raise SpecError(field_name, environment, "named twice")
        if not isinstance(item, str) or not pattern.match(item):
            raise SpecError(field_name, item, f"must be {what}")
        found[environment] = item
    return found
