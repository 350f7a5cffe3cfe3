"""The cache warmer's handler against a registry served on loopback and moto's ECR (for the token):
it fetches each manifest by tag, as a pull that imports it through the cache does, and compares
the tag's digest with the pin.

The registry API is authenticated with ``Authorization: Basic`` and the token
``ecr:GetAuthorizationToken`` returns (Amazon ECR user guide, "Private registry authentication in
Amazon ECR": https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html); the digest
of a manifest is its ``Docker-Content-Digest`` header, of the media type asked for in ``Accept``."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from tests.deploy_hooks import load_hook

handler_module = load_hook("mirror_warmer")

PINNED = "sha256:" + "a" * 64
MOVED = "sha256:" + "b" * 64
PROMETHEUS = {
    "Image": "quay.io/prometheus/prometheus:v3.5.0",
    "Repository": "env-project/quay/prometheus/prometheus",
    "Tag": "v3.5.0",
    "Digest": PINNED,
}
BUSYBOX = {
    "Image": "public.ecr.aws/docker/library/busybox:1.37.0",
    "Repository": "env-project/ecr-public/docker/library/busybox",
    "Tag": "1.37.0",
    "Digest": PINNED,
}
DROP = 0
"""A status that closes the connection without an answer."""
INDEX = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}'


@dataclass
class Registry:
    """What the fake registry answers per path (a queue of (status, digest), the last repeating;
    ``DROP``: no answer at all), and the requests it received."""

    answers: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


def _serve(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            registry.requests.append((self.command, self.path, dict(self.headers.items())))
            queue = registry.answers.get(self.path, [(404, None)])
            status, digest = queue.pop(0) if len(queue) > 1 else queue[0]
            if status == DROP:
                self.close_connection = True
                return
            body = INDEX if status == 200 else b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]}'
            self.send_response(status)
            if digest is not None:
                self.send_header("Docker-Content-Digest", digest)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return None

    return Handler


@pytest.fixture
def registry() -> Iterator[Registry]:
    state = Registry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _serve(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ecr(mocked_aws: None) -> Any:
    return boto3.client("ecr", region_name="us-east-1")


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(handler_module, "respond", lambda event, status, reason: sent.append((status, reason)))
    # Retries wait a tenth of a second here, not seconds.
    monkeypatch.setattr(handler_module, "FIRST_DELAY_SECONDS", 0.05)
    return sent


def _event(request_type: str, images: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {"Registry": "111122223333.dkr.ecr.us-east-1.amazonaws.com", "Images": images},
        "ResponseURL": "https://example.invalid/response",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "Warm",
    }


def _by_tag(image: dict[str, str]) -> str:
    return f"/v2/{image['Repository']}/manifests/{image['Tag']}"


def test_each_manifest_is_fetched_by_tag_and_a_matching_pin_succeeds(
    registry: Registry, ecr: Any, responses: list[tuple[str, str]]
) -> None:
    registry.answers = {_by_tag(PROMETHEUS): [(200, PINNED)], _by_tag(BUSYBOX): [(200, PINNED)]}
    handler_module.handler(_event("Create", [PROMETHEUS, BUSYBOX]), None, ecr, registry.url)
    ((status, _),) = responses
    assert status == "SUCCESS"
    assert [(method, path) for method, path, _ in registry.requests] == [
        ("GET", _by_tag(PROMETHEUS)),
        ("GET", _by_tag(BUSYBOX)),
    ]
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert base64.b64decode(token).startswith(b"AWS:")
    for _, _, headers in registry.requests:
        assert headers["Authorization"] == f"Basic {token}"
        accepted = {t.strip() for t in headers["Accept"].split(",")}
        assert accepted >= {
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
        }


def test_a_tag_that_names_another_digest_fails_naming_the_image_the_pin_and_the_tag(
    registry: Registry, ecr: Any, responses: list[tuple[str, str]]
) -> None:
    registry.answers = {_by_tag(PROMETHEUS): [(200, PINNED)], _by_tag(BUSYBOX): [(200, MOVED)]}
    handler_module.handler(_event("Update", [PROMETHEUS, BUSYBOX]), None, ecr, registry.url)
    ((status, reason),) = responses
    assert status == "FAILED"
    assert "\n" not in reason
    assert f"{BUSYBOX['Image']} is pinned to {PINNED}, but the tag now points at {MOVED}" in reason
    assert PROMETHEUS["Image"] not in reason


def test_server_errors_and_throttling_are_retried(
    registry: Registry, ecr: Any, responses: list[tuple[str, str]]
) -> None:
    registry.answers = {_by_tag(PROMETHEUS): [(503, None), (429, None), (200, PINNED)]}
    handler_module.handler(_event("Create", [PROMETHEUS]), None, ecr, registry.url)
    assert [status for status, _ in responses] == ["SUCCESS"]
    assert [path for _, path, _ in registry.requests] == [_by_tag(PROMETHEUS)] * 3


def test_a_dropped_connection_is_retried(registry: Registry, ecr: Any, responses: list[tuple[str, str]]) -> None:
    registry.answers = {_by_tag(PROMETHEUS): [(DROP, None), (200, PINNED)]}
    handler_module.handler(_event("Create", [PROMETHEUS]), None, ecr, registry.url)
    assert [status for status, _ in responses] == ["SUCCESS"]
    assert len(registry.requests) == 2


def test_retries_stop_when_the_time_runs_out(registry: Registry, ecr: Any, responses: list[tuple[str, str]]) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            # One second left after the margin kept for the answer.
            return int((handler_module.ANSWER_MARGIN_SECONDS + 1.0) * 1000)

    registry.answers = {_by_tag(PROMETHEUS): [(500, None)]}
    handler_module.handler(_event("Create", [PROMETHEUS]), Context(), ecr, registry.url)
    ((status, reason),) = responses
    assert status == "FAILED"
    assert f"{PROMETHEUS['Image']}: still HTTP 500" in reason
    assert "time ran out" in reason
    assert 2 <= len(registry.requests) < 12


def test_a_tag_the_registry_does_not_know_fails_at_once(
    registry: Registry, ecr: Any, responses: list[tuple[str, str]]
) -> None:
    handler_module.handler(_event("Create", [PROMETHEUS]), None, ecr, registry.url)
    ((status, reason),) = responses
    assert status == "FAILED"
    assert f"{PROMETHEUS['Image']}: the registry answered HTTP 404 MANIFEST_UNKNOWN" in reason
    assert len(registry.requests) == 1


def test_delete_fetches_nothing(registry: Registry, ecr: Any, responses: list[tuple[str, str]]) -> None:
    handler_module.handler(_event("Delete", [PROMETHEUS]), None, ecr, registry.url)
    assert responses == [("SUCCESS", "nothing to warm on delete")]
    assert registry.requests == []


def test_a_failure_to_get_a_token_is_reported_not_left_hanging(
    registry: Registry, responses: list[tuple[str, str]]
) -> None:
    class Denied:
        def get_authorization_token(self) -> None:
            raise RuntimeError("AccessDenied")

    handler_module.handler(_event("Create", [PROMETHEUS]), None, Denied(), registry.url)
    assert responses == [("FAILED", "could not warm the image cache: AccessDenied")]
