"""A stand-in for the public URL (CloudFront and the load balancer) in front of locally running
services, for the smoke tests' WEB_URL: it answers 404 to the spec's internal paths, compared
as the edge function compares them (``layers.edge.edge_function.normalised_path``), and
forwards everything else to the service whose route matches, else to the default route's.

The synthesized function itself runs against the reference services in
tests/integration/test_reference_services.py; this one needs no synth."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from layers.edge.edge_function import normalised_path
from platform_spec import PlatformSpec

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def _route_pattern(route: str) -> re.Pattern[str]:
    """A load balancer's path pattern: '*' matches any characters, case-sensitively."""
    return re.compile("^" + ".*".join(re.escape(part) for part in route.split("*")) + "$")


def _hidden(path: str, internal: tuple[str, ...]) -> bool:
    try:
        normalised = normalised_path(path)
    except UnicodeDecodeError:
        return True  # the function answers 400 to what it cannot decode: it never reaches a service
    for entry in internal:
        prefix = entry.removesuffix("/*")
        if normalised == normalised_path(entry) or (entry.endswith("/*") and normalised.startswith(f"{prefix}/")):
            return True
    return False


@contextmanager
def local_edge(spec: PlatformSpec, *, origins: Mapping[str, str], port: int) -> Iterator[str]:
    """The edge on 127.0.0.1:``port`` for the duration; yields its URL. ``origins``: the local
    base URL of each running service, by name (a route to a service not running answers 502)."""
    internal = spec.edge_internal_paths()
    routes = [(_route_pattern(s.route), s.name) for s in spec.public_services if s.route is not None]
    default = next((s.name for s in spec.public_services if s.route is None), None)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def log_message(self, format: str, *args: object) -> None:
            return

        def _forward(self) -> None:
            path = urlsplit(self.path).path
            if _hidden(path, internal):
                self._answer(404, b"")
                return
            name = next((service for pattern, service in routes if pattern.match(path)), default)
            origin = origins.get(name or "")
            if origin is None:
                self._answer(502, f"no origin for {path}: {name} is not running here".encode())
                return
            target = urlsplit(origin)
            connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=15)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                headers = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}
                self._answer(answer.status, body, headers)
            except OSError as error:
                self._answer(502, f"origin unreachable: {error}".encode())
            finally:
                connection.close()

        def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
