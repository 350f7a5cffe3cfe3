"""The reference services, run for real as their task definitions say, against a real
PostgreSQL with the database users of the bootstrap: the migrations task's command, each
service's image command, each container's health check exactly as synthesized, and the smoke
tests' command through a local edge that runs the synthesized CloudFront Function.

They run in a network namespace of the module's own (tests/private_network.py), on the ports
the spec gives them, as in their tasks: another run of the suite on this machine has its own.

ECS runs a container health check's command inside the container and counts exit 0 as
healthy, anything else or no answer within ``timeout`` as unhealthy (Amazon ECS API
reference, "HealthCheck": https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.names import COMPUTE, DELIVERY
from tests import background
from tests.platform_synth import ROOT, Synthesized
from tests.postgres import Postgres, rds_like_database
from tests.private_network import PrivateNetwork, private_network
from tests.reference_services import (
    NODE_BIN,
    Processes,
    base_environment,
    container_definition,
    dockerfile_command,
    dockerfile_environment,
    free_port,
    image_directory,
    inside_the_vpc,
    run,
    start_service_tests,
    task_environment,
)
from tools.local_tasks import bootstrap_tls

EDGE = ROOT / "tests" / "local_edge.js"


@dataclass
class LocalPlatform:
    spec: PlatformSpec
    synth: Synthesized
    postgres: Postgres
    database: str
    processes: Processes
    home: Path
    edge_url: str
    network: PrivateNetwork
    """Where the services, the edge and the checks run (each test is inside it)."""

    def database_settings(self) -> dict[str, str]:
        """What stands for RDS here: its address, and its CA in place of RDS's bundle."""
        return {
            "DB_HOST": self.postgres.host,
            "DB_PORT": str(self.postgres.port),
            "DB_SSL_ROOT_CERT": str(self.postgres.ca_file),
        }

    def environment(self, directory: Path, container: dict[str, Any]) -> dict[str, str]:
        """The image's ENV, then the task's environment, as ECS combines them."""
        values = {
            **base_environment(self.home),
            **dockerfile_environment(directory),
            **{
                key: inside_the_vpc(value, self.spec)
                for key, value in task_environment(container).items()
                if isinstance(value, str)
            },
        }
        if "DB_USER" in values:
            values.update(self.database_settings())
        return values

    def service_container(self, service: ServiceSpec) -> dict[str, Any]:
        return container_definition(self.synth.template_json(COMPUTE), service.container_name)

    def start(self, service: ServiceSpec) -> None:
        directory = image_directory(service)
        self.processes.start(
            service.name,
            dockerfile_command(directory),
            cwd=directory,
            environment=self.environment(directory, self.service_container(service)),
            port=service.container_port,
        )

    def one_off(self, name: str, service: ServiceSpec, **overrides: str) -> subprocess.CompletedProcess[str]:
        """A delivery task's own command on its service's image."""
        container = container_definition(self.synth.template_json(DELIVERY), name)
        directory = image_directory(service)
        environment = {**self.environment(directory, container), **overrides}
        return run(container["Command"], cwd=directory, environment=environment)

    def health_check(self, service: ServiceSpec) -> tuple[int, float]:
        """The container's health check command as ECS runs it: (exit status, seconds)."""
        check = self.service_container(service)["HealthCheck"]
        kind, *command = check["Command"]
        assert kind == "CMD"
        started = time.monotonic()
        result = run(command, cwd=self.home, environment=base_environment(self.home), timeout=check["Timeout"] + 5)
        return result.returncode, time.monotonic() - started


def _migrate(platform: LocalPlatform) -> subprocess.CompletedProcess[str]:
    delivery = platform.spec.delivery
    return platform.one_off("migrations", platform.spec.service(delivery.migrations_service))


@pytest.fixture(scope="module")
def network(postgres: Postgres) -> Iterator[PrivateNetwork]:
    """The module's own network, where the session's PostgreSQL answers at its own address."""
    with private_network() as network:
        network.forward(postgres.host, postgres.port)
        yield network


def _start(local: LocalPlatform, directory: Path, edge_port: int) -> None:
    """The migrations, every service and the edge, as the platform's tasks and CloudFront run them."""
    spec, dev, processes, home = local.spec, local.synth, local.processes, local.home
    migrated = _migrate(local)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    for service in spec.services:
        local.start(service)
    (function,) = [
        r["Properties"]["FunctionCode"]
        for r in dev.template_json(COMPUTE)["Resources"].values()
        if r["Type"] == "AWS::CloudFront::Function"
    ]
    # The load balancer's listener rules: each service's route, and the default one.
    routes = [
        {"pattern": s.route, "target": f"http://127.0.0.1:{s.container_port}"}
        for s in spec.services
        if s.route is not None
    ]
    (default,) = [s for s in spec.services if s.route is None]
    config = directory / "edge.json"
    config.write_text(
        json.dumps(
            {
                "port": edge_port,
                "functionCode": function,
                "routes": routes,
                "defaultTarget": f"http://127.0.0.1:{default.container_port}",
            }
        )
    )
    processes.start(
        "edge",
        [str(NODE_BIN / "node"), str(EDGE), str(config)],
        cwd=directory,
        environment=base_environment(home),
        port=edge_port,
    )


@pytest.fixture(scope="module")
def platform(
    postgres: Postgres, dev: Synthesized, network: PrivateNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    spec = dev.spec
    bootstrap = container_definition(dev.template_json(COMPUTE), "database-bootstrap")
    directory = tmp_path_factory.mktemp("local-platform")
    home = directory / "home"
    home.mkdir()
    with rds_like_database(
        postgres,
        name=spec.database.database_name,
        bootstrap_command=bootstrap["Command"][0],
        bootstrap_sql=task_environment(bootstrap)["BOOTSTRAP_SQL"],
        users=[spec.database.migrator_user, *spec.database_users()],
        environment=bootstrap_tls(postgres, mode=task_environment(bootstrap)["PGSSLMODE"]),
    ) as database:
        processes = Processes(directory)
        edge_port = free_port()
        local = LocalPlatform(spec, dev, postgres, database, processes, home, f"http://127.0.0.1:{edge_port}", network)
        try:
            with network.inside():
                _start(local, directory, edge_port)
            yield local
        finally:
            processes.stop_all()


@pytest.fixture(autouse=True)
def _inside_the_platforms_network(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test of the running platform reaches it, and starts what it starts, in its network."""
    if "platform" not in request.fixturenames:
        yield
        return
    local: LocalPlatform = request.getfixturevalue("platform")
    with local.network.inside():
        yield


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --- Migrations ------------------------------------------------------------------------------


def test_the_migrations_ran_as_the_migrator_and_the_backend_reads_their_data(platform: LocalPlatform) -> None:
    schema, migrator = platform.spec.database.schema, platform.spec.database.migrator_user
    owner = platform.postgres.psql(
        f"SELECT tableowner FROM pg_tables WHERE schemaname = '{schema}' AND tablename = 'items'",
        database=platform.database,
    )
    assert owner.stdout.strip() == migrator
    backend = platform.spec.service("backend")
    status, body = _get(f"http://127.0.0.1:{backend.container_port}/api/items")
    assert status == 200, body
    assert len(json.loads(body)["items"]) >= 1


def test_the_migrations_run_again_changing_nothing(platform: LocalPlatform) -> None:
    again = _migrate(platform)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.strip().splitlines()
    migrations = sorted(
        p.name for p in (image_directory(platform.spec.service("backend")) / "migrations").glob("*.sql")
    )
    assert lines == [f"already applied {name}" for name in migrations]


def test_the_migrations_refuse_a_changed_history(platform: LocalPlatform, tmp_path: Path) -> None:
    source = image_directory(platform.spec.service(platform.spec.delivery.migrations_service))
    copy = tmp_path / "backend"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("node_modules"))
    (copy / "node_modules").symlink_to(source / "node_modules")
    first = sorted((copy / "migrations").glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    container = container_definition(platform.synth.template_json(DELIVERY), "migrations")
    result = run(container["Command"], cwd=copy, environment=platform.environment(source, container))
    assert result.returncode == 1
    assert first.name in result.stdout + result.stderr


# --- Health checks, as synthesized -----------------------------------------------------------


def test_every_health_check_passes_against_the_running_service(platform: LocalPlatform) -> None:
    for service in platform.spec.services:
        status, _ = platform.health_check(service)
        assert status == 0, f"{service.name}'s health check failed: {platform.processes.log(service.name)[-1000:]}"


def test_the_backend_is_unhealthy_without_its_database_and_recovers(platform: LocalPlatform) -> None:
    backend = platform.spec.service("backend")
    user, database = backend.database_user, platform.database
    platform.postgres.psql(f"REVOKE CONNECT ON DATABASE {database} FROM {user}")
    platform.postgres.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{user}'")
    try:
        status, _ = platform.health_check(backend)
        assert status != 0
        code, body = _get(f"http://127.0.0.1:{backend.container_port}{backend.health_check_path}")
        assert code == 503
        # The answer reaches the public edge: it says unavailable, never why (the log does).
        assert json.loads(body) == {"status": "unavailable"}
        assert "permission denied" in platform.processes.log(backend.name)
    finally:
        platform.postgres.psql(f"GRANT CONNECT ON DATABASE {database} TO {user}")
    assert platform.health_check(backend)[0] == 0


def test_a_stopped_or_silent_service_is_unhealthy_within_the_timeout(platform: LocalPlatform) -> None:
    frontend = platform.spec.service("frontend")
    timeout = platform.service_container(frontend)["HealthCheck"]["Timeout"]
    assert platform.processes.stop(frontend.name) == 0, "SIGTERM, as ECS stops a task, ends it cleanly"
    try:
        status, _ = platform.health_check(frontend)
        assert status != 0
        # Something that accepts and never answers: the check must give up within ECS's timeout.
        with socket.socket() as silent:
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            silent.bind(("127.0.0.1", frontend.container_port))
            silent.listen()
            status, seconds = platform.health_check(frontend)
        assert status != 0
        assert seconds < timeout, f"took {seconds:.1f} s; ECS counts no answer within {timeout} s as unhealthy"
    finally:
        platform.start(frontend)


# --- The smoke tests, through the edge --------------------------------------------------------


def test_the_smoke_tests_pass_through_the_edge(platform: LocalPlatform) -> None:
    delivery = platform.spec.delivery
    container = container_definition(platform.synth.template_json(DELIVERY), "smoke-tests")
    assert task_environment(container)["INTERNAL_PATHS"] == ",".join(platform.spec.edge_internal_paths())
    result = platform.one_off(
        "smoke-tests", platform.spec.service(delivery.smoke_test_service), WEB_URL=platform.edge_url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # npm prints the script it runs first; the checks print "ok <check>" or "FAILED <check>: ...".
    checks = [line for line in result.stdout.splitlines() if line.startswith(("ok ", "FAILED "))]
    assert checks
    assert all(line.startswith("ok ") for line in checks), checks
    assert any(path in line for line in checks for path in platform.spec.edge_internal_paths())


def test_the_edge_hides_the_metrics_the_services_serve(platform: LocalPlatform) -> None:
    for service in platform.spec.services:
        direct, body = _get(f"http://127.0.0.1:{service.container_port}{service.metrics_path}")
        assert direct == 200
        assert re.search(r"^http_requests_total\{", body, re.MULTILINE)
        assert _get(f"{platform.edge_url}{service.metrics_path}")[0] == 404


# What each reference service's code counts beyond the requests every service counts, once its
# health check and the page (/) have been asked for: the families it defines, and samples those
# requests must have moved (a name, and labels each written as name="value").
REFERENCE_SIGNALS = {
    "backend": (
        ("db_pool_connections", "db_query_duration_seconds", "db_query_errors_total"),
        (
            ("db_query_duration_seconds_count", ('statement="health_check"', 'outcome="ok"')),
            ("db_pool_connections", ('state="idle"',)),
        ),
    ),
    "frontend": (
        ("backend_requests_total", "http_client_request_duration_seconds", "page_render_duration_seconds"),
        (
            ("http_client_request_duration_seconds_count", ('target="backend"', 'outcome="ok"')),
            ("backend_requests_total", ('outcome="ok"',)),
            ("page_render_duration_seconds_count", ('route="/"',)),
        ),
    ),
}


def _value(body: str, name: str, labels: tuple[str, ...]) -> float:
    """The sample ``name`` whose labels include ``labels``, in any order (0 if there is none)."""
    for line in body.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and set(labels) <= set(match[1].split(",")):
            return float(match[2])
    return 0.0


def test_the_services_own_metrics_pass_promtools_lint(platform: LocalPlatform) -> None:
    """The families the services define (prom-client's default nodejs_* gauges end in _total,
    which the lint refuses; Prometheus scrapes them all, as the discovery test shows), with the
    reference code's own signals moved by a request against the real database."""
    for service in platform.spec.services:
        origin = f"http://127.0.0.1:{service.container_port}"
        _get(f"{origin}{service.health_check_path}")  # a request to count
        _get(f"{origin}/")  # the frontend's page, through the backend, to the database
        families, moved = REFERENCE_SIGNALS[image_directory(service).name]
        _, body = _get(f"{origin}{service.metrics_path}")
        own = "".join(
            f"{line}\n"
            for line in body.splitlines()
            if line and not re.match(r"^(# (HELP|TYPE) )?(nodejs|process)_", line)
        )
        assert "http_request_duration_seconds_bucket" in own
        for family in families:
            assert f"# TYPE {family} " in own, f"{service.name} serves no {family}"
        for name, labels in moved:
            assert _value(own, name, labels) >= 1, f"{service.name}: {name}{{{','.join(labels)}}} did not move"
        lint = subprocess.run(["promtool", "check", "metrics"], input=own, capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_backend_signs_in_as_its_own_user_over_verified_tls(platform: LocalPlatform) -> None:
    user = platform.spec.service("backend").database_user
    log = platform.postgres.log_file.read_text()
    pattern = rf"connection authorized: user={user} database={platform.database} .*SSL enabled"
    assert re.search(pattern, log), log[-2000:]


# --- The services' own tests ------------------------------------------------------------------


def test_the_reference_services_own_tests_pass() -> None:
    """node:test suites of each service: routes, metrics labels, the token and its credentials,
    the smoke-test script against stand-ins."""
    running = background.take("service-tests", start_service_tests)
    assert set(running) >= {"backend", "frontend"}
    for name, (process, log) in running.items():
        process.wait(timeout=120)
        assert process.returncode == 0, f"{name}:\n{log.read_text()[-3000:]}"
