"""Build each service's image and push it to the service's ECR repository with one tag.

    python -m tools.images --env dev --tag initial                        # the first deploy's images
    python -m tools.images --env dev --tag sha-4f2a9c1 --service backend  # one service
    python -m tools.images --env dev --tag sha-4f2a9c1 --dry-run          # print the docker commands only

A service's build context is ``services/<name>``. Everything that can stop the command is
checked before the first build: the tag (the spec's rule), the services and their Dockerfiles,
and the repositories (the data stack's), none of which may hold the tag yet, since tags are
immutable. Then it logs in to the registry and builds and pushes each image with ``docker
buildx`` for the service's architecture. ``--dry-run`` does the same AWS reads and prints the
docker commands instead of running them; without AWS credentials it prints them for
``<account>`` and says that the repositories were not read. Exit 0 when every image is pushed, 1 when a docker
step fails (nothing is pushed after it), 2 when it cannot start (nothing is pushed).
"""

from __future__ import annotations

import argparse
import base64
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from platform_spec import Architecture, PlatformSpec, ServiceSpec, SpecError, check_image_tag, spec_from_context
from platform_spec.names import DATA
from tools.cli import aws_failure, fail

SERVICES_ROOT = Path(__file__).resolve().parent.parent / "services"
PLATFORMS: dict[Architecture, str] = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}
# Every manifest type ECR stores: without the index types, a tag held by a multi-platform
# image would look free.
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
BUILDX_NEEDED = (
    "docker buildx is needed (Docker Desktop has it; on Linux install docker-buildx-plugin), and on an x86 "
    "host QEMU for arm64 images: docker run --privileged --rm tonistiigi/binfmt --install arm64"
)


class ImagesError(Exception):
    """A one-line reason the command cannot start; nothing has been pushed."""


class DockerStepError(Exception):
    """A docker step failed; nothing after it ran."""


def repository_name(spec: PlatformSpec, service: ServiceSpec) -> str:
    """``dev-davidshaevel/backend``, as the data stack names it (``ImageRepositories`` with the
    stack prefix; tests/synth/test_data.py checks the template)."""
    return f"{spec.stack_prefix}/{service.name}"


def chosen_services(spec: PlatformSpec, names: Sequence[str]) -> tuple[ServiceSpec, ...]:
    """The named services in the profile's order, or all of them when none is named."""
    known = [service.name for service in spec.services]
    for name in names:
        if name not in known:
            raise ImagesError(
                f"--service: no service named {name!r} in profile {spec.environment} (services: {', '.join(known)})"
            )
    return tuple(service for service in spec.services if not names or service.name in names)


def build_contexts(
    spec: PlatformSpec, services: Sequence[ServiceSpec], *, tag: str, services_root: Path
) -> dict[str, Path]:
    """Service name -> its build context, each with a Dockerfile."""
    contexts: dict[str, Path] = {}
    for service in services:
        context = services_root / service.name
        if not (context / "Dockerfile").is_file():
            raise ImagesError(
                f"no Dockerfile at {context / 'Dockerfile'}: build and push "
                f"{repository_name(spec, service)}:{tag} yourself (docs/operations.md, 'Building images')"
            )
        contexts[service.name] = context
    return contexts


def check_tag_is_new(spec: PlatformSpec, repositories: Sequence[str], *, tag: str, ecr: Any) -> None:
    """Refuse a tag any of the repositories already holds: a push would fail halfway.

    BatchGetImage rather than DescribeImages: the CI release role may call it (it pulls)."""
    taken = []
    for name in repositories:
        try:
            found = ecr.batch_get_image(
                repositoryName=name, imageIds=[{"imageTag": tag}], acceptedMediaTypes=list(MANIFEST_TYPES)
            )
        except ecr.exceptions.RepositoryNotFoundException:
            raise ImagesError(
                f"repository {name} does not exist: deploy the data stack first "
                f"(cdk deploy -c env={spec.environment} {spec.stack_name(DATA)})"
            ) from None
        unclear = [f for f in found.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
        if unclear:
            raise ImagesError(
                f"cannot tell whether {name}:{tag} exists: {unclear[0].get('failureCode')} "
                f"{unclear[0].get('failureReason', '')}".rstrip()
            )
        if found.get("images"):
            taken.append(name)
    if taken:
        raise ImagesError(
            f"tag {tag} already exists in {', '.join(taken)}; tags are immutable: choose a new tag (e.g. sha-<commit>)"
        )


def registry_password(ecr: Any) -> str:
    """The password ``docker login`` takes for user AWS (ECR's token is ``AWS:<password>``, base64)."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]


def docker(arguments: Sequence[str], *, stdin: str | None = None, quiet: bool = False) -> int:
    """Run ``docker`` with its output on the terminal (or discarded); its exit status."""
    output = subprocess.DEVNULL if quiet else None
    # Without input, nothing may read the caller's terminal or CI's stdin.
    feed: dict[str, Any] = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        result = subprocess.run(["docker", *arguments], text=True, check=False, stdout=output, stderr=output, **feed)
    except FileNotFoundError:
        raise ImagesError(f"docker is not installed (or not on PATH); {BUILDX_NEEDED}") from None
    return result.returncode


def say_now(line: str) -> None:
    """Print a step at once: docker writes to the same terminal or CI log, unbuffered."""
    print(line, flush=True)


def push_images(
    spec: PlatformSpec,
    tag: str,
    *,
    sts: Any,
    ecr: Any,
    services: Sequence[str] = (),
    services_root: Path = SERVICES_ROOT,
    dry_run: bool = False,
    say: Callable[[str], None] = say_now,
) -> None:
    """Build and push the services' images with ``tag``; raises before anything is pushed when
    it cannot start, and ``DockerStepError`` on the first docker step that fails."""
    check_image_tag("--tag", tag)
    chosen = chosen_services(spec, services)
    contexts = build_contexts(spec, chosen, tag=tag, services_root=services_root)
    account = _account(sts, dry_run=dry_run)
    registry = f"{account or NO_ACCOUNT}.dkr.ecr.{spec.region}.amazonaws.com"
    repositories = {service.name: repository_name(spec, service) for service in chosen}
    if account is None:
        say(f"no AWS credentials: the commands name {NO_ACCOUNT}, and no repository was checked for tag {tag}")
    else:
        say(f"account {account}: registry {registry}")
        check_tag_is_new(spec, list(repositories.values()), tag=tag, ecr=ecr)
        say(f"tag {tag} is new in {', '.join(repositories.values())}")
    login = ["login", "--username", "AWS", "--password-stdin", registry]
    builds = {
        service.name: [
            "buildx",
            "build",
            "--platform",
            PLATFORMS[service.architecture],
            # One image manifest per tag, no attestation index: a smaller push, and one manifest
            # for ECR's scan. (The release marks an index or a manifest list as well.)
            "--provenance=false",
            "--tag",
            f"{registry}/{repositories[service.name]}:{tag}",
            "--push",
            str(contexts[service.name]),
        ]
        for service in chosen
    }
    if dry_run:
        for command in (login, *builds.values()):
            say(f"would run: {shlex.join(['docker', *command])}")
        return
    if docker(["buildx", "version"], quiet=True) != 0:
        raise ImagesError(BUILDX_NEEDED)
    say(f"logging in to {registry}")
    status = docker(login, stdin=registry_password(ecr))
    if status != 0:
        raise DockerStepError(f"docker login to {registry} failed (exit status {status}); nothing was pushed")
    for service in chosen:
        image = f"{registry}/{repositories[service.name]}:{tag}"
        say(f"building {service.name} for {PLATFORMS[service.architecture]} from {contexts[service.name]}: {image}")
        status = docker(builds[service.name])
        if status != 0:
            raise DockerStepError(
                f"{service.name}: docker buildx build failed (exit status {status}); no later image was pushed"
            )
        say(f"pushed {image}")


NO_ACCOUNT = "<account>"


def _account(sts: Any, *, dry_run: bool) -> str | None:
    """The caller's account; ``None`` for a dry run without credentials, which prints the commands
    anyway (a real run needs them, and fails in one line without)."""
    try:
        account: str = sts.get_caller_identity()["Account"]
    except Exception as error:
        from botocore.exceptions import NoCredentialsError  # noqa: PLC0415 (loaded only when AWS was called)

        if dry_run and isinstance(error, NoCredentialsError):
            return None
        raise
    return account


def _clients(spec: PlatformSpec) -> tuple[Any, Any]:
    import boto3  # noqa: PLC0415 (as in tools.release: loaded only when AWS is called)

    session = boto3.Session(region_name=spec.region)
    return session.client("sts"), session.client("ecr")


def main(argv: Sequence[str] | None = None, *, services_root: Path = SERVICES_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev", help="the profile whose repositories receive the images (default: dev)")
    parser.add_argument("--tag", required=True, help="the tag every image is pushed with (sha-<commit>, or initial)")
    parser.add_argument(
        "--service",
        dest="services",
        metavar="NAME",
        action="extend",
        nargs="+",
        default=[],
        help="only these (default: all)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the docker commands instead of running them")
    args = parser.parse_args(argv)
    try:
        spec = spec_from_context({"env": args.env})
        sts, ecr = _clients(spec)
        push_images(
            spec, args.tag, sts=sts, ecr=ecr, services=args.services, services_root=services_root, dry_run=args.dry_run
        )
        return 0
    except DockerStepError as error:
        return fail(str(error), code=1)
    except (SpecError, ImagesError) as error:
        return fail(str(error))
    except Exception as error:  # credentials and API errors end in one line, not a traceback
        return aws_failure(error)


if __name__ == "__main__":
    sys.exit(main())
