"""Running the reference services (services/<name>) as their task definitions and images say:
the command of the image's Dockerfile (or the task's own command), the image's ``ENV`` and the
task's environment, with the pinned Node. Only what cannot be the same here is replaced: the
database's address and certificate authority, the Cloud Map names (127.0.0.1 stands for them)
and the public URL."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_spec import PlatformSpec, ServiceSpec
from tests.platform_synth import ROOT

SERVICES = ROOT / "services"
NODE_BIN = ROOT / "node_modules" / ".bin"
READY_SECONDS = 15


def image_directory(service: ServiceSpec) -> Path:
    """The reference image a service of the spec runs: ``services/<name>``."""
    return SERVICES / service.name


def dockerfile_command(directory: Path) -> list[str]:
    """The image's ``CMD`` (exec form), which a service's task runs as it is."""
    commands = [line for line in (directory / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(commands[-1].removeprefix("CMD "))
    return command


def dockerfile_environment(directory: Path) -> dict[str, str]:
    """The image's ``ENV key=value`` settings."""
    found: dict[str, str] = {}
    for line in (directory / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            for pair in line.removeprefix("ENV ").split():
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def container_definition(template: dict[str, Any], name: str) -> dict[str, Any]:
    """The container ``name`` of the template's task definitions."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            for container in resource["Properties"]["ContainerDefinitions"]:
                if container["Name"] == name:
                    found: dict[str, Any] = container
                    return found
    raise AssertionError(f"no container {name} in the template")


def task_environment(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def inside_the_vpc(value: str, spec: PlatformSpec) -> str:
    """A Cloud Map URL (``http://backend.davidshaevel.local:3001``) as reached here."""
    return re.sub(rf"//[a-z0-9-]+\.{re.escape(spec.namespace)}(?=[:/]|$)", "//127.0.0.1", value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
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
    command: list[str], *, cwd: Path, environment: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=dict(environment), capture_output=True, text=True, check=False, timeout=timeout
    )


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited {process.returncode} before listening on {port}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {READY_SECONDS} s: {log.read_text()[-2000:]}")


@dataclass
class Processes:
    """Long-running processes (services, the edge), their logs under ``directory``."""

    directory: Path
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def start(self, name: str, command: list[str], *, cwd: Path, environment: Mapping[str, str], port: int) -> None:
        log = self.directory / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=cwd, env=dict(environment), stdout=output, stderr=output)
        self.running[name] = (process, log)
        wait_for_port(port, process, log)

    def stop(self, name: str, *, timeout: float = 12) -> int:
        """SIGTERM, as ECS stops a task; the exit status."""
        process, _ = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"{name} did not stop within {timeout} s of SIGTERM") from None

    def log(self, name: str) -> str:
        return self.running[name][1].read_text()

    def stop_all(self) -> None:
        for name in list(self.running):
            process, _ = self.running.pop(name)
            if process.poll() is None:
                process.kill()
                process.wait()


def start_service_tests() -> tuple[dict[str, tuple[subprocess.Popen[bytes], Path]], list[subprocess.Popen[bytes]]]:
    """Each service's node:test suite (``npm test``), side by side; started as the session starts
    (tests/background.py), since it mostly waits on its own servers and timeouts."""
    home = Path(tempfile.mkdtemp(prefix="service-tests-"))
    running = {}
    for directory in sorted(p.parent for p in (ROOT / "services").glob("*/package.json")):
        log = home / f"{directory.name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["npm", "test"], cwd=directory, env=base_environment(home), stdout=output, stderr=output
            )
        running[directory.name] = (process, log)
    return running, [process for process, _ in running.values()]
