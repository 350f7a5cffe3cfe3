"""The reference backend's RDS IAM tokens (services/backend/src/rds-auth-token.js) are the ones
botocore makes, byte for byte, and its credential provider reads ECS's container endpoint.

The backend signs without the AWS SDK, so the SDK is the oracle: for the same credentials,
host, port, user, region and instant, botocore's ``generate_db_auth_token`` (its clock frozen)
and the pinned Node running ``authToken`` must print the same string."""

from __future__ import annotations

import datetime
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import botocore.auth
import botocore.session
import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / ".bin" / "node"
MODULE = ROOT / "services" / "backend" / "src" / "rds-auth-token.js"

# Inputs arrive as JSON on stdin, so no value needs quoting for a shell or for JavaScript.
_TOKEN_SCRIPT = f"""
const {{ authToken }} = require({json.dumps(str(MODULE))});
const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
process.stdout.write(authToken({{ ...input, date: new Date(input.date) }}));
"""

_PROVIDER_SCRIPT = f"""
const {{ createCredentialProvider }} = require({json.dumps(str(MODULE))});
const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const credentials = createCredentialProvider({{ env: input.env, endpointBase: input.endpointBase ?? undefined }});
(async () => {{
  const first = await credentials();
  const second = await credentials();
  process.stdout.write(JSON.stringify({{ first, sameObject: first === second }}));
}})().catch((error) => {{
  process.stderr.write(error.message);
  process.exit(1);
}});
"""


@dataclass(frozen=True)
class Case:
    hostname: str
    port: int
    username: str
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    when: datetime.datetime


CASES = {
    "long-term keys": Case(
        "prod-db.abcdefghijkl.us-east-1.rds.amazonaws.com",
        5432,
        "backend",
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
        datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    ),
    "task role session": Case(
        "dev-davidshaevel.cluster-xyz.eu-west-1.rds.amazonaws.com",
        5432,
        "migrator",
        "eu-west-1",
        "ASIAQEXAMPLEEXAMPLE",
        "s3cr3t+/=key",
        "IQoJb3JpZ2luX2VjEOr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/token==",
        datetime.datetime(2024, 2, 29, 23, 59, 59, tzinfo=datetime.UTC),
    ),
    "user name to encode": Case(
        "db.internal",
        5432,
        "o'brien!(x)*~ü space/+=&",
        "ap-southeast-2",
        "AKIDEXAMPLE",
        "secret",
        "token with spaces",
        datetime.datetime(2030, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
    ),
    "mixed-case host, other port": Case(
        "MyDB.Example.US-EAST-1.rds.amazonaws.com",
        6543,
        "backend",
        "us-east-1",
        "AKIDEXAMPLE",
        "secret",
        None,
        datetime.datetime(2026, 6, 15, 12, 0, 0, tzinfo=datetime.UTC),
    ),
    "https's default port": Case(
        "db.example.com",
        443,
        "backend",
        "us-west-2",
        "AKIDEXAMPLE",
        "secret",
        "token",
        datetime.datetime(2026, 6, 15, 12, 0, 0, tzinfo=datetime.UTC),
    ),
}


def _run_node(script: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE), "-e", script], input=json.dumps(payload), capture_output=True, text=True, timeout=30, check=False
    )


def _node_token(case: Case) -> str:
    credentials: dict[str, str] = {"accessKeyId": case.access_key_id, "secretAccessKey": case.secret_access_key}
    if case.session_token is not None:
        credentials["sessionToken"] = case.session_token
    result = _run_node(
        _TOKEN_SCRIPT,
        {
            "hostname": case.hostname,
            "port": case.port,
            "username": case.username,
            "region": case.region,
            "credentials": credentials,
            "date": case.when.isoformat(),
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _botocore_token(case: Case, monkeypatch: pytest.MonkeyPatch) -> str:
    # The signer reads the time through this one name (botocore.auth.SigV4Auth.add_auth).
    frozen = case.when.astimezone(datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: frozen)
    client = botocore.session.Session().create_client(
        "rds",
        region_name=case.region,
        aws_access_key_id=case.access_key_id,
        aws_secret_access_key=case.secret_access_key,
        aws_session_token=case.session_token,
    )
    token: str = client.generate_db_auth_token(case.hostname, case.port, case.username, Region=case.region)
    return token


@pytest.fixture(autouse=True)
def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore reads the caller's profile and files; the tests pass everything explicitly."""
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_token_is_botocores(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _botocore_token(case, monkeypatch)
    assert expected.startswith(f"{case.hostname}:{case.port}/?Action=connect&DBUser=")
    assert _node_token(case) == expected


def test_the_token_changes_with_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen clock that froze nothing would make the comparison above vacuous."""
    case = CASES["long-term keys"]
    later = Case(**{**case.__dict__, "when": case.when + datetime.timedelta(seconds=1)})
    assert _node_token(later) != _node_token(case)
    assert _botocore_token(later, monkeypatch) == _node_token(later)


class _CredentialsEndpoint(BaseHTTPRequestHandler):
    """ECS's task-role endpoint: the credentials JSON on any path, every request recorded."""

    seen: ClassVar[list[dict[str, str | None]]] = []
    body: ClassVar[dict[str, str]] = {
        "AccessKeyId": "ASIAEXAMPLEFROMECS",
        "SecretAccessKey": "ecs/secret+key",
        "Token": "ecs-session-token==",
        "Expiration": "2099-01-01T00:00:00Z",
        "RoleArn": "arn:aws:iam::123456789012:role/dev-davidshaevel-backend-task",
    }

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        payload = json.dumps(self.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are asserted on, not logged."""


@pytest.fixture
def endpoint() -> Iterator[str]:
    """A local stand-in for http://169.254.170.2: its base URL."""
    _CredentialsEndpoint.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CredentialsEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _provide(env: dict[str, str], endpoint_base: str | None = None) -> dict[str, Any]:
    result = _run_node(_PROVIDER_SCRIPT, {"env": env, "endpointBase": endpoint_base})
    assert result.returncode == 0, result.stderr
    provided: dict[str, Any] = json.loads(result.stdout)
    return provided


def test_relative_uri_reads_the_task_role_once(endpoint: str) -> None:
    provided = _provide({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/4f2a9c1e"}, endpoint)
    assert provided["first"] == {
        "accessKeyId": "ASIAEXAMPLEFROMECS",
        "secretAccessKey": "ecs/secret+key",
        "sessionToken": "ecs-session-token==",
        "expiration": "2099-01-01T00:00:00.000Z",
    }
    # Cached: the second call asked nobody.
    assert provided["sameObject"] is True
    assert _CredentialsEndpoint.seen == [{"path": "/v2/credentials/4f2a9c1e", "authorization": None}]


def test_full_uri_sends_the_authorization_token(endpoint: str, tmp_path: Path) -> None:
    full_uri = f"{endpoint}/get-credentials"
    _provide({"AWS_CONTAINER_CREDENTIALS_FULL_URI": full_uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "from-env"})
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    _provide(
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": full_uri,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "from-env",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
    )
    assert _CredentialsEndpoint.seen == [
        {"path": "/get-credentials", "authorization": "from-env"},
        {"path": "/get-credentials", "authorization": "from-file"},
    ]


def test_environment_keys_come_before_the_endpoint(endpoint: str) -> None:
    provided = _provide(
        {
            "AWS_ACCESS_KEY_ID": "AKIDFROMENV",
            "AWS_SECRET_ACCESS_KEY": "env-secret",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/unused",
        },
        endpoint,
    )
    assert provided["first"] == {"accessKeyId": "AKIDFROMENV", "secretAccessKey": "env-secret"}
    assert _CredentialsEndpoint.seen == []


def test_no_credentials_is_a_clear_error() -> None:
    result = _run_node(_PROVIDER_SCRIPT, {"env": {}})
    assert result.returncode == 1
    assert result.stderr.startswith("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
