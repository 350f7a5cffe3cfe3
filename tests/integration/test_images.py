"""``python -m tools.images``: build and push every service's image with one tag, against moto
and a fake ``docker`` that records what it was asked to do."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from platform_spec.names import DATA
from platform_spec.profiles import dev
from tools import images

TAG = "sha-4f2a9c1"
ACCOUNT = "123456789012"  # moto's
SPEC = dev()
REGISTRY = f"{ACCOUNT}.dkr.ecr.{SPEC.region}.amazonaws.com"
# As the data stack names them (tests/synth/test_data.py checks the template).
REPOSITORIES = {s.name: images.repository_name(SPEC, s) for s in SPEC.services}
FIRST, LAST = SPEC.services[0].name, SPEC.services[-1].name

# Records each call as one JSON line (its arguments, and stdin when it is given a password);
# FAKE_DOCKER_FAIL makes a call whose arguments contain that text exit 3, FAKE_DOCKER_NO_BUILDX
# makes `docker buildx version` fail as it does where the plugin is missing.
FAKE_DOCKER = """#!{python}
import json, os, sys
arguments = sys.argv[1:]
stdin = sys.stdin.read() if "--password-stdin" in arguments else None
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": arguments, "stdin": stdin}}) + "\\n")
if arguments[:2] == ["buildx", "version"] and os.environ.get("FAKE_DOCKER_NO_BUILDX"):
    sys.exit("docker: 'buildx' is not a docker command.")
failing = os.environ.get("FAKE_DOCKER_FAIL")
if failing and failing in " ".join(arguments):
    sys.exit(3)
"""


@dataclass(frozen=True)
class FakeDocker:
    log: Path
    monkeypatch: pytest.MonkeyPatch

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def fail_on(self, text: str) -> None:
        self.monkeypatch.setenv("FAKE_DOCKER_FAIL", text)

    def without_buildx(self) -> None:
        self.monkeypatch.setenv("FAKE_DOCKER_NO_BUILDX", "1")


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable = bin_dir / "docker"
    executable.write_text(FAKE_DOCKER.format(python=sys.executable))
    executable.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    return FakeDocker(tmp_path / "docker.log", monkeypatch)


@pytest.fixture
def services(tmp_path: Path) -> Path:
    root = tmp_path / "services"
    for name in REPOSITORIES:
        (root / name).mkdir(parents=True)
        (root / name / "Dockerfile").write_text("FROM node:22-alpine\n")
    return root


@pytest.fixture
def ecr(mocked_aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's ECR with the data stack's repositories; the command gets these clients (one
    boto3 session for the whole test instead of one per call keeps the file fast)."""
    session = boto3.Session(region_name=SPEC.region)
    client = session.client("ecr")
    for name in REPOSITORIES.values():
        client.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    clients = (session.client("sts"), client)
    monkeypatch.setattr(images, "_clients", lambda spec: clients)
    return client


def _push(ecr: Any, repository: str, tag: str) -> None:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def _build(service: str, platform: str = "linux/arm64", *, root: Path) -> list[str]:
    """The build and push of a service's image, with its context under ``root``."""
    image = f"{REGISTRY}/{REPOSITORIES[service]}:{TAG}"
    return [
        "buildx",
        "build",
        "--platform",
        platform,
        "--provenance=false",
        "--tag",
        image,
        "--push",
        str(root / service),
    ]


def _main(root: Path, *arguments: str) -> int:
    return images.main(["--env", "dev", "--tag", TAG, *arguments], services_root=root)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line the command wrote to stderr."""
    (line,) = capsys.readouterr().err.splitlines()
    return line


LOGIN = ["login", "--username", "AWS", "--password-stdin", REGISTRY]


def test_each_service_is_built_for_its_platform_and_pushed_after_a_login_on_stdin(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(services) == 0
    assert docker.argvs() == [["buildx", "version"], LOGIN, *(_build(name, root=services) for name in REPOSITORIES)]
    password = f"{ACCOUNT}-auth-token"  # what moto's token decodes to, after "AWS:"
    assert docker.calls()[1]["stdin"] == password
    assert not any(password in argument for argv in docker.argvs() for argument in argv)
    assert capsys.readouterr().out.splitlines() == [
        f"account {ACCOUNT}: registry {REGISTRY}",
        f"tag {TAG} is new in {', '.join(REPOSITORIES.values())}",
        f"logging in to {REGISTRY}",
        *(
            line
            for service in SPEC.services
            for line in (
                f"building {service.name} for {images.PLATFORMS[service.architecture]} from "
                f"{services / service.name}: {REGISTRY}/{REPOSITORIES[service.name]}:{TAG}",
                f"pushed {REGISTRY}/{REPOSITORIES[service.name]}:{TAG}",
            )
        ),
    ]


def test_only_the_named_services_are_built_each_for_its_own_architecture(
    ecr: Any, docker: FakeDocker, services: Path
) -> None:
    spec = replace(
        SPEC, services=tuple(replace(s, architecture="X86_64") if s.name == LAST else s for s in SPEC.services)
    )
    sts, _ = images._clients(spec)
    images.push_images(spec, TAG, sts=sts, ecr=ecr, services=[LAST], services_root=services, say=lambda line: None)
    assert docker.argvs()[2:] == [_build(LAST, "linux/amd64", root=services)]


def test_a_tag_a_repository_already_holds_is_refused_before_any_docker_call(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push(ecr, REPOSITORIES[LAST], TAG)
    assert _main(services) == 2
    assert _error(capsys) == (
        f"error: tag {TAG} already exists in {REPOSITORIES[LAST]}; tags are immutable: "
        "choose a new tag (e.g. sha-<commit>)"
    )
    assert docker.calls() == []
    # The other tags of the repository do not matter.
    assert _main(services, "--tag", "sha-5e6f7a8") == 0


def test_a_missing_repository_asks_for_the_data_stack(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr.delete_repository(repositoryName=REPOSITORIES[FIRST], force=True)
    assert _main(services) == 2
    assert _error(capsys) == (
        f"error: repository {REPOSITORIES[FIRST]} does not exist: deploy the data stack first "
        f"(cdk deploy -c env=dev {SPEC.stack_name(DATA)})"
    )
    assert docker.calls() == []


def test_a_service_without_a_dockerfile_is_named_before_anything_is_pushed(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (services / LAST / "Dockerfile").unlink()
    assert _main(services) == 2
    assert _error(capsys) == (
        f"error: no Dockerfile at {services / LAST / 'Dockerfile'}: build and push "
        f"{REPOSITORIES[LAST]}:{TAG} yourself (docs/operations.md, 'Building images')"
    )
    assert docker.calls() == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tag", "v1 beta"], "error: --tag: image tag must be 1-128 characters"),
        (
            ["--service", "no-such-service"],
            f"error: --service: no service named 'no-such-service' in profile dev (services: {FIRST},",
        ),
        (["--env", "no-such-profile"], "error: context env: unknown profile; choose one of dev,"),
    ],
    ids=["bad tag", "unknown service", "unknown profile"],
)
@pytest.mark.usefixtures("ecr")
def test_bad_input_is_one_line_and_exit_2(
    docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert _main(services, *arguments) == 2
    assert _error(capsys).startswith(message)
    assert docker.calls() == []


def test_without_buildx_it_says_what_is_needed_and_pushes_nothing(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docker.without_buildx()
    assert _main(services) == 2
    assert _error(capsys) == f"error: {images.BUILDX_NEEDED}"
    assert "tonistiigi/binfmt --install arm64" in images.BUILDX_NEEDED
    assert docker.argvs() == [["buildx", "version"]]


def test_without_docker_it_says_so(
    ecr: Any, tmp_path: Path, services: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _main(services) == 2
    assert _error(capsys).startswith("error: docker is not installed (or not on PATH); docker buildx is needed")


def test_a_failing_build_names_the_service_and_nothing_is_pushed_after_it(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docker.fail_on(f"{REPOSITORIES[FIRST]}:")
    assert _main(services) == 1
    assert _error(capsys) == f"error: {FIRST}: docker buildx build failed (exit status 3); no later image was pushed"
    assert docker.argvs() == [["buildx", "version"], LOGIN, _build(FIRST, root=services)]


def test_a_failing_login_builds_nothing(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docker.fail_on("--password-stdin")
    assert _main(services) == 1
    assert _error(capsys) == f"error: docker login to {REGISTRY} failed (exit status 3); nothing was pushed"
    assert docker.argvs() == [["buildx", "version"], LOGIN]


def test_a_dry_run_reads_aws_and_prints_the_commands_without_running_docker(
    ecr: Any, docker: FakeDocker, services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(services, "--dry-run") == 0
    assert docker.calls() == []
    out = capsys.readouterr().out.splitlines()
    assert out[-1 - len(REPOSITORIES) :] == [
        f"would run: docker login --username AWS --password-stdin {REGISTRY}",
        *(f"would run: docker {' '.join(_build(name, root=services))}" for name in REPOSITORIES),
    ]
    # It still reads the repositories: an existing tag is refused.
    _push(ecr, REPOSITORIES[FIRST], TAG)
    assert _main(services, "--dry-run") == 2
    assert docker.calls() == []


def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_dry_run_without_credentials_prints_the_commands_for_an_unnamed_account(
    docker: FakeDocker, services: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make images DRY_RUN=1`` on a laptop with no AWS session: the commands, and what was not checked."""
    _no_credentials(monkeypatch)
    assert _main(services, "--dry-run") == 0
    assert docker.calls() == []
    out = capsys.readouterr().out.splitlines()
    # Quoted, as a pasted '<' would be a redirection.
    registry = shlex.quote(f"<account>.dkr.ecr.{SPEC.region}.amazonaws.com")
    assert out[0] == f"no AWS credentials: the commands name <account>, and no repository was checked for tag {TAG}"
    assert out[1] == f"would run: docker login --username AWS --password-stdin {registry}"
    image = shlex.quote(f"<account>.dkr.ecr.{SPEC.region}.amazonaws.com/{REPOSITORIES[FIRST]}:{TAG}")
    assert out[2].endswith(f"--tag {image} --push {services / FIRST}")


def test_missing_credentials_are_one_line(
    docker: FakeDocker, services: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_credentials(monkeypatch)
    assert _main(services) == 2
    assert _error(capsys) == "error: no AWS credentials found (set AWS_PROFILE, or run inside a role)"
    assert docker.calls() == []
