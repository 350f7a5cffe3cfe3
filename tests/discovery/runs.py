"""The discovery runs' plan and processes: each variant of the spec in a network namespace of its
own (tests/discovery/run_in_namespace.py inside it), started as the session starts
(tests/background.py) since it mostly waits for Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from cdk_helpers.rendered_config import render_prometheus_config
from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.profiles import dev
from tests.discovery import run_in_namespace
from tests.platform_synth import ROOT
from tests.reference_services import SERVICES, base_environment, dockerfile_command
from tests.variants import with_third_service

INSTANCES_PER_SERVICE = 2
TIMEOUT_SECONDS = 60
FAST = 1  # seconds: scrape, evaluation and SRV refresh intervals, for the suite's speed


def _namespaces_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "creating network and mount namespaces needs root"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"this machine cannot create namespaces: {probe.stderr.strip()}"
    return None


UNAVAILABLE = _namespaces_unavailable()


def _task_environment(spec: PlatformSpec, service: ServiceSpec, home: Path) -> dict[str, str]:
    """What the task definition gives the container, with the database nowhere (metrics must
    not depend on it) and callees by their Cloud Map names, which the namespace's DNS answers."""
    environment = {
        **base_environment(home),
        "PORT": str(service.container_port),
        "HEALTH_CHECK_PATH": service.health_check_path,
        "METRICS_PATH": service.metrics_path,
        **{spec.service(name).url_variable: spec.service_url(spec.service(name)) for name in service.calls},
    }
    if service.uses_database:
        environment.update(
            DB_HOST="127.0.0.1",
            DB_PORT="9",
            DB_NAME=spec.database.database_name,
            DB_USER=service.database_user,
            DB_IAM_AUTH="true",
        )
    return environment


def _plan(spec: PlatformSpec, directory: Path, images: dict[str, str]) -> dict[str, Any]:
    fast = replace(
        spec.prometheus,
        scrape_interval_seconds=FAST,
        evaluation_interval_seconds=FAST,
        discovery_refresh_seconds=FAST,
    )
    config = directory / "prometheus.yml"
    config.write_text(render_prometheus_config(replace(spec, prometheus=fast)))
    services = []
    home = directory / "home"
    home.mkdir()
    for index, service in enumerate(spec.services):
        image = SERVICES / images.get(service.name, service.name)
        services.append(
            {
                "dns_name": spec.dns_name(service),
                "port": service.container_port,
                "metrics_path": service.metrics_path,
                "command": dockerfile_command(image),
                "directory": str(image),
                "environment": _task_environment(spec, service, home),
                "instances": [
                    # Cloud Map names each SRV target <instance id>.<service>.<namespace>.
                    {"id": f"{index:02x}{replica:02x}" + "0" * 28, "address": f"127.0.{index + 1}.{replica + 2}"}
                    for replica in range(INSTANCES_PER_SERVICE)
                ],
            }
        )
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is missing: `make test` installs Debian's prometheus package")
    return {
        "services": services,
        "prometheus": prometheus,
        "config": str(config),
        "data": str(directory / "tsdb"),
        "log": str(directory / "prometheus.log"),
        "port": spec.prometheus.port,
        "timeout": TIMEOUT_SECONDS,
        "expected_targets": INSTANCES_PER_SERVICE * len(spec.services) + 1,
    }


def _start(plan_path: Path, resolv: Path) -> subprocess.Popen[str]:
    command = [
        "unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" /etc/resolv.conf && ip link set lo up && exec "$@"',
        str(resolv), sys.executable, run_in_namespace.__file__, str(plan_path),
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=TIMEOUT_SECONDS + 30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# Each variant, and the reference image any service without one of its own runs.
VARIANTS: dict[str, tuple[Callable[[], PlatformSpec], dict[str, str]]] = {
    "dev profile": (dev, {}),
    "dev profile with a third service": (lambda: with_third_service(dev()), {"admin": "backend"}),
}


@dataclass
class Run:
    variant: str
    spec: PlatformSpec
    plan: dict[str, Any]
    directory: Path
    process: subprocess.Popen[str]


def start_runs() -> tuple[list[Run], list[subprocess.Popen[str]]]:
    """Each variant in a namespace of its own, side by side."""
    root = Path(tempfile.mkdtemp(prefix="discovery-"))
    runs = []
    for index, (variant, (build, images)) in enumerate(VARIANTS.items()):
        directory = root / f"run{index}"
        directory.mkdir()
        spec = build()
        plan = _plan(spec, directory, images)
        (directory / "plan.json").write_text(json.dumps(plan))
        resolv = directory / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
        runs.append(Run(variant, spec, plan, directory, _start(directory / "plan.json", resolv)))
    return runs, [run.process for run in runs]
