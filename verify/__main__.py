"""``python -m verify --env dev``: check a deployed environment, print a table, exit 0 only if all pass.

A scheduled environment is not checked while it sleeps: outside its window the command says so
in one line and exits 2 before any AWS call (see
docs/operations.md, "Releasing and verifying while dev sleeps")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from layers.release.asleep import refusal
from platform_spec import SpecError, spec_from_context
from tools.cli import NO_CREDENTIALS, fail
from verify.checks import run_all
from verify.deployment import NotDeployedError, load_deployment
from verify.results import CheckResult, Status


def render(results: Sequence[CheckResult]) -> str:
    rows = [("CHECK", "SUBJECT", "RESULT", "DETAIL")] + [
        (r.check, r.subject, r.status.value, r.detail) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]) for row in rows
    ]
    failed = sum(1 for r in results if r.status is not Status.PASS)
    verdict = "PASS: all checks passed" if failed == 0 else f"FAIL: {failed} of {len(results)} checks failed"
    return "\n".join([*lines, "", verdict])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] = _utc_now) -> int:
    """Run the checks; ``now`` is the clock a scheduled environment's window is judged by."""
    parser = argparse.ArgumentParser(prog="python -m verify", description=__doc__)
    parser.add_argument("--env", default="dev", help="profile to verify (dev or prod)")
    parser.add_argument("--log-minutes", type=int, default=10, help="how far back to look for error lines")
    args = parser.parse_args(argv)
    try:
        spec = spec_from_context({"env": args.env})
        asleep = refusal(spec, now(), doing="verify")
        if asleep is not None:
            return fail(asleep)
        session = boto3.Session(region_name=spec.region)
        clients = {
            name: session.client(name) for name in ("cloudformation", "ecs", "servicediscovery", "logs", "elbv2")
        }
        deployment = load_deployment(spec, clients["cloudformation"])
    except (SpecError, NotDeployedError) as error:
        return fail(str(error))
    except NoCredentialsError:
        return fail(NO_CREDENTIALS)
    except (BotoCoreError, ClientError) as error:
        return fail(f"could not read the stacks: {error}")
    results = run_all(clients, deployment, log_minutes=args.log_minutes)
    print(render(results))
    return 0 if all(r.status is Status.PASS for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
