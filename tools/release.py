"""Release an image tag, see what is released, and what a deploy keeps.

    python -m tools.release start --env dev --tag sha-4f2a9c1   # release (or roll back to) a tag, and wait
    python -m tools.release show --env dev                      # the tag each service runs
    python -m tools.release parameters cdk.out                  # offline: where each service's tag comes from

``start`` is the one release path, for CI and for people: it starts the deployment state
machine with ``{"imageTag": tag}``, waits for it, prints the outcome and exits 1 with the
state machine's error when the release failed. A scheduled environment is not released while
it sleeps: outside its window ``start`` says so in one line and exits 2 before any AWS call
(the state machine refuses too, by its database's state: ``layers/release/asleep.py``). Rolling back
by hand is releasing the previous tag. ``show`` reads the compute stack's outputs.
``parameters`` prints, from a synthesized assembly, the parameter that holds each service's
tag, and fails when a service's image does not come from one (a deploy of such a template
would change what runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from layers.release.asleep import refusal
from platform_spec import PlatformSpec, SpecError, check_image_tag, spec_from_context
from platform_spec.names import (
    COMPUTE,
    DELIVERY,
    PUBLIC_URL,
    RELEASED_IMAGE_TAG,
    STATE_MACHINE_ARN,
    image_tag_parameter,
    output_key,
)
from tools.cli import aws_failure, fail

POLL_SECONDS = 15
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class ReleaseError(Exception):
    """A one-line reason the command cannot go on."""


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise ReleaseError(f"cannot read stack {stack_name}: {error}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def start_release(
    spec: PlatformSpec,
    tag: str,
    *,
    cloudformation: Any,
    stepfunctions: Any,
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> int:
    """Start the release of ``tag`` and, unless ``wait`` is off, follow it to its end."""
    check_image_tag("--tag", tag)
    delivery = spec.stack_name(DELIVERY)
    arn = stack_outputs(cloudformation, delivery).get(STATE_MACHINE_ARN)
    if arn is None:
        raise ReleaseError(f"stack {delivery} has no output {STATE_MACHINE_ARN}: deploy the current code first")
    execution = stepfunctions.start_execution(stateMachineArn=arn, input=json.dumps({"imageTag": tag}))
    execution_arn = execution["executionArn"]
    say(f"releasing {tag} to {spec.stack_prefix}: {execution_arn}")
    if not wait:
        return 0
    while True:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
        if described["status"] in FINISHED:
            break
        sleep(POLL_SECONDS)
    if described["status"] == "SUCCEEDED":
        say(f"released {tag} to {spec.stack_prefix}")
        return 0
    say(f"release of {tag} {described['status']}: {described.get('error', '')}: {described.get('cause', '')}")
    return 1


def released_tags(spec: PlatformSpec, *, cloudformation: Any) -> dict[str, str]:
    """Service name -> the tag its stack says it runs."""
    values = stack_outputs(cloudformation, spec.stack_name(COMPUTE))
    return {s.name: values.get(output_key(s.name, RELEASED_IMAGE_TAG), "(unknown)") for s in spec.services}


def public_url(spec: PlatformSpec, *, cloudformation: Any) -> str:
    """Where viewers reach the platform, from the compute stack's output."""
    return str(stack_outputs(cloudformation, spec.stack_name(COMPUTE)).get(PUBLIC_URL, "(unknown)"))


def tag_parameters(spec: PlatformSpec, compute_template: dict[str, Any]) -> list[str]:
    """One line per service: the parameter its image tag comes from; problems raise."""
    parameters = compute_template.get("Parameters", {})
    images = json.dumps(
        [
            c["Image"]
            for r in compute_template["Resources"].values()
            if r["Type"] == "AWS::ECS::TaskDefinition"
            for c in r["Properties"]["ContainerDefinitions"]
        ]
    )
    lines = []
    for service in spec.services:
        name = image_tag_parameter(service.name)
        if name not in parameters:
            raise ReleaseError(
                f"the compute template has no parameter {name}: a deploy would set {service.name}'s image"
            )
        if json.dumps({"Ref": name}) not in images:
            raise ReleaseError(f"{service.name}'s image does not come from parameter {name}")
        default = parameters[name].get("Default")
        lines.append(
            f"{service.name}: image tag from parameter {name} (first deploy: {default}; later deploys keep it)"
        )
    return lines


def _clients(spec: PlatformSpec) -> tuple[Any, Any]:
    import boto3  # noqa: PLC0415 (only the commands that call AWS need it)

    session = boto3.Session(region_name=spec.region)
    return session.client("cloudformation"), session.client("stepfunctions")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] = _utc_now) -> int:
    """Run a command; ``now`` is the clock a scheduled environment's window is judged by."""
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="release a tag and wait for the outcome")
    profile = "the profile (environment) to act on (default: dev)"
    start.add_argument("--env", default="dev", help=profile)
    start.add_argument("--tag", required=True, help="the tag every service's image was pushed with")
    start.add_argument("--no-wait", action="store_true", help="start the release and return without following it")
    show = commands.add_parser("show", help="the tag each service runs")
    show.add_argument("--env", default="dev", help=profile)
    offline = commands.add_parser("parameters", help="where each service's tag comes from, in a synthesized assembly")
    offline.add_argument("assembly", type=Path, help="what `cdk synth` wrote (cdk.out)")
    offline.add_argument("--env", default="dev", help="the profile it was synthesized from (default: dev)")
    args = parser.parse_args(argv)
    try:
        spec = spec_from_context({"env": args.env})
        if args.command == "parameters":
            template = args.assembly / f"{spec.stack_name(COMPUTE)}.template.json"
            if not template.exists():
                raise ReleaseError(f"no {template.name} in {args.assembly}")
            print("\n".join(tag_parameters(spec, json.loads(template.read_text()))))
            return 0
        asleep = refusal(spec, now(), doing="release") if args.command == "start" else None
        if asleep is not None:
            raise ReleaseError(asleep)
        cloudformation, stepfunctions = _clients(spec)
        if args.command == "show":
            for name, tag in released_tags(spec, cloudformation=cloudformation).items():
                print(f"{name}: {tag}")
            print(f"public URL: {public_url(spec, cloudformation=cloudformation)}")
            return 0
        return start_release(
            spec, args.tag, cloudformation=cloudformation, stepfunctions=stepfunctions, wait=not args.no_wait
        )
    except (SpecError, ReleaseError) as error:
        return fail(str(error))
    except Exception as error:  # credentials and API errors end in one line, not a traceback
        return aws_failure(error)


if __name__ == "__main__":
    sys.exit(main())
