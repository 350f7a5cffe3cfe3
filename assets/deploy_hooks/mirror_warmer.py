"""CloudFormation custom resource: have the pull-through cache import every pinned third-party
image by its tag, and check that the tag still names the pinned digest.

Tasks pull these images by digest, and a pull-through cache reports an image it has not cached
as missing when it is first pulled by digest, even as ``tag@digest`` (aws/containers-roadmap#2837).
A pull by tag imports it (Amazon ECR user guide, "Pulling an image with a pull through cache rule":
https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working-pulling.html),
and pulling a multi-architecture image's tag imports its index and every image it lists ("Using
pull through cache rules", considerations:
https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html). A pull starts with
the registry API's ``GET /v2/<repository>/manifests/<tag>``, authenticated with the token of
``ecr:GetAuthorizationToken`` as ``Authorization: Basic`` ("Private registry authentication in
Amazon ECR", HTTP API: https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html):
that request is all this hook makes, once per image.

The answer's ``Docker-Content-Digest`` is the digest the tag names now. Another than the pin means
the cache now holds the tag's image, not the pinned one, which a task pulling the pin could not
find: the deploy fails, naming the image, its pin and the tag's digest.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from cfn_response import respond

# What the pinned digests are digests of: an index (manifest list) for multi-platform images, a
# manifest otherwise. Without the index types a registry may answer with one platform's manifest.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# Answers worth asking again: the registry's own errors and its throttling.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 60.0
# Time kept back from the function's own timeout to answer CloudFormation.
ANSWER_MARGIN_SECONDS = 20.0
DEFAULT_BUDGET_SECONDS = 180.0


@dataclass(frozen=True)
class Pin:
    """One image as the custom resource names it."""

    image: str
    """The spec's reference without its digest (``quay.io/prometheus/prometheus:v3.5.0``)."""
    repository: str
    """The cached repository (``<prefix>/quay/prometheus/prometheus``)."""
    tag: str
    digest: str

    @classmethod
    def of(cls, properties: dict[str, str]) -> Pin:
        return cls(
            image=properties["Image"],
            repository=properties["Repository"],
            tag=properties["Tag"],
            digest=properties["Digest"],
        )


@dataclass(frozen=True)
class Answer:
    status: int
    digest: str | None
    detail: str


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.end = clock() + seconds

    def left(self) -> float:
        return self.end - self.clock()


def _digest_of(headers: Any, body: bytes) -> str:
    """The registry's digest of the manifest; the body's own where the header is missing."""
    return str(headers.get("Docker-Content-Digest") or f"sha256:{hashlib.sha256(body).hexdigest()}")


def _error_detail(body: bytes) -> str:
    """The registry's error code and message (``{"errors": [{"code", "message"}]}``), briefly."""
    try:
        errors = json.loads(body)["errors"]
        detail = "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors)
    except (ValueError, KeyError, TypeError, AttributeError):
        detail = body.decode(errors="replace")
    return " ".join(detail.split())[:200]  # one line in the stack's events


def fetch_manifest(registry_url: str, token: str, pin: Pin, timeout: float) -> Answer:
    """One ``GET`` of the manifest by tag, its body read in full as a pull reads it."""
    request = urllib.request.Request(
        f"{registry_url}/v2/{pin.repository}/manifests/{pin.tag}",
        headers={"Authorization": f"Basic {token}", "Accept": ", ".join(MANIFEST_TYPES)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return Answer(response.status, _digest_of(response.headers, body), "")
    except urllib.error.HTTPError as error:
        return Answer(error.code, None, _error_detail(error.read()))


def warm(
    registry_url: str,
    token: str,
    pin: Pin,
    deadline: Deadline,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Fetch ``pin``'s manifest by tag, again with backoff while the registry errs or throttles,
    until ``deadline``; ``None`` when the tag names the pin, else why not, in a few words."""
    delay = FIRST_DELAY_SECONDS
    last = "no answer"
    while True:
        try:
            answer = fetch_manifest(registry_url, token, pin, min(REQUEST_TIMEOUT_SECONDS, max(deadline.left(), 1.0)))
        except (OSError, http.client.HTTPException) as error:  # no answer, or a broken one: ask again
            last = f"no answer ({getattr(error, 'reason', error)})"
        else:
            if answer.status == 200:
                if answer.digest == pin.digest:
                    return None
                return f"{pin.image} is pinned to {pin.digest}, but the tag now points at {answer.digest}"
            last = f"HTTP {answer.status}" + (f" {answer.detail}" if answer.detail else "")
            if answer.status not in RETRIED_STATUSES:
                return f"{pin.image}: the registry answered {last} for {pin.repository}:{pin.tag}"
        if deadline.left() < delay:
            return f"{pin.image}: still {last} for {pin.repository}:{pin.tag} when the time ran out"
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY_SECONDS)


def _budget(context: Any) -> float:
    """Seconds the hook may spend: what the function has left, less time to answer."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_BUDGET_SECONDS
    return max(float(remaining()) / 1000 - ANSWER_MARGIN_SECONDS, 0.0)


def handler(event: dict[str, Any], context: Any, ecr: Any = None, endpoint: str | None = None) -> None:
    """``endpoint``: the registry's URL in place of ``https://<Registry>`` (tests serve one locally)."""
    if event["RequestType"] == "Delete":
        respond(event, "SUCCESS", "nothing to warm on delete")
        return
    properties = event["ResourceProperties"]
    try:
        pins = [Pin.of(p) for p in properties["Images"]]
        deadline = Deadline(_budget(context))
        token = (ecr or boto3.client("ecr")).get_authorization_token()["authorizationData"][0]["authorizationToken"]
        registry_url = endpoint or f"https://{properties['Registry']}"
        problems = [p for p in (warm(registry_url, token, pin, deadline) for pin in pins) if p is not None]
    except Exception as error:  # report every failure to CloudFormation instead of letting it wait
        respond(event, "FAILED", f"could not warm the image cache: {error}")
        return
    if problems:
        respond(event, "FAILED", f"The image cache cannot serve every pin: {'; '.join(problems)}")
    else:
        respond(event, "SUCCESS", f"{len(pins)} pinned images cached, each the image its tag names")
