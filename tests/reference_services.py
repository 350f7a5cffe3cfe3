"""Running the reference services (services/<name>) as their task definitions and images say:
the command of the image's Dockerfile (or the task's own command), the image's ``ENV`` and the
task's environment, with the pinned Node. Only what cannot be the same here is replaced: the
database's address and certificate authority, the Cloud Map names (127.0.0.1 stands for them)
and the public URL.

How a service runs is ``tools/local_services.py`` (``make check-service`` runs services the same
way); what only the tests need, reading synthesized task definitions, is here."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platform_spec import PlatformSpec
from tools.local_services import (
    NODE_BIN,
    READY_SECONDS,
    SERVICES,
    Processes,
    base_environment,
    dockerfile_command,
    dockerfile_environment,
    free_port,
    image_directory,
    run,
    stand_in_environment,
    stand_in_note,
    wait_for_port,
)

__all__ = [
    "NODE_BIN",
    "READY_SECONDS",
    "SERVICES",
    "Processes",
    "base_environment",
    "container_definition",
    "dockerfile_command",
    "dockerfile_environment",
    "free_port",
    "image_directory",
    "inside_the_vpc",
    "run",
    "stand_in_environment",
    "stand_in_note",
    "start_service_tests",
    "task_environment",
    "wait_for_port",
]


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


def start_service_tests() -> tuple[dict[str, tuple[subprocess.Popen[bytes], Path]], list[subprocess.Popen[bytes]]]:
    """Each service's node:test suite (``npm test``), side by side; started as the session starts
    (tests/background.py), since it mostly waits on its own servers and timeouts."""
    home = Path(tempfile.mkdtemp(prefix="service-tests-"))
    running = {}
    for directory in sorted(p.parent for p in SERVICES.glob("*/package.json")):
        log = home / f"{directory.name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["npm", "test"], cwd=directory, env=base_environment(home), stdout=output, stderr=output
            )
        running[directory.name] = (process, log)
    return running, [process for process, _ in running.values()]
