"""What an administrator runs to bootstrap one environment for CI, generated from the CI spec.

    python -m tools.bootstrap_policy --env dev --account 111122223333 --write bootstrap

writes the environment's execution policy and permissions boundary (``<prefix>-cdk-execution.json``,
``<prefix>-cdk-boundary.json``, from ``platform_spec.bootstrap_policy``) into ``bootstrap/`` and prints
the commands that create them and run ``cdk bootstrap`` with them, one a line, in order
(docs/operations.md, "First deploy into an empty account"). Without ``--write`` it only prints.
With separate accounts the spec names the account, and ``--account`` may be left out.
Plain Python: it imports nothing but the spec.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from platform_spec import SpecError
from platform_spec.bootstrap_policy import (
    bootstrap_commands,
    boundary_name,
    execution_policy,
    execution_policy_name,
    permissions_boundary,
)
from platform_spec.ci import CiSpec, ci
from tools.cli import fail

_ACCOUNT = re.compile(r"^\d{12}$")


def account_for(spec: CiSpec, environment: str, given: str | None) -> str:
    """The account ``environment`` is bootstrapped in: the spec's (separate accounts) or ``--account``."""
    if environment not in spec.environments:
        raise SpecError("--env", environment, f"not an environment of the CI spec ({', '.join(spec.environments)})")
    named = spec.account_of(environment)
    if named is not None and given not in (None, "", named):
        raise SpecError("--account", given, f"the CI spec puts {environment} in account {named}")
    account = named or given
    if account is None or not _ACCOUNT.match(account):
        raise SpecError("--account", account, "must be a 12-digit AWS account id (the AWS_ACCOUNT_ID variable)")
    return account


def documents(spec: CiSpec, environment: str, account: str) -> dict[str, dict[str, object]]:
    """File name -> policy document, for ``aws iam create-policy``."""
    if not spec.scoped_execution:
        return {}
    return {
        f"{execution_policy_name(spec, environment)}.json": execution_policy(spec, environment, account=account),
        f"{boundary_name(spec, environment)}.json": permissions_boundary(spec, environment, account=account),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bootstrap_policy",
        description="Print the commands that bootstrap one environment; write its execution policy and boundary.",
    )
    parser.add_argument("--env", required=True, help="the platform environment (profile) to bootstrap")
    parser.add_argument("--account", help="the AWS account id (the CI spec names it with separate accounts)")
    parser.add_argument("--write", metavar="DIR", help="write the two policy documents into DIR")
    arguments = parser.parse_args(argv)
    spec = ci()
    try:
        account = account_for(spec, arguments.env, arguments.account)
    except SpecError as error:
        return fail(str(error))
    directory = arguments.write or "bootstrap"
    if arguments.write:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for name, document in documents(spec, arguments.env, account).items():
            (Path(directory) / name).write_text(json.dumps(document, indent=2) + "\n")
    for command in bootstrap_commands(spec, arguments.env, account=account, policy_dir=directory):
        print(command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
