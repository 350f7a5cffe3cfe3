"""Runs inside a fresh network namespace (see runs.py, and tests/integration/test_prometheus_discovery.py).

Serves the DNS that Cloud Map would (SRV and A records for every service of the
plan and Alertmanager), runs the reference service of each task (its image's command with
the pinned Node, listening on the task's address), the real Alertmanager publishing to the
SNS stand-in, and the real Prometheus with the rendered configuration and rules; then polls
Prometheus until every target is up or the time runs out. A plan with ``alerting`` also has a
PostgreSQL the platform's bootstrap and migrations made, and runs the alert path end to end
(tests/discovery/alerting.py). Prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE, RR, SRV, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from platform_spec import CLOUD_MAP_TTL_SECONDS
from tests.discovery.alerting import outage_and_recovery, query
from tests.discovery.first_scrape import FirstScrape
from tests.discovery.local_database import local_database
from tests.discovery.sns_standin import SIGNING_ENVIRONMENT, SnsStandIn, alertmanager_command

TTL = CLOUD_MAP_TTL_SECONDS


class CloudMapResolver(BaseResolver):  # type: ignore[misc]
    """Answers like a Cloud Map private namespace with A and SRV records, as Route 53 does: at once,
    whatever the TTL (it is a resolver that caches: first_scrape.CachingResolver)."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.srv: dict[str, list[tuple[str, int]]] = {}
        self.a: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        for service in services:
            for instance in service["instances"]:
                self.register(service["dns_name"], service["port"], instance)

    def register(self, dns_name: str, port: int, instance: dict[str, str]) -> None:
        """Add a task's records, as Cloud Map does when ECS registers it."""
        target = f"{instance['id']}.{dns_name}"
        with self.lock:
            self.srv.setdefault(dns_name, []).append((target, port))
            self.a.setdefault(dns_name, []).append(instance["address"])
            self.a[target] = [instance["address"]]

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        with self.lock:
            srv, a = list(self.srv.get(name, [])), list(self.a.get(name, []))
            known = name in self.srv or name in self.a
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        elif kind == "SRV":
            for target, port in srv:
                reply.add_answer(
                    RR(name, QTYPE.SRV, ttl=TTL, rdata=SRV(priority=1, weight=1, port=port, target=target))
                )
        elif kind == "A":
            for address in a:
                reply.add_answer(RR(name, QTYPE.A, ttl=TTL, rdata=A(address)))
        return reply


def targets(port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=2) as response:
        found: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
        return found


def scraped_jobs(port: int, metric: str) -> list[str]:
    """The jobs whose targets exposed ``metric`` (the reference services, on Node, do; Prometheus does not)."""
    return sorted(r["metric"]["job"] for r in query(port, f"count by (job) ({metric})"))


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _start_tasks(plan: dict[str, Any], database: dict[str, str]) -> list[tuple[subprocess.Popen[bytes], Any]]:
    """Each instance of each service, on its address; a service that uses the database gets ``database``."""
    tasks = []
    for service in plan["services"]:
        for instance in service["instances"]:
            environment = {**service["environment"], "HOST": instance["address"]}
            if service.get("database_user") and database:
                environment.update({**database, "DB_USER": service["database_user"]})
            log = Path(plan["log"]).with_name(f"{instance['id'][:4]}-{instance['address']}.log").open("w")
            task = subprocess.Popen(
                service["command"], cwd=service["directory"], env=environment, stdout=log, stderr=log
            )
            tasks.append((task, log))
    return tasks


def _start_alertmanager(plan: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Any]:
    alertmanager = plan["alertmanager"]
    (instance,) = alertmanager["service"]["instances"]
    log = Path(alertmanager["log"]).open("w")  # noqa: SIM115 (kept open for its lifetime, closed by the caller)
    command = alertmanager_command(
        alertmanager["binary"],
        config=alertmanager["config"],
        data=alertmanager["data"],
        listen=f"{instance['address']}:{alertmanager['service']['port']}",
    )
    process = subprocess.Popen(command, stdout=log, stderr=log, env=SIGNING_ENVIRONMENT)
    return process, log


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    # stdout carries only the result line; the DNS server's log of each query (which Prometheus
    # may still make while it stops, after that line) goes to stderr.
    registry = CloudMapResolver([*plan["services"], plan["alertmanager"]["service"]])
    dns = DNSServer(
        registry,
        address="127.0.0.1",
        port=53,
        logger=DNSLogger(logf=lambda line: print(line, file=sys.stderr, flush=True)),
    )
    dns.start_thread()
    stand_in = SnsStandIn(host="127.0.0.1", region=plan["sns"]["region"], port=plan["sns"]["port"])
    stand_in.start()
    with ExitStack() as stack:
        database: Any = None
        settings: dict[str, str] = {}
        if "alerting" in plan:
            database, settings = stack.enter_context(local_database(plan["alerting"]))
        tasks = _start_tasks(plan, settings)
        first_scrape = None
        if "first_scrape" in plan:
            part = plan["first_scrape"]
            first_scrape = stack.enter_context(FirstScrape(part, plan["services"][part["service"]], registry))
        alertmanager, alertmanager_log = _start_alertmanager(plan)
        log = Path(plan["log"]).open("w")  # noqa: SIM115 (kept open for Prometheus's lifetime, closed below)
        prometheus = subprocess.Popen(
            [
                plan["prometheus"],
                f"--config.file={plan['config']}",
                f"--storage.tsdb.path={plan['data']}",
                f"--web.listen-address=127.0.0.1:{plan['port']}",
                # Alerts that fired before Alertmanager was discovered go again within a second,
                # not after the default minute: the suite's speed, as its intervals.
                "--rules.alert.resend-delay=1s",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        started = time.monotonic()
        seen: list[dict[str, Any]] = []
        try:
            while time.monotonic() - started < plan["timeout"]:
                try:
                    seen = targets(plan["port"])
                except OSError:
                    seen = []
                if len(seen) == plan["expected_targets"] and all(t["health"] == "up" for t in seen):
                    break
                time.sleep(0.25)
            result: dict[str, Any] = {
                "seconds": round(time.monotonic() - started, 1),
                "jobs_with_node_metrics": scraped_jobs(plan["port"], "nodejs_version_info"),
                "targets": [
                    {
                        "job": t["labels"]["job"],
                        "instance": t["labels"]["instance"],
                        "health": t["health"],
                        "url": t["scrapeUrl"],
                        "error": t.get("lastError", ""),
                    }
                    for t in seen
                ],
            }
            if first_scrape is not None:
                result["first_scrape"] = first_scrape.measure()
            if "alerting" in plan:
                result["alerting"] = outage_and_recovery(
                    plan["alerting"], database=database, stand_in=stand_in, prometheus_port=plan["port"]
                )
            result["sns_calls"] = [
                {"topic": c.topic_arn, "signed": c.signed, "reason": c.reason, "message": c.message}
                for c in stand_in.calls
            ]
            print(json.dumps(result), flush=True)
        finally:
            _stop(prometheus)
            log.close()
            _stop(alertmanager)
            alertmanager_log.close()
            for task, task_log in tasks:
                _stop(task)
                task_log.close()
            stand_in.stop()
            dns.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
