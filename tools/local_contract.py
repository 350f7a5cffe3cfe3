"""The points of the image contract (docs/image-contract.md), each judged into one ``Result``:
those read from the Dockerfile, and those asked of a running service. The run itself (the
service, its database, the smoke tests) is ``tools/check_service.py``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from layers.shared.fargate import container_health_check
from platform_spec import ServiceSpec
from platform_spec.health_checks import health_check_command
from tools.local_dockerfile import Dockerfile
from tools.local_services import last_line, run
from tools.objective_metrics import objective_metrics_problem

POINTS = (
    "command",
    "user",
    "volume tools",
    "listens",
    "health check",
    "metrics",
    "read-only root",
    "stops",
    "database",
    "migrations",
    "smoke tests",
)
# Addresses a service must answer on: 127.0.0.1, where its health check asks, and another
# local address, standing for the task's own (the load balancer's, Prometheus's and callers').
ADDRESSES = ("127.0.0.1", "127.0.0.2")
_TIMEOUT = container_health_check("true").timeout
HEALTH_CHECK_TIMEOUT_SECONDS = _TIMEOUT.to_seconds() if _TIMEOUT is not None else 5
"""The timeout every container health check of the platform has (``layers.shared.fargate``)."""
# Media types Prometheus 3 scrapes; it fails a scrape with another or none ("Prometheus 3.0
# migration guide", scrape protocols), and the platform's configuration names no fallback.
SCRAPE_MEDIA_TYPES = ("text/plain", "application/openmetrics-text", "application/vnd.google.protobuf")
# A media type's parameter as Go's mime.ParseMediaType, which Prometheus uses, takes it (RFC 2045):
# "text/plain; version=0.0.4, charset=utf-8" does not parse, and the scrape fails.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAMETER = re.compile(rf'^\s*{_TOKEN}=({_TOKEN}|"[^"]*")\s*$')
# Images without a shell, so without the sh, chown and chmod the volume hand-over runs.
SHELL_LESS = re.compile(r"^scratch$|distroless|^cgr\.dev/chainguard/")
SHELL_LESS_EXCEPT = re.compile(r":debug|-dev$")
# Users a Dockerfile may name that are known without the image: uid and primary gid.
KNOWN_USERS = {"root": (0, 0)}
NODE_IMAGE_USERS = {"node": (1000, 1000)}
"""The official node images' ``node`` user."""


@dataclass(frozen=True, kw_only=True)
class Result:
    point: str
    passed: bool
    detail: str

    @property
    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.point}: {self.detail}"


def passed(point: str, detail: str) -> Result:
    return Result(point=point, passed=True, detail=detail)


def failed(point: str, detail: str) -> Result:
    return Result(point=point, passed=False, detail=detail)


def not_applicable(point: str, why: str) -> Result:
    return passed(point, f"does not apply ({why})")


# --- Read from the Dockerfile ---------------------------------------------------------------


def command_point(dockerfile: Dockerfile) -> Result:
    entrypoint, cmd = dockerfile.final.entrypoint, dockerfile.cmd
    for keyword, command in (("ENTRYPOINT", entrypoint), ("CMD", cmd)):
        if command is not None and command.shell_form is not None:
            fix = (
                f"write {keyword} {json.dumps(shlex.split(command.shell_form))}"
                if command.simple
                else "move the shell part into a script that ends with exec of the app"
            )
            return failed(
                "command",
                f"{keyword} is in shell form ({command.shell_form}): ECS runs it as /bin/sh -c, so the image needs a "
                f"shell and the app may not get SIGTERM itself; {fix}",
            )
    if cmd is None and entrypoint is None:
        return failed("command", 'the Dockerfile has no CMD: end it with CMD ["executable", "argument", ...]')
    prefix = f"ENTRYPOINT {json.dumps(entrypoint.argv)}, " if entrypoint else ""
    return passed("command", f"{prefix}CMD {json.dumps(cmd.argv) if cmd else '(none)'}: exec form, run without a shell")


def _repository(image: str) -> str:
    """``docker.io/library/node:22@sha256:...`` -> ``node``."""
    name = image.split("@", maxsplit=1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.removeprefix("docker.io/").removeprefix("library/")


def _known_id(name: str, dockerfile: Dockerfile, which: int) -> int | None:
    if name.isdigit():
        return int(name)
    known = {**KNOWN_USERS, **(NODE_IMAGE_USERS if _repository(dockerfile.base) == "node" else {})}
    return known[name][which] if name in known else None


def user_point(dockerfile: Dockerfile, service: ServiceSpec) -> Result:
    want = service.run_as.ecs_user
    if dockerfile.user is None:
        if service.run_as.is_root:
            return passed("user", "no USER: root, as the spec's run_as says")
        return failed("user", f"no USER, so the image runs as root: add USER {want} (the spec's run_as)")
    user, _, group = dockerfile.user.partition(":")
    uid = _known_id(user, dockerfile, 0)
    gid = _known_id(group, dockerfile, 1) if group else _known_id(user, dockerfile, 1) if not user.isdigit() else None
    if uid is None or (group and gid is None):
        return failed(
            "user",
            f"USER {dockerfile.user}: cannot tell its uid:gid from the Dockerfile (known: numbers, root, and node in "
            f"the official node images); write USER {want}",
        )
    if uid != service.run_as.uid or (gid is not None and gid != service.run_as.gid):
        shown = f"{uid}:{gid}" if gid is not None else str(uid)
        return failed(
            "user", f"USER {dockerfile.user} is {shown}, the spec's run_as is {want}: make them the same (USER {want})"
        )
    stated = f"{uid}:{gid}" if gid is not None else f"{uid} (its group is the task's, {service.run_as.gid})"
    return passed("user", f"USER {dockerfile.user} is {stated}, the spec's run_as")


def volume_tools_point(dockerfile: Dockerfile, service: ServiceSpec) -> Result:
    if not service.writable_paths:
        return not_applicable("volume tools", "no writable paths")
    if service.run_as.is_root:
        return not_applicable("volume tools", "runs as root: its volumes need no handing over")
    base, paths = dockerfile.base, ", ".join(service.writable_paths)
    if "$" in base:
        return failed("volume tools", f"cannot tell the final base image (FROM {base}): name it without variables")
    if SHELL_LESS.search(_repository(base)) and not SHELL_LESS_EXCEPT.search(base):
        return failed(
            "volume tools",
            f"FROM {base} has no shell: the task hands {paths} to {service.run_as.ecs_user} with the image's own "
            "sh, chown and chmod as it starts; build FROM an image that has them (alpine, debian-slim, node)",
        )
    return passed(
        "volume tools",
        f"FROM {base} is not scratch or distroless: its sh, chown and chmod hand {paths} over "
        "(read from the Dockerfile; the image is not pulled)",
    )


# --- Asked of the running service ------------------------------------------------------------


def get(url: str, *, timeout: float = 5) -> tuple[int, str, bytes] | str:
    """(status, Content-Type, body), or why there was no answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()
    except (OSError, ValueError) as error:
        return str(getattr(error, "reason", error))


def listens_point(service: ServiceSpec, port: int) -> Result:
    path = service.health_check_path or service.metrics_path or "/"
    answers = {address: get(f"http://{address}:{port}{path}") for address in ADDRESSES}
    silent = [f"{address} ({answer})" for address, answer in answers.items() if isinstance(answer, str)]
    if silent:
        return failed(
            "listens",
            f"no answer on {', '.join(silent)} at PORT {port}: listen on every address (0.0.0.0 or ::), not "
            "127.0.0.1 or localhost; the load balancer, Prometheus and callers reach the task's own address",
        )
    return passed("listens", f"answers on {' and '.join(ADDRESSES)} at PORT {port}")


def health_check_point(
    service: ServiceSpec, *, port: int | None, dockerfile: Dockerfile, environment: Mapping[str, str]
) -> Result:
    local = replace(service, container_port=port) if port is not None else service
    command = health_check_command(local)
    if command is None:
        return not_applicable("health check", "the spec gives it no health path and no command")
    tool = command[0]
    if isinstance(service.health_check, str) and shutil.which(tool, path=environment.get("PATH")) is None:
        return failed("health check", f"{tool} is not installed here: tools/install-system-packages.sh installs it")
    # A command of the image's own names the image's paths: those under WORKDIR are in the directory.
    argv = [str(dockerfile.image_path(part) or part) if part.startswith("/") else part for part in command]
    shown = f"{tool} asking {local.health_check_path}" if isinstance(service.health_check, str) else shlex.join(command)
    started = time.monotonic()
    try:
        result = run(argv, cwd=dockerfile.path.parent, environment=environment, timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return failed("health check", f"{shown} did not finish within ECS's {HEALTH_CHECK_TIMEOUT_SECONDS:g} s timeout")
    seconds = time.monotonic() - started
    if result.returncode != 0:
        said = last_line(result.stderr + result.stdout)
        if port is not None and isinstance(service.health_check, str):
            answer = get(f"http://127.0.0.1:{port}{local.health_check_path}")
            said = answer if isinstance(answer, str) else f"{local.health_check_path} answered {answer[0]}"
        return failed(
            "health check",
            f"{shown} exited {result.returncode} ({said}): ECS replaces a task whose check fails 3 times; "
            "the health path must answer 2xx while the service can serve",
        )
    return passed("health check", f"{shown} exited 0 in {seconds:.2f} s, as ECS runs it (no shell)")


def metrics_point(service: ServiceSpec, port: int) -> Result:
    if not service.scraped:
        return not_applicable("metrics", "not scraped: the spec gives it no metrics path or no port")
    path = service.metrics_path
    answer = get(f"http://127.0.0.1:{port}{path}")
    if isinstance(answer, str) or answer[0] != 200:
        said = answer if isinstance(answer, str) else f"answered {answer[0]}"
        return failed("metrics", f"{path} {said}: Prometheus counts only a 200 answer as a scrape")
    _, content_type, body = answer
    media_type, *parameters = content_type.split(";")
    if media_type.strip().lower() not in SCRAPE_MEDIA_TYPES or not all(map(_PARAMETER.match, parameters)):
        return failed(
            "metrics",
            f"{path} is {content_type or 'untyped'}, which Prometheus 3 refuses to scrape: answer it as "
            "text/plain; version=0.0.4; charset=utf-8",
        )
    if shutil.which("promtool") is None:
        return failed("metrics", "promtool is missing: tools/install-system-packages.sh installs it (prometheus)")
    checked = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, check=False)
    output = (checked.stdout + checked.stderr).decode(errors="replace")
    # promtool exits 1 when the text does not parse, which Prometheus would refuse too, and 3
    # for lint findings only (a counter without _total, a missing HELP): client libraries'
    # default families carry some, and Prometheus scrapes them, so they are counted, not failed.
    text = body.decode(errors="replace")
    if checked.returncode not in (0, 3):
        problem: str | None = f"is not Prometheus text: {last_line(output)}"
    else:
        problem = objective_metrics_problem(service, text)
    if problem is not None:
        return failed("metrics", f"{path} {problem}")
    samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    findings = len([line for line in output.splitlines() if line.strip()]) if checked.returncode == 3 else 0
    lint = f", {findings} lint findings (not errors)" if findings else ""
    measured = ", and measure its objectives" if service.objectives is not None else ""
    return passed("metrics", f"{path} answered 200 with {samples} samples that promtool parses{lint}{measured}")


_AUTHORIZED = re.compile(r"connection authorized: user=(\S+) database=(\S+)(.*)")
_REFUSED = re.compile(r"FATAL:\s+(.*(?:pg_hba\.conf|authentication failed|does not exist|permission denied).*)")


def database_point(service: ServiceSpec, *, server_log: str) -> Result:
    """From the server's log while the service started and answered its health check: every
    connection over TCP is TLS or refused (the server takes nothing else, as RDS with
    ``rds.force_ssl``); the check's own psql comes over the socket, without TLS."""
    user = service.database_user
    refused = [match[1] for match in _REFUSED.finditer(server_log)]
    users = {match[1] for match in _AUTHORIZED.finditer(server_log) if "SSL enabled" in match[3]}
    if refused:
        return failed("database", f"the database refused it: {refused[0]}; sign in as DB_USER over TLS")
    if not users:
        return failed(
            "database",
            "did not connect to the database while it started and answered its health check: the health check "
            "should show that the database answers",
        )
    if users != {user}:
        others = ", ".join(sorted(users - {user}))
        return failed(
            "database", f"signed in as {others}, not {user}: sign in as DB_USER, the user the platform grants"
        )
    return passed("database", f"signed in as {user} over TLS, a user the platform's bootstrap SQL made")


def stop_detail(*, code: int, seconds: float) -> str:
    how = f"exited {code}" if code >= 0 else f"ended by signal {-code}"
    return f"{how} {seconds:.2f} s after SIGTERM"


def written_detail(written: list[str], *, directory: Path, writable: tuple[str, ...]) -> str:
    shown = ", ".join(written[:5]) + (f" and {len(written) - 5} more" if len(written) > 5 else "")
    return (
        f"wrote {shown} in {directory}, outside its writable paths ({', '.join(writable) or 'none'}): the task's "
        "root filesystem is read-only; write under a writable path, or add the path to writable_paths"
    )
