"""``make check-service`` (tools/check_service.py), run for real: every service of the profile,
from its own code or the reference service that stands in for it, keeps every point of the image
contract; and a copy of a reference service broken in exactly one way fails exactly that point,
while every other point still prints its line.

Every name, port and path comes from the spec, and each service is chosen by what it is (the
migrations' service, the smoke tests', one that uses the database), so a renamed or extended
spec keeps this meaningful. The runs go side by side, each on a PostgreSQL of its own at a time
(the session's and two more), and are judged afterwards."""

from __future__ import annotations

import json
import queue
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest

from platform_spec import NODE_USER, ServiceSpec, spec_from_context
from tests.picking import first_or_skip
from tests.platform_synth import ROOT
from tests.postgres import Postgres, running_postgres
from tests.reference_services import image_directory, stand_in_environment, stand_in_note
from tools.check_service import Target, check_service, main
from tools.local_contract import POINTS, command_point, user_point, volume_tools_point
from tools.local_dockerfile import read_dockerfile
from tools.local_services import ServiceError

SPEC = spec_from_context({})
"""The profile ``make check-service`` reads by default."""
DELIVERY = SPEC.delivery
SERVERS = 3
LINE = re.compile(r"^(PASS|FAIL) ([a-z -]+): \S")


@dataclass(frozen=True)
class Report:
    lines: list[str]
    exit_code: int
    note: str

    def verdicts(self) -> dict[str, str]:
        return {match[2]: match[1] for line in self.lines if (match := LINE.match(line))}

    def __str__(self) -> str:
        return "\n".join([self.note, *self.lines])


# --- The services, chosen by what they are ----------------------------------------------------


def _cost(service: ServiceSpec) -> tuple[bool, bool, str]:
    """Cheapest to break first: a smoke-test service also runs its API and the smoke tests twice."""
    return service.name == DELIVERY.smoke_test_service, service.uses_database, service.name


def _runnable(service: ServiceSpec) -> bool:
    try:
        image_directory(service)
    except ServiceError:
        return False
    return True


def _one(what: str, fits: Callable[[ServiceSpec], bool]) -> ServiceSpec | str:
    """The cheapest runnable service that ``fits``, or why there is none."""
    found = sorted((s for s in SPEC.services if fits(s) and _runnable(s)), key=_cost)
    return found[0] if found else f"the {SPEC.environment} profile has no {what} that can run here"


ANY = _one("service with a scraped port", lambda s: s.scraped)
HANDS_OVER = _one(
    "non-root service with writable paths", lambda s: s.scraped and bool(s.writable_paths) and not s.run_as.is_root
)
USES_DATABASE = _one("service that uses the database", lambda s: s.uses_database)
MIGRATES = _one("migrations service", lambda s: s.name == DELIVERY.migrations_service)
SMOKE_TESTS = _one("smoke-test service", lambda s: s.name == DELIVERY.smoke_test_service)


# --- Breaking a copy ------------------------------------------------------------------------------


def _copy(service: ServiceSpec, into: Path) -> Path:
    source = image_directory(service)
    copy = into / source.name
    # node_modules too, not a link to it: where the checkout is under /tmp (a CI clone), the
    # sandbox's private /tmp would hide the link's target from the service.
    shutil.copytree(source, copy, symlinks=True)
    return copy


def _rewrite(dockerfile: Path, instruction: str, line: str) -> None:
    """The Dockerfile's last ``instruction`` line becomes ``line``."""
    lines = dockerfile.read_text().splitlines()
    index = max(i for i, text in enumerate(lines) if text.upper().startswith(f"{instruction} "))
    lines[index] = line
    dockerfile.write_text("\n".join(lines) + "\n")


def _preload(copy: Path, script: str) -> None:
    """Node loads ``script`` before the service's own code (``node -r``), the CMD still exec form."""
    (copy / "contract-break.js").write_text(f"'use strict';\n{script}\n")
    command = read_dockerfile(copy).command()
    assert command[0] == "node", f"the break needs a node CMD, not {command}"
    _rewrite(copy / "Dockerfile", "CMD", f"CMD {json.dumps([command[0], '-r', './contract-break.js', *command[1:]])}")


def _script(copy: Path, command: Sequence[str]) -> Path:
    """The Node file a one-off task's command runs: ``node <file>``, or ``npm run <script>``'s."""
    words = list(command)
    if words[:2] == ["npm", "run"]:
        words = json.loads((copy / "package.json").read_text())["scripts"][words[2]].split()
    return next(copy / word for word in words if word.endswith(".js") and (copy / word).is_file())


ON_REQUEST = """const http = require('node:http');
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res, ...rest) {
  const path = event === 'request' ? req.url.split('?')[0] : undefined;
  %s
  return emit.call(this, event, req, res, ...rest);
};"""


def _no_shell(copy: Path, service: ServiceSpec) -> None:
    _rewrite(copy / "Dockerfile", "FROM", "FROM scratch")
    # The same user, by number: scratch has no /etc/passwd to name it by.
    _rewrite(copy / "Dockerfile", "USER", f"USER {service.run_as.ecs_user}")


BREAKS: dict[str, tuple[ServiceSpec | str, Callable[[Path, ServiceSpec], object]]] = {
    "command": (ANY, lambda c, _: _rewrite(c / "Dockerfile", "CMD", f"CMD {shlex.join(read_dockerfile(c).command())}")),
    "user": (ANY, lambda c, _: _rewrite(c / "Dockerfile", "USER", "USER root")),
    "volume tools": (HANDS_OVER, _no_shell),
    "listens": (
        ANY,
        lambda c, _: _preload(
            c,
            """const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...args[0], host: '127.0.0.1' };
  else if (typeof args[1] === 'string') args[1] = '127.0.0.1';
  else args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};""",
        ),
    ),
    "health check": (
        ANY,
        # The service still answers its health path itself (a database it asks is still asked).
        lambda c, _: _preload(
            c,
            ON_REQUEST
            % """if (path === process.env.HEALTH_CHECK_PATH) {
    const writeHead = res.writeHead;
    res.writeHead = function (status, ...more) { return writeHead.call(this, 500, ...more); };
  }""",
        ),
    ),
    "metrics": (
        ANY,
        lambda c, _: _preload(
            c,
            ON_REQUEST
            % """if (path === process.env.METRICS_PATH) {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end('requests handled: many\\n');
    return true;
  }""",
        ),
    ),
    "read-only root": (
        ANY,
        lambda c, _: _preload(
            c, "require('node:fs').writeFileSync(require('node:path').join(process.cwd(), 'started-at'), 'now');"
        ),
    ),
    "stops": (
        ANY,
        lambda c, _: _preload(
            c,
            """process.on('SIGTERM', () => {});
for (const name of ['on', 'once', 'addListener']) {
  const original = process[name];
  process[name] = function (event, ...rest) {
    return event === 'SIGTERM' ? this : original.call(this, event, ...rest);
  };
}""",
        ),
    ),
    "database": (
        USES_DATABASE,
        # Signs in as another user the bootstrap made, which may connect too.
        lambda c, _: _preload(c, f"process.env.DB_USER = {json.dumps(SPEC.database.migrator_user)};"),
    ),
    "migrations": (
        MIGRATES,
        lambda c, _: _script(c, DELIVERY.migrate_command).write_text(
            """'use strict';
// Not idempotent: every run adds a table.
const fs = require('node:fs');
const { Client } = require('pg');
const env = process.env;
const client = new Client({
  host: env.DB_HOST, port: Number(env.DB_PORT), user: env.DB_USER, database: env.DB_NAME,
  ssl: { ca: fs.readFileSync(env.DB_SSL_ROOT_CERT, 'utf8') },
});
client.connect()
  .then(() => client.query(`CREATE TABLE ${env.DB_SCHEMA}.run_${Date.now()} (id integer)`))
  .then(() => client.end())
  .catch((error) => { console.error(error.message); process.exit(1); });
"""
        ),
    ),
    "smoke tests": (
        SMOKE_TESTS,
        lambda c, _: _script(c, DELIVERY.smoke_test_command).write_text(
            "'use strict';\nconsole.log('ok everything');\n"
        ),
    ),
}
assert set(BREAKS) == set(POINTS)


# --- The runs, side by side ----------------------------------------------------------------------


def _in_process(service: ServiceSpec, directory: Path, servers: queue.Queue[Postgres], work: Path) -> Report:
    target = Target(
        spec=SPEC, service=service, directory=directory, extra_environment=stand_in_environment(SPEC, service)
    )
    server = servers.get()
    try:
        results = check_service(target, work=work, postgres=server)
    finally:
        servers.put(server)
    exit_code = 0 if all(result.passed for result in results) else 1
    return Report([result.line for result in results], exit_code, stand_in_note(service) or "")


def _command_line(service: ServiceSpec) -> Report:
    """``python -m tools.check_service``, as ``make check-service`` runs it (its own PostgreSQL)."""
    command = [sys.executable, "-m", "tools.check_service", service.name, "--env", SPEC.environment]
    result = subprocess.run(
        [*command, "--dir", str(image_directory(service))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.splitlines() + [f"stderr: {line}" for line in result.stderr.splitlines()]
    return Report(lines, result.returncode, stand_in_note(service) or "")


def _jobs(servers: queue.Queue[Postgres], work: pytest.TempPathFactory) -> dict[str, Callable[[], Report] | str]:
    """Each run to make, by ``service <name>`` and ``broken <point>``, or why it cannot be made."""
    jobs: dict[str, Callable[[], Report] | str] = {}
    for service in filter(_runnable, SPEC.services):
        # The command line runs a service's own code; a stand-in that needs more than the task
        # gives (stand_in_environment) runs in process, with it.
        if stand_in_environment(SPEC, service):
            run = partial(_in_process, service, image_directory(service), servers, work.mktemp(service.name))
            jobs[f"service {service.name}"] = run
        else:
            jobs[f"service {service.name}"] = partial(_command_line, service)
    for point, (chosen, breaks) in BREAKS.items():
        if isinstance(chosen, str):
            jobs[f"broken {point}"] = chosen
            continue
        directory = work.mktemp(f"broken-{point.replace(' ', '-')}")
        copy = _copy(chosen, directory)
        breaks(copy, chosen)
        jobs[f"broken {point}"] = partial(_in_process, chosen, copy, servers, directory / "run")
    return jobs


@pytest.fixture(scope="module")
def reports(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Report | str]]:
    """Every run's report (or why it could not be made), the runs side by side, each check on
    a PostgreSQL of its own while it runs."""
    servers: queue.Queue[Postgres] = queue.Queue()
    jobs = _jobs(servers, tmp_path_factory)
    with ExitStack() as stack:
        servers.put(postgres)
        for _ in range(SERVERS - 1):
            servers.put(stack.enter_context(running_postgres()))
        # The longest first: the copy that ignores SIGTERM waits out ECS's 30 s.
        runs = sorted((name for name, job in jobs.items() if callable(job)), key=lambda name: name != "broken stops")
        with ThreadPoolExecutor(max_workers=SERVERS + 1) as pool:
            futures = {name: pool.submit(job) for name in runs if callable(job := jobs[name])}
            done: dict[str, Report | str] = {name: future.result() for name, future in futures.items()}
        yield {**{name: job for name, job in jobs.items() if isinstance(job, str)}, **done}


def _report(reports: dict[str, Report | str], key: str) -> Report:
    report = reports[key]
    if isinstance(report, str):
        pytest.skip(report)
    print(report.note)
    return report


# --- The tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [s.name for s in SPEC.services])
def test_each_service_of_the_profile_keeps_every_point(reports: dict[str, Report | str], name: str) -> None:
    if f"service {name}" not in reports:
        pytest.skip(f"no reference service can stand in for {name}")
    report = _report(reports, f"service {name}")
    assert list(report.verdicts()) == list(POINTS), report
    assert set(report.verdicts().values()) == {"PASS"}, report
    assert report.exit_code == 0, report


@pytest.mark.parametrize("point", POINTS)
def test_a_copy_broken_in_one_way_fails_that_point_only(reports: dict[str, Report | str], point: str) -> None:
    report = _report(reports, f"broken {point}")
    assert list(report.verdicts()) == list(POINTS), report
    assert {p: v for p, v in report.verdicts().items() if v == "FAIL"} == {point: "FAIL"}, report
    assert report.exit_code == 1, report


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["no-such-service"], "no service 'no-such-service' in the"),
        (["{service}", "--dir", "/no/such/checkout"], "/no/such/checkout is not a directory"),
        (["{service}", "--dir", "{empty}"], "no Dockerfile in"),
        (["{service}", "--env", "no-such-profile"], "unknown profile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    arguments: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filled = [a.format(service=SPEC.services[0].name, empty=tmp_path) for a in arguments]
    assert main(filled) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: "), err
    assert said in err, err


@pytest.mark.parametrize(
    ("dockerfile", "verdicts"),
    [
        # The final stage counts: a distroless runtime has no shell for the volume hand-over.
        (
            "FROM node:22-alpine AS build\nRUN npm ci\n"
            'FROM gcr.io/distroless/nodejs22-debian12\nUSER {uid_gid}\nCMD ["server.js"]',
            {"command": "PASS", "user": "PASS", "volume tools": "FAIL"},
        ),
        # ...but its :debug tag has busybox's sh; an ARG names the base; a user by name is not known.
        (
            'ARG BASE=gcr.io/distroless/nodejs22-debian12:debug\nFROM ${{BASE}}\nUSER app\nCMD ["server.js"]',
            {"command": "PASS", "user": "FAIL", "volume tools": "PASS"},
        ),
        # A later stage inherits an earlier one's USER; a CMD may span lines.
        (
            'FROM node:22-alpine AS base\nUSER node\nFROM base\nCMD ["node", \\\n  "server.js"]',
            {"command": "PASS", "user": "PASS", "volume tools": "PASS"},
        ),
        # No USER is root; an ENTRYPOINT in shell form is run by a shell too.
        (
            'FROM alpine:3.20\nENTRYPOINT /app/start\nCMD ["serve"]',
            {"command": "FAIL", "user": "FAIL", "volume tools": "PASS"},
        ),
    ],
)
def test_the_dockerfile_points_read_the_final_stage(dockerfile: str, verdicts: dict[str, str], tmp_path: Path) -> None:
    """The points read from the Dockerfile alone, for a service that runs as the node images' user."""
    service = replace(
        first_or_skip((s for s in SPEC.services if s.writable_paths), "service with writable paths"), run_as=NODE_USER
    )
    (tmp_path / "Dockerfile").write_text(dockerfile.format(uid_gid=service.run_as.ecs_user) + "\n")
    read = read_dockerfile(tmp_path)
    results = [command_point(read), user_point(read, service), volume_tools_point(read, service)]
    assert {r.point: "PASS" if r.passed else "FAIL" for r in results} == verdicts, [r.line for r in results]
