"""Runs inside a fresh network namespace (see test_prometheus_discovery.py).

Serves the DNS that Cloud Map would (SRV and A records for every service of the
plan), one HTTP server per task answering the service's metrics path, and the
real Prometheus with the rendered configuration; then polls Prometheus until
every target is up or the time runs out, and prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE, RR, SRV, A
from dnslib.server import BaseResolver, DNSServer

TTL = 10


class CloudMapResolver(BaseResolver):  # type: ignore[misc]
    """Answers like a Cloud Map private namespace with A and SRV records."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.srv: dict[str, list[tuple[str, int]]] = {}
        self.a: dict[str, list[str]] = {}
        for service in services:
            for instance in service["instances"]:
                target = f"{instance['id']}.{service['dns_name']}"
                self.srv.setdefault(service["dns_name"], []).append((target, service["port"]))
                self.a.setdefault(service["dns_name"], []).append(instance["address"])
                self.a[target] = [instance["address"]]

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        if name not in self.srv and name not in self.a:
            reply.header.rcode = RCODE.NXDOMAIN
        elif kind == "SRV":
            for target, port in self.srv.get(name, []):
                reply.add_answer(
                    RR(name, QTYPE.SRV, ttl=TTL, rdata=SRV(priority=1, weight=1, port=port, target=target))
                )
        elif kind == "A":
            for address in self.a.get(name, []):
                reply.add_answer(RR(name, QTYPE.A, ttl=TTL, rdata=A(address)))
        return reply


class QuietServer(HTTPServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse lookup of the address; skip it.
        self.socket.bind(self.server_address)
        host, port = self.server_address[0], self.server_address[1]
        self.server_name, self.server_port = str(host), int(port)


def metrics_handler(path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != path:
                self.send_error(404)
                return
            body = b"# TYPE fake_service_up gauge\nfake_service_up 1\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    return Handler


def targets(port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=2) as response:
        found: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
        return found


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    dns = DNSServer(CloudMapResolver(plan["services"]), address="127.0.0.1", port=53)
    dns.start_thread()
    servers = []
    for service in plan["services"]:
        for instance in service["instances"]:
            server = QuietServer((instance["address"], service["port"]), metrics_handler(service["metrics_path"]))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
    log = Path(plan["log"]).open("w")  # noqa: SIM115 (kept open for Prometheus's lifetime, closed below)
    prometheus = subprocess.Popen(
        [
            plan["prometheus"],
            f"--config.file={plan['config']}",
            f"--storage.tsdb.path={plan['data']}",
            f"--web.listen-address=127.0.0.1:{plan['port']}",
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
        result = {
            "seconds": round(time.monotonic() - started, 1),
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
        print(json.dumps(result), flush=True)
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prometheus.kill()
        log.close()
        for server in servers:
            server.shutdown()
        dns.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
