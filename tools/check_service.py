"""``make check-service SERVICE=<name>``: does a service's image keep the platform's contract
(docs/image-contract.md)? Runs the service from its directory against a local PostgreSQL, as
its task would run it, and prints one ``PASS``/``FAIL`` line per point; exit 0 only if all pass.

    python -m tools.check_service backend [--env dev] [--dir path/to/checkout]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from platform_spec import PlatformSpec, ServiceSpec, SpecError, spec_from_context
from platform_spec.profiles import DEFAULT_PROFILE
from tools.cli import fail
from tools.local_contract import (
    ADDRESSES,
    POINTS,
    Result,
    command_point,
    database_point,
    failed,
    health_check_point,
    listens_point,
    metrics_point,
    not_applicable,
    passed,
    stop_detail,
    user_point,
    volume_tools_point,
    written_detail,
)
from tools.local_dockerfile import DockerfileError, read_dockerfile
from tools.local_edge import local_edge
from tools.local_postgres import Postgres, running_postgres
from tools.local_sandbox import TMP, Sandbox, Snapshot, namespace_unavailable, snapshot
from tools.local_services import (
    Processes,
    ServiceError,
    StopTimeoutError,
    free_port,
    image_directory,
    last_line,
    own_directory,
    stand_in_environment,
)
from tools.local_tasks import LocalTasks, bootstrapped_database, migrations_point, smoke_failure, smoke_tests_point
from tools.postgres_binaries import PostgresError

STOP_TIMEOUT_SECONDS = 30
"""ECS's default ``stopTimeout``: SIGKILL follows SIGTERM after it (the platform sets no other)."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """What to check: a service of a spec, run from a directory."""

    spec: PlatformSpec
    service: ServiceSpec
    directory: Path
    """The service's checkout: its Dockerfile, and its image's ``WORKDIR``."""
    extra_environment: Mapping[str, str] = field(default_factory=dict)
    """Variables a stand-in's code needs (``tools.local_services.stand_in_environment``); a
    value may name a variable of the task as ``${NAME}``. Empty for a service's own code."""


def needs_database(spec: PlatformSpec, service: ServiceSpec) -> bool:
    """The service uses it, runs the migrations, or smoke-tests an API that uses it."""
    delivery = spec.delivery
    smoke_api = service.name == delivery.smoke_test_service and spec.service(delivery.api_service).uses_database
    return service.uses_database or service.name == delivery.migrations_service or smoke_api


class _Check:
    """One run of the check; ``results`` fills as the points are judged (the first word stays)."""

    def __init__(self, target: Target, *, postgres: Postgres | None, work: Path, stack: ExitStack) -> None:
        self.target, self.spec, self.service, self.stack = target, target.spec, target.service, stack
        self.dockerfile = read_dockerfile(target.directory)
        self.processes = Processes(work)
        stack.callback(self.processes.stop_all)
        self.work, self.postgres = work, postgres
        self.home = work / "home"
        self.home.mkdir(exist_ok=True)
        self.origins: dict[str, str] = {}
        self.api = self.spec.service(self.spec.delivery.api_service)
        self.is_smoke = self.service.name == self.spec.delivery.smoke_test_service
        self.problem: str | None = None
        """Why the database, or what the smoke tests need, is not there."""
        self.results: dict[str, Result] = {}

    @property
    def tasks(self) -> LocalTasks:
        """The task definitions' view, with the database as it now stands."""
        return LocalTasks(spec=self.spec, home=self.home, postgres=self.postgres, origins=self.origins)

    def record(self, *results: Result) -> None:
        for result in results:
            self.results.setdefault(result.point, result)

    def run(self) -> list[Result]:
        dockerfile, service, delivery = self.dockerfile, self.service, self.spec.delivery
        self.record(command_point(dockerfile), user_point(dockerfile, service), volume_tools_point(dockerfile, service))
        if not service.has_port:
            self.record(passed("listens", "no port (worker)"))
        if not service.scraped:
            self.record(not_applicable("metrics", "not scraped: the spec gives it no metrics path or no port"))
        if not service.uses_database:
            self.record(not_applicable("database", "the spec says it uses no database"))
        if service.name != delivery.migrations_service:
            self.record(not_applicable("migrations", f"the migrations run on {delivery.migrations_service}'s image"))
        if not self.is_smoke:
            self.record(not_applicable("smoke tests", f"they run on {delivery.smoke_test_service}'s image"))
        if needs_database(self.spec, service):
            self._prepare_database()
        if self.is_smoke and self.api.name != service.name:
            self._start_api()
        self._run_service()
        return [self.results.get(point, failed(point, "not checked")) for point in POINTS]

    def _prepare_database(self) -> None:
        """The bootstrapped database, and the migrations run on it (judged, where they are this image's)."""
        try:
            if self.postgres is None:
                self.postgres = self.stack.enter_context(running_postgres())
            self.stack.enter_context(bootstrapped_database(self.postgres, self.spec))
            migrations = self.spec.service(self.spec.delivery.migrations_service)
            if migrations.name == self.service.name:
                self.record(
                    migrations_point(self.spec, self.postgres, migrate=lambda: self.tasks.migrate(self.dockerfile))
                )
                return
            directory = image_directory(migrations)
            migrated = self.tasks.migrate(read_dockerfile(directory))
        except (PostgresError, ServiceError, DockerfileError) as error:
            self.problem = str(error)
            return
        if migrated.returncode != 0:
            self.problem = f"the migrations of {directory} exited {migrated.returncode}: {last_line(migrated.stderr)}"

    def _start_api(self) -> None:
        """The service the smoke tests call as API_URL, from its own code or its stand-in."""
        try:
            directory = image_directory(self.api)
            dockerfile = read_dockerfile(directory)
            port = free_port()
            extra = stand_in_environment(self.spec, self.api)
            environment = self.tasks.service_environment(self.api, dockerfile, port=port, extra=extra)
            self.processes.start(self.api.name, dockerfile.command(), cwd=directory, environment=environment, port=port)
        except (ServiceError, DockerfileError) as error:
            self.problem = self.problem or f"the API, {self.api.name}, did not start here: {error}"
            return
        self.origins[self.api.name] = f"http://127.0.0.1:{port}"

    def _run_service(self) -> None:
        """The service in its sandbox, every point that asks it, then what it wrote."""
        service, dockerfile, directory = self.service, self.dockerfile, self.target.directory
        writable = tuple(
            mapped.relative_to(directory).as_posix()
            for path in service.writable_paths
            if not Path(path).is_relative_to(TMP) and (mapped := dockerfile.image_path(path)) is not None
        )
        visible = (self.postgres.ca_file,) if self.postgres is not None else ()
        sandbox = Sandbox(directory=directory, work=self.work / "sandbox", writable=writable, visible=visible)
        before = None if sandbox.isolated else snapshot(directory, skip=writable)
        port = free_port() if service.has_port else None
        environment = self.tasks.service_environment(
            service, dockerfile, port=port, extra=self.target.extra_environment
        )
        log_offset = self.postgres.log_file.stat().st_size if self.postgres is not None else 0
        try:
            command = sandbox.command(dockerfile.command())
            self.processes.start(
                service.name, command, cwd=directory, environment=environment, port=port, addresses=ADDRESSES
            )
        except ServiceError as error:
            self.record(failed("listens" if port else "stops", f"did not start: {error}"))
            self.record(*(failed(p, "not checked: the service did not start") for p in POINTS if p != "read-only root"))
        else:
            self._ask(port, environment, log_offset)
        self.record(self._read_only(sandbox, before))

    def _ask(self, port: int | None, environment: Mapping[str, str], log_offset: int) -> None:
        service = self.service
        if port is not None:
            self.origins[service.name] = f"http://127.0.0.1:{port}"
            self.record(listens_point(service, port), metrics_point(service, port))
        self.record(health_check_point(service, port=port, dockerfile=self.dockerfile, environment=environment))
        if self.problem is not None:
            self.record(*(failed(p, f"not checked: {self.problem}") for p in ("database", "migrations", "smoke tests")))
        elif self.postgres is not None:
            with self.postgres.log_file.open(errors="replace") as log:
                log.seek(log_offset)
                self.record(database_point(service, server_log=log.read()))
        smoke = self.is_smoke and "smoke tests" not in self.results
        web_url = (
            self.stack.enter_context(local_edge(self.spec, origins=self.origins, port=free_port())) if smoke else ""
        )
        if smoke and (failure := smoke_failure(self.spec, self.tasks.smoke_tests(self.dockerfile, web_url=web_url))):
            self.record(failure)
        elif smoke and self.api.name != service.name:
            with suppress(ServiceError):  # an API that outlives SIGTERM is killed: it is down all the same
                self.processes.stop(self.api.name, timeout=STOP_TIMEOUT_SECONDS)
            self.record(smoke_tests_point(self.spec, self.tasks.smoke_tests(self.dockerfile, web_url=web_url)))
        self.record(self._stops())
        if smoke and "smoke tests" not in self.results:  # the API is this service, stopped now
            self.record(smoke_tests_point(self.spec, self.tasks.smoke_tests(self.dockerfile, web_url=web_url)))

    def _stops(self) -> Result:
        name = self.service.name
        code = self.processes.exited(name)
        if code is not None:
            return failed("stops", f"exited {code} before SIGTERM ({last_line(self.processes.log(name))})")
        started = time.monotonic()
        try:
            code = self.processes.stop(name, timeout=STOP_TIMEOUT_SECONDS)
        except StopTimeoutError:
            return failed(
                "stops",
                f"still running {STOP_TIMEOUT_SECONDS} s after SIGTERM, when ECS kills it and cuts open requests: "
                "on SIGTERM, stop listening, finish what is open and exit",
            )
        except ServiceError as error:
            return failed("stops", f"{error}: run the app itself as the command, or pass SIGTERM on to it")
        return passed("stops", stop_detail(code=code, seconds=time.monotonic() - started))

    def _read_only(self, sandbox: Sandbox, before: Snapshot | None) -> Result:
        paths = self.service.writable_paths
        if written := sandbox.written(before):
            return failed("read-only root", written_detail(written, directory=self.target.directory, writable=paths))
        how = (
            "its directory a read-only root in a mount namespace, /tmp private"
            if sandbox.isolated
            else f"no mount namespace ({namespace_unavailable() or 'a path with , or :'}): only its directory compared"
        )
        unmapped = [p for p in paths if not Path(p).is_relative_to(TMP) and self.dockerfile.image_path(p) is None]
        outside = f"; {', '.join(unmapped)} not under WORKDIR, so not made here" if unmapped else ""
        return passed("read-only root", f"wrote nothing outside {', '.join(paths) or '(none)'} ({how}{outside})")


def check_service(target: Target, *, work: Path, postgres: Postgres | None = None) -> list[Result]:
    """Every point of the contract for ``target``, in ``POINTS`` order. ``work``: an empty
    directory for logs and scratch. ``postgres``: a running server to use, one check at a time
    (the tests share one); without it, one is started where the service needs a database."""
    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        return _Check(target, postgres=postgres, work=work, stack=stack).run()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SystemExit(fail(message))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m tools.check_service", description="Check a service's image against the contract.")
    parser.add_argument("service", help="the service's name in the spec")
    parser.add_argument("--env", default=DEFAULT_PROFILE, help=f"the profile (default: {DEFAULT_PROFILE})")
    parser.add_argument("--dir", type=Path, help="the service's checkout (default: services/<name>)")
    args = parser.parse_args(argv)
    try:
        spec = spec_from_context({"env": args.env})
    except SpecError as error:
        return fail(str(error))
    names = [s.name for s in spec.services]
    if args.service not in names:
        return fail(f"no service {args.service!r} in the {args.env} profile (it has {', '.join(names)})")
    service = spec.service(args.service)
    directory = (args.dir or own_directory(service)).resolve()
    if not directory.is_dir():
        return fail(f"{directory} is not a directory: give the service's checkout with --dir")
    try:
        read_dockerfile(directory)
    except DockerfileError as error:
        return fail(str(error))
    with tempfile.TemporaryDirectory(prefix="check-service-") as work:
        try:
            results = check_service(Target(spec=spec, service=service, directory=directory), work=Path(work))
        except KeyboardInterrupt:
            return fail("interrupted", code=130)
    for result in results:
        print(result.line)
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
