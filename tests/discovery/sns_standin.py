"""A stand-in for SNS's ``Publish``, over HTTP, that checks each call's SigV4 signature as SNS would.

Alertmanager signs its calls with the credentials of its environment (the task role's, on ECS); here it
is given test credentials, and each request's signature is computed again with botocore's signer over the
headers the request says it signed. A call whose signature does not match is refused as SNS refuses it
(403, ``SignatureDoesNotMatch``) and recorded as refused; an accepted one is answered with a message id.
"""

from __future__ import annotations

import hmac
import re
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALARM_TOPIC = "arn:aws:sns:{region}:123456789012:alarms"
HEARTBEAT_TOPIC = "arn:aws:sns:{region}:123456789012:heartbeat"
"""The topics an Alertmanager publishing here is configured with (``.format(region=...)``)."""
ACCESS_KEY = "AKIDALERTPATHTEST"
SECRET_KEY = "alert-path-test-secret"
SIGNING_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "PATH": "/usr/bin:/bin"}
"""What an Alertmanager publishing here runs with: these credentials, as a task role's would be."""


def alertmanager_command(binary: str, *, config: str, data: str, listen: str) -> list[str]:
    """Alertmanager as the platform runs it (layers/observability/alertmanager_server.py): alone, no cluster peers."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.path={data}",
        f"--web.listen-address={listen}",
        "--cluster.listen-address=",
    ]


_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass
class Publish:
    """One ``Publish`` call as received."""

    topic_arn: str
    subject: str
    message: str
    signed: bool
    """Whether its signature is the one these credentials make for it, for SNS in ``region``."""
    reason: str = ""


@dataclass
class SnsStandIn:
    """Listens on ``host``:``port`` (0: any free port) until ``stop``; ``region``: the one the calls
    must be signed for."""

    host: str
    region: str
    port: int = 0
    calls: list[Publish] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                publish = stand_in.receive(self.command, self.path, dict(self.headers.items()), body)
                if publish.signed:
                    status, text = 200, _published(str(uuid.uuid4()))
                else:
                    status, text = 403, _refused(publish.reason)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def receive(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Publish:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        publish = Publish(
            topic_arn=form.get("TopicArn", ""),
            subject=form.get("Subject", ""),
            message=form.get("Message", ""),
            signed=False,
        )
        if form.get("Action") != "Publish":
            publish.reason = f"not a Publish call: {form.get('Action')!r}"
        else:
            publish.reason = _signature_problem(method, path, headers, body, region=self.region)
            publish.signed = not publish.reason
        self.calls.append(publish)
        return publish


def _signature_problem(method: str, path: str, headers: dict[str, str], body: bytes, *, region: str) -> str:
    """Why the request's signature is not SNS's for these credentials, or ``""``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    match = _AUTHORIZATION.match(lowered.get("authorization", ""))
    if match is None:
        return "no SigV4 Authorization header"
    if (match["key"], match["region"], match["service"]) != (ACCESS_KEY, region, "sns"):
        return f"signed for {match['key']}/{match['region']}/{match['service']}, not {ACCESS_KEY}/{region}/sns"
    timestamp = lowered.get("x-amz-date", "")
    if not timestamp.startswith(match["date"]):
        return "X-Amz-Date does not match the credential scope's date"
    signed = match["headers"].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{lowered['host']}{path}",
        data=body,
        headers={name: lowered[name] for name in signed if name in lowered},
    )
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sns", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if signer.signed_headers(signer.headers_to_sign(request)) != match["headers"]:
        return f"signed headers {match['headers']} cannot be reproduced"
    return "" if hmac.compare_digest(expected, match["signature"]) else "SignatureDoesNotMatch"


def _published(message_id: str) -> str:
    return (
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<PublishResult><MessageId>{message_id}</MessageId></PublishResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></PublishResponse>"
    )


def _refused(reason: str) -> str:
    return (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        f"<Code>SignatureDoesNotMatch</Code><Message>{reason}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
