"""What a workflow needs to take AWS credentials, from the spec: the role of its job and the region.

    python -m tools.ci_settings --env dev --account 111122223333 >> "$GITHUB_OUTPUT"

prints ``key=value`` lines (GitHub's step-output format): ``region`` (the environment's platform
region), ``deploy_role``, ``release_role``, ``app_release_role`` (where the spec names application
repositories) and ``diff_role``, each a role ARN in the environment's account (the spec's, with
separate accounts; else ``--account``), and ``toolkit_stack`` (its bootstrap stack's name). The workflows call it before
installing anything, with the runner's Python, so it imports nothing but the spec (plain Python):
a renamed project or a moved platform changes what the workflows assume with no workflow edit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from platform_spec import SpecError
from platform_spec.ci import CiSpec, ci
from tools.bootstrap_policy import account_for
from tools.cli import fail


def settings(spec: CiSpec, *, environment: str, account: str | None) -> dict[str, str]:
    """The outputs for ``environment``'s jobs, in its account (``account`` where the spec names none)."""
    account = account_for(spec, environment, account)

    def role(name: str) -> str:
        return f"arn:aws:iam::{account}:role/{name}"

    found = {
        "region": spec.region_of(environment),
        "deploy_role": role(spec.deploy_role_name(environment)),
        "release_role": role(spec.release_role_name(environment)),
        "diff_role": role(spec.diff_role_name),
        "toolkit_stack": spec.toolkit_stack_name(environment),
    }
    if spec.application_repositories:
        found["app_release_role"] = role(spec.app_release_role_name(environment))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.ci_settings",
        description="Print, as GitHub step outputs, the region and the CI roles of one environment.",
    )
    parser.add_argument("--env", required=True, help="the platform environment (profile) the job acts on")
    parser.add_argument("--account", help="the AWS account id the roles are in (the spec's with separate accounts)")
    arguments = parser.parse_args(argv)
    try:
        found = settings(ci(), environment=arguments.env, account=arguments.account)
    except SpecError as error:
        return fail(str(error))
    for key, value in found.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
