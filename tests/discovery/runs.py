"""The discovery runs' plan and processes: each variant of the spec in a network namespace of its
own (tests/discovery/run_in_namespace.py inside it), started as the session starts
(tests/background.py) since it mostly waits for Prometheus."""

from __future__ import annotations

import dataclasses
import json
import os
import re
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
import yaml

from layers.observability.alertmanager_config import render_alertmanager_config
from layers.observability.grafana_dashboards import dashboards, panel_queries
from layers.shared.rendered_config import PROMETHEUS_CONFIG, render_prometheus_files
from platform_spec import CLOUD_MAP_TTL_SECONDS, PlatformSpec, ServiceSpec
from platform_spec.profiles import dev
from tests.discovery import run_in_namespace
from tests.discovery.alerting import WAIT_SECONDS
from tests.discovery.sns_standin import ALARM_TOPIC, HEARTBEAT_TOPIC
from tests.platform_synth import ROOT
from tests.reference_services import base_environment, dockerfile_command, image_directory, stand_in_environment
from tests.variants import with_every_kind
from tools.local_services import WORK_PATHS

INSTANCES_PER_SERVICE = 2
TIMEOUT_SECONDS = 60
ALERTING_SECONDS = 3 * WAIT_SECONDS
"""At most: the database's start, the outage's wait for the page and the recovery's for its end."""
FAST = 1  # seconds: scrape, evaluation and SRV refresh intervals, for the suite's speed
FIRST_SCRAPE_SECONDS = 240
"""At most, for the first-scrape measurement (tests/discovery/first_scrape.py): the second Prometheus
scraping the existing tasks, the new task answering, the moment waited for, and twice the worst case."""
SNS_PORT = 4566
"""Where the SNS stand-in listens in each namespace."""


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


RDS_BUNDLE = ROOT / "assets" / "database" / "rds-global-bundle.pem"
"""The RDS roots the backend image ships (services/backend's copy is checked against it)."""


def _task_environment(spec: PlatformSpec, service: ServiceSpec, home: Path) -> dict[str, str]:
    """What the task definition gives the container, with the database nowhere (metrics must
    not depend on it) and callees by their Cloud Map names, which the namespace's DNS answers;
    a reference service standing in for one without code of its own gets what it reads too."""
    environment = {
        **base_environment(home),
        "PORT": str(service.port),
        "METRICS_PATH": str(service.metrics_path),
        **({"HEALTH_CHECK_PATH": service.health_check_path} if service.health_check_path else {}),
        **{spec.service(name).url_variable: spec.service_url(spec.service(name)) for name in service.calls},
        **service.settings,
    }
    for name, value in stand_in_environment(spec, service).items():
        environment[name] = re.sub(r"\$\{(\w+)\}", lambda m: environment[m[1]], value)
    if service.uses_database:
        environment.update(
            DB_HOST="127.0.0.1",
            DB_PORT="9",
            DB_NAME=spec.database.database_name,
            DB_USER=service.database_user,
            DB_IAM_AUTH="true",
            # As in the task: TLS verified against a CA bundle the service must find, or it refuses
            # to start (the image's own bundle is the repository's copy of RDS's).
            DB_SSLMODE="require",
            DB_SSL_ROOT_CERT=str(RDS_BUNDLE),
        )
    return environment


def _fast(spec: PlatformSpec) -> PlatformSpec:
    """``spec`` with every interval and wait at its shortest, for the suite's speed."""
    prometheus = replace(
        spec.prometheus,
        scrape_interval_seconds=FAST,
        evaluation_interval_seconds=FAST,
        discovery_refresh_seconds=FAST,
    )
    alertmanager = replace(spec.alertmanager, group_wait_seconds=5, group_interval_seconds=3, heartbeat_minutes=1)
    # Without the profile's schedule: the run happens at any hour, and a sleep mutes its pages
    # (tests/integration/test_alertmanager.py shows that on its own).
    return replace(spec, prometheus=prometheus, alertmanager=alertmanager, schedule=None)


def _alertmanager(spec: PlatformSpec, directory: Path) -> dict[str, Any]:
    """Alertmanager's part of the plan: Debian's, its rendered configuration publishing to the stand-in,
    registered as Cloud Map would register its task."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("alertmanager is missing: `make test` installs Debian's prometheus-alertmanager package")
    config = directory / "alertmanager.yml"
    config.write_text(
        render_alertmanager_config(
            spec,
            alarm_topic_arn=ALARM_TOPIC.format(region=spec.region),
            heartbeat_topic_arn=HEARTBEAT_TOPIC.format(region=spec.region),
            api_url=f"http://127.0.0.1:{SNS_PORT}/",
        )
    )
    return {
        "binary": binary,
        "config": str(config),
        "data": str(directory / "alertmanager-data"),
        "log": str(directory / "alertmanager.log"),
        "service": {
            "dns_name": f"{spec.alertmanager.name}.{spec.namespace}",
            "port": spec.alertmanager.port,
            "instances": [{"id": "ff00" + "0" * 28, "address": "127.0.250.2"}],
        },
    }


def _alerting(fast: PlatformSpec, services: list[dict[str, Any]]) -> dict[str, Any]:
    """The alert path's part of the plan: whom to ask what (each reference service's own page or API
    route, on every instance), the topic to watch, and every dashboard query."""
    traffic = [
        f"http://{instance['address']}:{service['port']}{WORK_PATHS[Path(service['directory']).name]}"
        for service in services
        for instance in service["instances"]
    ]
    boards = dashboards(fast, alertmanager_job=fast.alertmanager.name)
    queries = [dataclasses.asdict(q) for model in boards.values() for q in panel_queries(model)]
    return {
        "settle_seconds": fast.alertmanager.group_wait_seconds + 2,
        "profile": fast.environment,
        "traffic": traffic,
        "alarm_topic": ALARM_TOPIC.format(region=fast.region),
        "dashboard_queries": queries,
    }


def _first_scrape(spec: PlatformSpec, directory: Path, binary: str, services: list[dict[str, Any]]) -> dict[str, Any]:
    """The first-scrape measurement's part of the plan: a Prometheus with the spec's own intervals (not the
    suite's), scraping only, asking a caching resolver of its own; and a new task of the first service."""
    part = directory / "first-scrape"
    part.mkdir()
    config = yaml.safe_load(render_prometheus_files(spec)[PROMETHEUS_CONFIG])
    # Scraping only: its alerts would reach the run's Alertmanager beside the run's own.
    config.pop("alerting")
    config.pop("rule_files")
    (part / PROMETHEUS_CONFIG).write_text(yaml.safe_dump(config))
    resolver = "127.0.0.2"
    (part / "resolv.conf").write_text(f"nameserver {resolver}\noptions timeout:1 attempts:2\n")
    service = services[0]
    replica = INSTANCES_PER_SERVICE  # the next task of the first service: an address and an id of its own
    return {
        "prometheus": binary,
        "config": str(part / PROMETHEUS_CONFIG),
        "data": str(part / "tsdb"),
        "log": str(part / "prometheus.log"),
        "resolv": str(part / "resolv.conf"),
        "address": resolver,
        "port": spec.prometheus.port,
        "ttl": CLOUD_MAP_TTL_SECONDS,
        "refresh": spec.prometheus.discovery_refresh_seconds,
        "worst_case": spec.prometheus.first_scrape_worst_case_seconds,
        "service": 0,
        "instance": {
            "id": f"00{replica:02x}" + "0" * 28,
            "address": service["instances"][0]["address"].rsplit(".", 1)[0] + f".{replica + 2}",
        },
    }


def _plan(spec: PlatformSpec, directory: Path, *, alerting: bool, first_scrape: bool) -> dict[str, Any]:
    fast = _fast(spec)
    for name, content in render_prometheus_files(fast).items():
        (directory / name).write_text(content)
    config = directory / PROMETHEUS_CONFIG
    services = []
    home = directory / "home"
    home.mkdir()
    for index, service in enumerate(spec.scraped_services):
        image = image_directory(service)
        services.append(
            {
                "dns_name": spec.dns_name(service),
                "port": service.port,
                "metrics_path": service.metrics_path,
                "command": dockerfile_command(image),
                "directory": str(image),
                "environment": _task_environment(spec, service, home),
                "database_user": service.database_user if service.uses_database else None,
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
    plan = {
        "services": services,
        "prometheus": prometheus,
        "config": str(config),
        "data": str(directory / "tsdb"),
        "log": str(directory / "prometheus.log"),
        "port": spec.prometheus.port,
        "timeout": TIMEOUT_SECONDS,
        # Every instance of every scraped service, Prometheus itself and Alertmanager.
        "expected_targets": INSTANCES_PER_SERVICE * len(spec.scraped_services) + 2,
        "alertmanager": _alertmanager(fast, directory),
        "sns": {"port": SNS_PORT, "region": spec.region},
    }
    if alerting:
        plan["alerting"] = _alerting(fast, services)
    if first_scrape:
        plan["first_scrape"] = _first_scrape(spec, directory, prometheus, services)
    return plan


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
        out, err = process.communicate(timeout=TIMEOUT_SECONDS + ALERTING_SECONDS + FIRST_SCRAPE_SECONDS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# Each variant of the spec; a service without code of its own runs the reference service that can
# stand in for it (tools/local_services.py), and the test says so.
VARIANTS: dict[str, Callable[[], PlatformSpec]] = {
    "dev profile": dev,
    "dev profile with every kind of service": lambda: with_every_kind(dev()),
}
ALERTING = "dev profile"
"""The variant whose run also takes the alert path end to end (a database, an outage, a recovery)."""
FIRST_SCRAPE = "dev profile with every kind of service"
"""The variant whose run also measures how soon a new task is first scraped, with the spec's own
intervals (the other run takes the alert path meanwhile)."""


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
    for index, (variant, build) in enumerate(VARIANTS.items()):
        directory = root / f"run{index}"
        directory.mkdir()
        spec = build()
        plan = _plan(spec, directory, alerting=variant == ALERTING, first_scrape=variant == FIRST_SCRAPE)
        (directory / "plan.json").write_text(json.dumps(plan))
        resolv = directory / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
        runs.append(Run(variant, spec, plan, directory, _start(directory / "plan.json", resolv)))
    return runs, [run.process for run in runs]
