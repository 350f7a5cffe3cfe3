"""How soon a new task is first scraped, measured in the discovery run's namespace (run_in_namespace.py)
against the spec's worst case (``PrometheusSpec.first_scrape_worst_case_seconds``).

A second Prometheus runs with the spec's own intervals (the run's main one has the suite's short ones),
scraping only (no rules, no alerts), and asks its DNS of a resolver that caches as the VPC's does: an
answer is kept for the records' TTL (``CLOUD_MAP_TTL_SECONDS``; Cloud Map's TTL is "the amount of time,
in seconds, that you want DNS resolvers to cache the settings for this record",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-servicediscovery-service-dnsrecord.html).

Once it scrapes the service's tasks, a new task (the same reference service on an address of its own,
already answering) is registered at the least favourable moment for the DNS part: the resolver's cache
of the service's SRV answer has just been filled (as a busy VPC's resolver's is, by any caller), so the
answer without the task is kept for a whole TTL; and Prometheus's next question comes just before that
TTL ends, so it learns of the task one refresh later. What follows, Prometheus's own throttles and the
new target's offset within its scrape interval, is whatever it happens to be; the measurement is the
time from the registration to the end of the task's first successful scrape, by Prometheus's own clock
(its ``lastScrape``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from dnslib import QTYPE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

MARGIN = 0.5
"""Seconds between Prometheus's question and the cached answer's end: our clock and its ticker are
the same machine's, but a busy one schedules threads late by a few milliseconds."""
STEADY_SECONDS = 90
"""At most, for the second Prometheus to scrape the service's existing tasks: an interval, its throttles."""
_NEVER = "0001-01-01T00:00:00Z"


class Registry(Protocol):
    """The namespace's records (run_in_namespace.CloudMapResolver), which a registration changes."""

    def resolve(self, request: Any, handler: Any) -> Any: ...
    def register(self, dns_name: str, port: int, instance: dict[str, str]) -> None: ...


class CachingResolver(BaseResolver):  # type: ignore[misc]
    """A resolver in front of the namespace's records that keeps each answer for ``ttl`` seconds, and
    remembers every question: when, what, and which SRV targets the answer named."""

    def __init__(self, upstream: Registry, ttl: float) -> None:
        self.upstream = upstream
        self.ttl = ttl
        self.lock = threading.Lock()
        self.cache: dict[tuple[str, str], tuple[float, int, list[Any]]] = {}
        self.questions: list[dict[str, Any]] = []

    def _fill(self, request: Any, key: tuple[str, str]) -> tuple[float, int, list[Any]]:
        answer = self.upstream.resolve(request, None)
        entry = (time.time() + self.ttl, answer.header.rcode, list(answer.rr))
        self.cache[key] = entry
        return entry

    def resolve(self, request: Any, handler: Any) -> Any:
        key = (str(request.q.qname).rstrip(".").lower(), QTYPE[request.q.qtype])
        with self.lock:
            entry = self.cache.get(key)
            if entry is None or entry[0] <= time.time():
                entry = self._fill(request, key)
            targets = [str(rr.rdata.target).rstrip(".") for rr in entry[2] if rr.rtype == QTYPE.SRV]
            self.questions.append({"at": time.time(), "name": key[0], "kind": key[1], "targets": targets})
        reply = request.reply()
        reply.header.rcode = entry[1]
        for rr in entry[2]:
            reply.add_answer(RR(rr.rname, rr.rtype, ttl=max(int(entry[0] - time.time()), 0), rdata=rr.rdata))
        return reply

    def refill(self, name: str) -> None:
        """Fill the cache of ``name``'s SRV answer now, as another caller's question would."""
        with self.lock:
            self._fill(DNSRecord.question(name, "SRV"), (name, "SRV"))

    def asked(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [q for q in self.questions if q["name"] == name and q["kind"] == "SRV"]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (proc(5): utime and stime, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timestamp(value: str) -> float:
    """Prometheus's RFC 3339 time (nanoseconds, 'Z'), as seconds since the epoch."""
    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()


class FirstScrape:
    """The second Prometheus, its caching resolver and the new task: started with the run, measured once
    the run's own checks are done (``measure``)."""

    def __init__(self, plan: dict[str, Any], service: dict[str, Any], registry: Registry) -> None:
        self.plan = plan
        self.service = service
        self.registry = registry
        self.resolver = CachingResolver(registry, plan["ttl"])
        self.processes: list[tuple[subprocess.Popen[bytes], Any]] = []
        self.dns = DNSServer(self.resolver, address=plan["address"], port=53, logger=DNSLogger(logf=lambda _line: None))

    def __enter__(self) -> FirstScrape:
        self.dns.start_thread()
        instance = self.plan["instance"]
        log = Path(self.plan["log"]).with_name("new-task.log").open("w")
        environment = {**self.service["environment"], "HOST": instance["address"]}
        self.processes.append(
            (subprocess.Popen(self.service["command"], cwd=self.service["directory"], env=environment,
                              stdout=log, stderr=log), log)
        )  # fmt: skip
        # Its own mount namespace, so its resolv.conf names the caching resolver; the run's stays.
        command = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.plan["resolv"],
            self.plan["prometheus"], f"--config.file={self.plan['config']}",
            f"--storage.tsdb.path={self.plan['data']}",
            f"--web.listen-address={self.plan['address']}:{self.plan['port']}",
        ]  # fmt: skip
        log = Path(self.plan["log"]).open("w")
        self.processes.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log), log))
        return self

    def __exit__(self, *_: object) -> None:
        for process, log in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        self.dns.stop()

    def _targets(self) -> list[dict[str, Any]]:
        url = f"http://{self.plan['address']}:{self.plan['port']}/api/v1/targets?state=active"
        try:
            found: list[dict[str, Any]] = _get_json(url)["data"]["activeTargets"]
        except OSError:
            return []
        return found

    @staticmethod
    def _appended(base: str) -> float:
        with urllib.request.urlopen(f"{base}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("prometheus_tsdb_head_samples_appended_total"):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    def _wait(self, what: str, ready: Any, seconds: float) -> Any:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if value := ready():
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{what}: not within {seconds} s")

    def measure(self) -> dict[str, Any]:
        try:
            return self._measure()
        except TimeoutError as error:
            return {"seconds": None, "failed": str(error)}

    def _measure(self) -> dict[str, Any]:
        plan, service = self.plan, self.service
        name, job = service["dns_name"], service["dns_name"].split(".")[0]
        existing = {f"{i['id']}.{name}:{service['port']}" for i in service["instances"]}

        def steady() -> bool:
            up = {t["labels"]["instance"] for t in self._targets() if t["labels"]["job"] == job and t["health"] == "up"}
            return existing <= up

        self._wait("the second Prometheus scraping the existing tasks", steady, STEADY_SECONDS)
        # Its cost while it scrapes at the spec's interval: CPU, and samples appended (its own counter).
        prometheus = self.processes[-1][0].pid  # unshare and sh exec it: the same process
        base = f"http://{plan['address']}:{plan['port']}"
        since = (time.time(), _cpu_seconds(prometheus), self._appended(base))
        instance = plan["instance"]
        address = f"http://{instance['address']}:{service['port']}{service['metrics_path']}"
        self._wait("the new task answering", lambda: _answers(address), 30)
        # The least favourable moment: a TTL and a margin before one of Prometheus's questions (they come
        # every refresh after the last one seen). That question still gets the answer cached then, without
        # the new task; the next, a refresh later, is the first that can name it.
        last = self.resolver.asked(name)[-1]["at"]
        refresh, ttl = plan["refresh"], plan["ttl"]
        question = last + refresh
        while question - ttl + MARGIN < time.time() + 0.1:
            question += refresh
        time.sleep(max(question - ttl + MARGIN - time.time(), 0))
        self.resolver.refill(name)
        self.registry.register(name, service["port"], instance)
        registered = time.time()

        target = f"{instance['id']}.{name}"

        def scraped() -> dict[str, Any] | None:
            for found in self._targets():
                if found["labels"]["instance"] == f"{target}:{service['port']}" and found["lastScrape"] != _NEVER:
                    return found
            return None

        first = self._wait("the new task's first scrape", scraped, 2 * plan["worst_case"] + 10)
        answered = [q["at"] for q in self.resolver.asked(name) if target in q["targets"]]
        samples = _get_json(f"{base}/api/v1/query?query=scrape_samples_scraped")["data"]["result"]
        wall = time.time() - since[0]
        return {
            "samples_per_second": round((self._appended(base) - since[2]) / wall, 1),
            "cpu_share": round((_cpu_seconds(prometheus) - since[1]) / wall, 4),
            "seconds": round(_timestamp(first["lastScrape"]) + first["lastScrapeDuration"] - registered, 2),
            "dns_seconds": round(answered[0] - registered, 2) if answered else None,
            "health": first["health"],
            "error": first.get("lastError", ""),
            "samples_per_scrape": {
                r["metric"]["job"]: max(
                    int(float(s["value"][1])) for s in samples if s["metric"]["job"] == r["metric"]["job"]
                )
                for r in samples
            },
        }
