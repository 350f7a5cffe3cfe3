"""Running a service's image locally as its task definition says: the Dockerfile's command in
the service's directory, the image's ``ENV``, then the task's environment, with the pinned Node
first on PATH. Shared by ``tools/check_service.py`` and the tests.

Services of the spec without code of their own (no ``services/<name>``) run a reference
service in their place (``image_directory``), so a spec that adds a service keeps a meaningful
local run; ``stand_in_note`` says which stands in for which."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platform_spec import PlatformSpec, ServiceSpec
from tools.local_dockerfile import read_dockerfile

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICES = REPOSITORY / "services"
NODE_BIN = REPOSITORY / "node_modules" / ".bin"
READY_SECONDS = 15
LOOPBACK = "127.0.0.1"

# The reference services, by what they need besides PORT, HEALTH_CHECK_PATH and METRICS_PATH.
# The backend reads DB_* and its health asks the database: it stands in for services that use
# one. The frontend's health and metrics call nothing; it needs BACKEND_URL, where its page's
# items come from: it stands in for the others that have a port.
DATABASE_REFERENCE = "backend"
WEB_REFERENCE = "frontend"
WEB_REFERENCE_CALLEE_VARIABLE = "BACKEND_URL"
WORK_PATHS = {DATABASE_REFERENCE: "/api/items", WEB_REFERENCE: "/"}
"""What each reference service does its work on (its own code's paths, which the spec does not
name): what a load on it asks, in the benchmark and the alert path's run."""
NOWHERE = "http://127.0.0.1:9"
"""A URL nothing answers on (the discard port), for a callee the run does not start."""


class ServiceError(Exception):
    """A local service did not start or stop as it should; the message is one line."""


class StopTimeoutError(ServiceError):
    """A local service outlived SIGTERM by the time allowed (and was killed)."""


def dockerfile_command(directory: Path) -> list[str]:
    """The image's command (``ENTRYPOINT`` and ``CMD``), which a service's task runs as it is."""
    return read_dockerfile(directory).command()


def dockerfile_environment(directory: Path) -> dict[str, str]:
    """The image's ``ENV`` settings, as written."""
    return dict(read_dockerfile(directory).final.environment)


def own_directory(service: ServiceSpec) -> Path:
    return SERVICES / service.name


def _stand_in_name(service: ServiceSpec) -> str:
    if service.uses_database:
        return DATABASE_REFERENCE
    if service.has_port:
        return WEB_REFERENCE
    raise ServiceError(
        f"no reference service can stand in for {service.name}: it has no port, and the reference "
        "services serve HTTP on PORT"
    )


def image_directory(service: ServiceSpec) -> Path:
    """The code a service of the spec runs here: ``services/<name>``, or else the reference
    service that can stand in for it (``_stand_in_name``)."""
    own = own_directory(service)
    return own if own.is_dir() else SERVICES / _stand_in_name(service)


def stand_in_note(service: ServiceSpec) -> str | None:
    """``backend stands in for search (no services/search)``, or ``None`` where it has its own."""
    if own_directory(service).is_dir():
        return None
    return f"{_stand_in_name(service)} stands in for {service.name} (no services/{service.name})"


def stand_in_environment(spec: PlatformSpec, service: ServiceSpec) -> dict[str, str]:
    """What the reference code that runs for ``service`` of ``spec`` reads beyond the service's
    own task environment. Values may name the task's variables as ``${NAME}``: the frontend takes
    its items from the service's first callee, or from nowhere (its health does not call it)."""
    if image_directory(service).name != WEB_REFERENCE:
        return {}
    variables = [spec.service(name).url_variable for name in service.calls]
    if WEB_REFERENCE_CALLEE_VARIABLE in variables:
        return {}
    return {WEB_REFERENCE_CALLEE_VARIABLE: f"${{{variables[0]}}}" if variables else NOWHERE}


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def base_environment(home: Path) -> dict[str, str]:
    """A task's starting point: the pinned Node first, no credentials but stand-ins (a local
    PostgreSQL asks for no IAM token; the services would sign one with these)."""
    return {
        "PATH": f"{NODE_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDLOCALTESTS",
        "AWS_SECRET_ACCESS_KEY": "local-tests-secret",
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
    }


def run(
    command: Sequence[str], *, cwd: Path, environment: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A one-off command to its end; a command that cannot start is exit 127, as in a shell."""
    try:
        return subprocess.run(
            list(command), cwd=cwd, env=dict(environment), capture_output=True, text=True, check=False, timeout=timeout
        )
    except OSError as error:
        return subprocess.CompletedProcess(list(command), 127, "", f"cannot run {command[0]}: {error.strerror}\n")


def last_line(text: str) -> str:
    """The last non-empty line of a log, for a one-line message."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def answering_address(port: int, addresses: Sequence[str]) -> str | None:
    """The first of ``addresses`` that accepts a connection on ``port``."""
    for address in addresses:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return address
        except OSError:
            continue
    return None


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, *, addresses: Sequence[str] = (LOOPBACK,)
) -> None:
    """Until something accepts on ``port`` at one of ``addresses``; ``ServiceError`` if the
    process exits first or nothing does within ``READY_SECONDS``."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"exited {process.returncode} before listening on {port}: {last_line(log.read_text())}")
        if answering_address(port, addresses) is not None:
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on {port} after {READY_SECONDS} s: {last_line(log.read_text())}")


@dataclass
class Processes:
    """Long-running processes (services, the edge), their logs under ``directory``."""

    directory: Path
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        command: list[str],
        *,
        cwd: Path,
        environment: Mapping[str, str],
        port: int | None,
        addresses: Sequence[str] = (LOOPBACK,),
    ) -> None:
        """Starts ``command`` and waits until it listens on ``port`` (without one: until it has
        run a second without exiting); ``ServiceError`` otherwise."""
        log = self.directory / f"{name}.log"
        with log.open("wb") as output:
            try:
                # A group of its own: whatever it starts is found, and ended, with it.
                process = subprocess.Popen(
                    command, cwd=cwd, env=dict(environment), stdout=output, stderr=output, start_new_session=True
                )
            except OSError as error:
                raise ServiceError(f"cannot run {command[0]}: {error.strerror}") from None
        self.running[name] = (process, log)
        if port is not None:
            wait_for_port(port, process, log, addresses=addresses)
            return
        time.sleep(1)
        if process.poll() is not None:
            raise ServiceError(f"exited {process.returncode} as it started: {last_line(log.read_text())}")

    def exited(self, name: str) -> int | None:
        """The exit status, if the process has ended."""
        return self.running[name][0].poll()

    def stop(self, name: str, *, timeout: float = 12) -> int:
        """SIGTERM to the process itself, as ECS stops a task (to its PID 1); the exit status.
        ``ServiceError`` if it is still running after ``timeout`` seconds (it is then killed), or
        if processes it started outlive it: in a container they would die without a SIGTERM."""
        process, _ = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end_group(process)
            raise StopTimeoutError(f"{name} did not stop within {timeout:g} s of SIGTERM") from None
        if _end_group(process):
            raise ServiceError(f"{name} exited {status}, but processes it started kept running after SIGTERM")
        return status

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for name in list(self.running):
            process, _ = self.running.pop(name)
            _end_group(process)


def _end_group(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL to the process and everything in its group; whether anything was still there."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:  # the group's id was taken by a process that is not ours
        return False
    process.wait()
    return True
