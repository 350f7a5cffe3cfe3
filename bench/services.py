"""``make bench-services``: the reference services' throughput and latency under a fixed load,
beside a bare Node http server answering the same body, and with their instrumentation switched
off (``METRICS_INSTRUMENTATION=off``); and from that, a suggested ``scale_at_requests_per_task``.

Each service runs as its task would (``tools/local_tasks.py``: the image's command and ``ENV``,
the task's environment): the backend against a local PostgreSQL, bootstrapped and migrated as a
release does it, over TLS as its own user. The frontend's backend is a bare server answering the
real backend's body, so the frontend's figures are its own. autocannon (pinned in package.json)
drives one target at a time with a fixed number of connections for a fixed time
(``bench/load.js``). Each round measures every target once; each row is the target's fastest
round, with its best requests per CPU-second. The server's own CPU time is read from ``/proc``
around each run: requests per CPU-second is what one fully busy core of this machine serves.
``bench/metrics_cost.js`` then times the metrics' own calls per request, away from the network:
under load, the difference the switch makes is within this machine's noise.

    python -m bench.services [--duration 3] [--connections 10] [--warmup 2] [--rounds 5] [--json PATH|-]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import product
from pathlib import Path
from typing import Any, NoReturn

from platform_spec import PlatformSpec, ServiceSpec, SpecError, spec_from_context
from platform_spec.profiles import DEFAULT_PROFILE
from tools.cli import fail
from tools.local_dockerfile import DockerfileError, read_dockerfile
from tools.local_postgres import Postgres, running_postgres
from tools.local_services import (
    NODE_BIN,
    WEB_REFERENCE_CALLEE_VARIABLE,
    WORK_PATHS,
    Processes,
    ServiceError,
    free_port,
    image_directory,
    last_line,
)
from tools.local_tasks import LocalTasks, bootstrapped_database
from tools.postgres_binaries import PostgresError

BENCH = Path(__file__).resolve().parent
VARIANTS = ("bare", "instrumented", "instrumentation_off")
VARIANT_LABELS = {
    "bare": "bare node http, same body",
    "instrumented": "service",
    "instrumentation_off": "service, METRICS_INSTRUMENTATION=off",
}
INSTRUMENTATION = "METRICS_INSTRUMENTATION"
"""The services' switch for their request, query and client metrics: on (default) or off."""
HEADROOM = 0.5
"""The share of a task's measured capacity autoscaling should hold it at: under the 60 % CPU the
spec's scale_at_cpu_percent holds, with room for the minutes a scale-out takes and for a Fargate
vCPU being slower than a core of the machine measured."""
METRICS_COST_REQUESTS = 100_000
"""Requests ``bench/metrics_cost.js`` times the metrics over, on and off: about a second."""
VCPU_UNITS = 1024
"""Fargate's cpu units per vCPU: a task of cpu 256 has a quarter of one."""


class BenchError(Exception):
    """A run could not be measured; the message is one line."""


@dataclass(frozen=True, kw_only=True)
class Load:
    """How each target is driven."""

    connections: int
    seconds: int
    warmup: int
    """Seconds of the same load before a target's first round, which are not measured."""
    rounds: int


@dataclass(frozen=True, kw_only=True)
class Row:
    """One target under load: who served, what, how fast, and the CPU it took."""

    service: str
    variant: str
    requests: int
    seconds: float
    latency_ms: Mapping[str, float]
    cpu_seconds: float
    requests_per_cpu_second: float
    """Requests per second of the server's own CPU time: what one fully busy core serves."""
    rounds: tuple[Row, ...] = ()
    """Every round this row was chosen from."""

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def as_json(self, bare: Row) -> dict[str, Any]:
        return {
            "service": self.service,
            "variant": self.variant,
            "path": WORK_PATHS[self.service],
            "requests": self.requests,
            "seconds": self.seconds,
            "requests_per_second": round(self.requests_per_second, 1),
            "requests_per_second_each_round": [round(row.requests_per_second, 1) for row in self.rounds],
            "latency_ms": dict(self.latency_ms),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_percent": round(100 * self.cpu_seconds / self.seconds, 1),
            "requests_per_cpu_second": round(self.requests_per_cpu_second, 1),
            "requests_per_cpu_second_each_round": [round(row.requests_per_cpu_second, 1) for row in self.rounds],
            "throughput_vs_bare": round(self.requests_per_second / bare.requests_per_second, 3),
        }


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (``/proc/<pid>/stat``, fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError as error:
        raise BenchError(f"cannot read the CPU time of process {pid}: {error.strerror}") from None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command may hold spaces; field 3 follows it
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, *, connections: int, seconds: int) -> dict[str, Any]:
    """One run of ``bench/load.js``; ``BenchError`` if it fails or any request does."""
    command = [str(NODE_BIN / "node"), str(BENCH / "load.js"), url, str(connections), str(seconds)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the load on {url} did not end within {seconds + 60} s") from None
    if done.returncode != 0:
        raise BenchError(f"the load on {url} failed: {last_line(done.stderr + done.stdout)}")
    result: dict[str, Any] = json.loads(done.stdout)
    failures = {key: result[key] for key in ("errors", "timeouts", "non_2xx") if result[key]}
    if failures or result["requests"] == 0:
        said = ", ".join(f"{count} {kind}" for kind, count in failures.items()) or "no answer"
        raise BenchError(f"{url} did not answer every request with 2xx under load: {said}")
    return result


def measure(service: str, variant: str, url: str, pid: int, *, connections: int, seconds: int) -> Row:
    """``url`` under load, with the CPU time process ``pid`` spent meanwhile."""
    before = cpu_seconds(pid)
    result = drive(url, connections=connections, seconds=seconds)
    used = cpu_seconds(pid) - before
    if used <= 0:
        raise BenchError(f"{url}: its server used no CPU time under load, so /proc/{pid} is not the server")
    return Row(
        service=service,
        variant=variant,
        requests=result["requests"],
        seconds=result["seconds"],
        latency_ms=result["latency_ms"],
        cpu_seconds=used,
        requests_per_cpu_second=result["requests"] / used,
    )


def best(rounds: Sequence[Row]) -> Row:
    """The fastest round, with the most requests per CPU-second of any round: other work on the
    machine only ever slows a round down and makes each request dearer (caches, shared cores),
    so each best figure is the closest to what the machine itself does."""
    fastest = max(rounds, key=lambda row: row.requests_per_second)
    efficient = max(row.requests_per_cpu_second for row in rounds)
    return replace(fastest, requests_per_cpu_second=efficient, rounds=tuple(rounds))


def reference_service(spec: PlatformSpec, code: str) -> ServiceSpec:
    """The first service of the spec that runs ``services/<code>``."""
    for service in spec.services:
        if image_directory(service).name == code:
            return service
    raise BenchError(f"no service of the {spec.environment} profile runs services/{code}")


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
            return body
    except OSError as error:
        raise BenchError(f"{url} did not answer: {error}") from None


@dataclass
class _Servers:
    """The servers of one bench, each a process of ``processes`` known by (service, variant)."""

    tasks: LocalTasks
    processes: Processes
    work: Path
    urls: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """(service, variant) -> (process name, the URL driven)"""

    def start(self, service: ServiceSpec, code: str, variant: str, extra: Mapping[str, str]) -> str:
        """The reference service ``code`` as ``service``'s task runs it; the URL to drive."""
        dockerfile = read_dockerfile(image_directory(service))
        port, process = free_port(), f"{code}-{variant}"
        environment = self.tasks.service_environment(service, dockerfile, port=port, extra=extra)
        command, directory = dockerfile.command(), dockerfile.path.parent
        self.processes.start(process, command, cwd=directory, environment=environment, port=port)
        self.urls[code, variant] = (process, f"http://127.0.0.1:{port}{WORK_PATHS[code]}")
        return self.urls[code, variant][1]

    def start_bare(self, code: str, content_type: str, body: bytes) -> str:
        """A bare server answering ``body`` in place of ``code``; its origin (any path answers)."""
        port, process = free_port(), f"{code}-bare"
        body_file = self.work / f"{process}.body"
        body_file.write_bytes(body)
        command = [str(NODE_BIN / "node"), "bare_server.js", str(port), content_type, str(body_file)]
        self.processes.start(process, command, cwd=BENCH, environment={}, port=port)
        self.urls[code, "bare"] = (process, f"http://127.0.0.1:{port}{WORK_PATHS[code]}")
        return f"http://127.0.0.1:{port}"

    def pid(self, code: str, variant: str) -> int:
        return self.processes.running[self.urls[code, variant][0]][0].pid


def baseline(postgres: Postgres, *, work: Path, load: Load) -> dict[str, Any]:
    """Every row, measured one after another on this machine, and what follows from them."""
    # Other work on the machine in the minute before: the figures are only as quiet as it was.
    load_average = os.getloadavg()[0]
    spec = spec_from_context({"env": DEFAULT_PROFILE})
    backend, frontend = reference_service(spec, "backend"), reference_service(spec, "frontend")
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    tasks = LocalTasks(spec=spec, home=home, postgres=postgres, origins={})
    servers = _Servers(tasks, Processes(work), work)
    with ExitStack() as stack:
        stack.enter_context(bootstrapped_database(postgres, spec))
        stack.callback(servers.processes.stop_all)
        migrated = tasks.migrate(read_dockerfile(image_directory(spec.service(spec.delivery.migrations_service))))
        if migrated.returncode != 0:
            raise BenchError(f"the migrations exited {migrated.returncode}: {last_line(migrated.stderr)}")
        items = fetch(servers.start(backend, "backend", "instrumented", {INSTRUMENTATION: "on"}))
        servers.start(backend, "backend", "instrumentation_off", {INSTRUMENTATION: "off"})
        stand_in = servers.start_bare("backend", "application/json; charset=utf-8", items)
        callee = {WEB_REFERENCE_CALLEE_VARIABLE: stand_in}
        page = fetch(servers.start(frontend, "frontend", "instrumented", {**callee, INSTRUMENTATION: "on"}))
        servers.start(frontend, "frontend", "instrumentation_off", {**callee, INSTRUMENTATION: "off"})
        servers.start_bare("frontend", "text/html; charset=utf-8", page)
        targets = list(product(WORK_PATHS, VARIANTS))
        if load.warmup:
            for target in targets:
                drive(servers.urls[target][1], connections=load.connections, seconds=load.warmup)
        rounds: dict[tuple[str, str], list[Row]] = {target: [] for target in targets}
        # Round by round: a burst of other work on the machine slows a round of each target, not
        # every round of one of them, and best() keeps the fastest. Each round starts one variant
        # later: in a fixed order, the variant that followed the bare server measured up to a
        # fifth slower here, so every variant takes every place.
        for number, code in product(range(load.rounds), WORK_PATHS):
            shift = number % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                url, pid = servers.urls[code, variant][1], servers.pid(code, variant)
                rounds[code, variant].append(
                    measure(code, variant, url, pid, connections=load.connections, seconds=load.seconds)
                )
    rows = [best(rounds[target]) for target in targets]
    return summary(spec, rows, load, load_average=load_average, metrics_cost=metrics_cost())


def metrics_cost() -> dict[str, Any]:
    """``bench/metrics_cost.js``: the metrics' own microseconds per request of each service."""
    command = [str(NODE_BIN / "node"), str(BENCH / "metrics_cost.js"), str(METRICS_COST_REQUESTS)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise BenchError(f"bench/metrics_cost.js failed: {last_line(done.stderr + done.stdout)}")
    cost: dict[str, Any] = json.loads(done.stdout)
    return cost


def summary(
    spec: PlatformSpec, rows: Sequence[Row], load: Load, *, load_average: float, metrics_cost: Mapping[str, Any]
) -> dict[str, Any]:
    """The figures as JSON: the rows, each against its bare server, what the instrumentation
    costs, and the suggested ``scale_at_requests_per_task``."""
    by = {(row.service, row.variant): row for row in rows}
    cost = {}
    for code in WORK_PATHS:
        on, off = by[code, "instrumented"], by[code, "instrumentation_off"]
        microseconds = metrics_cost[code]["metrics"]
        cost[code] = {
            "throughput_change": round(on.requests_per_second / off.requests_per_second - 1, 3),
            "cpu_per_request_change": round(off.requests_per_cpu_second / on.requests_per_cpu_second - 1, 3),
            "metrics_microseconds_per_request": round(microseconds, 2),
            "metrics_share_of_request_cpu": round(microseconds * off.requests_per_cpu_second / 1e6, 4),
        }
    return {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Node {node_version()}",
        "load_average_before": round(load_average, 2),
        "connections": load.connections,
        "seconds": load.seconds,
        "warmup_seconds": load.warmup,
        "rounds": load.rounds,
        "rows": [row.as_json(by[row.service, "bare"]) for row in rows],
        "instrumentation_cost": cost,
        "scale_at_requests_per_task": suggestion(spec, rows),
    }


def round_down(value: float) -> int:
    """To two significant figures, down: a target that claims no more than was measured."""
    if value < 10:
        return max(1, math.floor(value))
    step = int(10 ** (len(str(math.floor(value))) - 2))
    return math.floor(value / step) * step


def suggestion(spec: PlatformSpec, rows: Sequence[Row]) -> dict[str, Any]:
    """``scale_at_requests_per_task`` per service, from its instrumented row: requests per
    CPU-second x the task's share of a vCPU x 60 s x ``HEADROOM``; the smallest is the suggestion."""
    per_service: dict[str, Any] = {}
    for row in rows:
        if row.variant != "instrumented":
            continue
        service = reference_service(spec, row.service)
        share = service.cpu / VCPU_UNITS
        per_minute = row.requests_per_cpu_second * share * 60 * HEADROOM
        per_service[row.service] = {
            "requests_per_cpu_second": round(row.requests_per_cpu_second, 1),
            "cpu": service.cpu,
            "vcpu_share": share,
            "headroom": HEADROOM,
            "requests_per_task_per_minute": round(per_minute, 1),
            "rounded": round_down(per_minute),
        }
    return {
        "profile": spec.environment,
        "derivation": "requests per CPU-second x (task cpu / 1024) x 60 s x headroom, rounded down to 2 figures",
        "per_service": per_service,
        "suggested": min(int(entry["rounded"]) for entry in per_service.values()),
    }


def node_version() -> str:
    done = subprocess.run([str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "(unknown)"


def table(result: Mapping[str, Any]) -> str:
    """The figures as a reader wants them: one block per service, then the cost and the suggestion."""
    lines = [
        f"Services baseline: {result['connections']} connections, {result['rounds']} rounds of {result['seconds']} s "
        f"per target after {result['warmup_seconds']} s of warm-up; {result['machine']}; load average "
        f"{result['load_average_before']} before",
        f"{'':<40}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'CPU %':>7}{'req/CPU-s':>11}{'vs bare':>9}",
    ]
    for code, path in WORK_PATHS.items():
        lines.append(f"{code} GET {path}")
        for row in (row for row in result["rows"] if row["service"] == code):
            latency = row["latency_ms"]
            lines.append(
                f"  {VARIANT_LABELS[row['variant']]:<38}{row['requests_per_second']:>9.0f}{latency['p50']:>9.2f}"
                f"{latency['p95']:>9.2f}{latency['p99']:>9.2f}{row['cpu_percent']:>7.0f}"
                f"{row['requests_per_cpu_second']:>11.0f}{row['throughput_vs_bare']:>9.2f}"
            )
    lines.append("What the instrumentation costs: under load, on against off; alone, the metrics' calls per request")
    for code, cost in result["instrumentation_cost"].items():
        lines.append(
            f"  {code}: throughput {100 * cost['throughput_change']:+.1f} %, "
            f"CPU per request {100 * cost['cpu_per_request_change']:+.1f} %; alone "
            f"{cost['metrics_microseconds_per_request']:.2f} us, "
            f"{100 * cost['metrics_share_of_request_cpu']:.1f} % of a request's CPU"
        )
    scale = result["scale_at_requests_per_task"]
    lines.append(f"Suggested scale_at_requests_per_task ({scale['profile']}: {scale['derivation']}):")
    for code, entry in scale["per_service"].items():
        lines.append(
            f"  {code}: {entry['requests_per_cpu_second']:.0f} req/CPU-s x {entry['vcpu_share']:g} vCPU (cpu "
            f"{entry['cpu']}) x 60 s x {entry['headroom']:g} = {entry['requests_per_task_per_minute']:.0f} "
            f"-> {entry['rounded']}"
        )
    lines.append(f"  suggested, the smaller: {scale['suggested']} requests per task per minute")
    return "\n".join(lines)


def report(result: Mapping[str, Any], json_path: str | None) -> None:
    """The table on stdout, and the JSON in ``json_path``; with ``-``, the JSON on stdout instead."""
    text = json.dumps(result, indent=2) + "\n"
    if json_path == "-":
        sys.stdout.write(text)
        return
    print(table(result))
    if json_path:
        Path(json_path).write_text(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SystemExit(fail(message))


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high} (got {text!r})")
        return int(text)

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m bench.services", description="The reference services under a fixed load.")
    parser.add_argument("--duration", type=_bounded(1, 300), default=3, help="seconds of each measured run (3)")
    parser.add_argument("--connections", type=_bounded(1, 256), default=10, help="concurrent connections (10)")
    parser.add_argument("--warmup", type=_bounded(0, 60), default=2, help="seconds of load on each target first (2)")
    parser.add_argument("--rounds", type=_bounded(1, 9), default=5, help="measured runs of each target (5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH; - for stdout only")
    args = parser.parse_args(argv)
    load = Load(connections=args.connections, seconds=args.duration, warmup=args.warmup, rounds=args.rounds)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-services-") as work, running_postgres() as postgres:
            result = baseline(postgres, work=Path(work), load=load)
    except (BenchError, PostgresError, ServiceError, DockerfileError, SpecError) as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted", code=130)
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
