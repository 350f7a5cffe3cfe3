"""The verify command against moto's in-process AWS: a passing environment and each failing check."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from moto import mock_aws
from moto.ec2.models.elastic_network_interfaces import NetworkInterface

from platform_spec import PlatformSpec, names
from platform_spec.names import TARGETS_PROBE, stack_name
from platform_spec.profiles import dev
from tests.release_world import scheduled, window_edges
from tests.variants import every_kind_variant
from verify import __main__ as verify_command
from verify.__main__ import main, render
from verify.checks import (
    cloud_map_matches,
    no_error_logs,
    prometheus_targets_up,
    released_revision,
    run_all,
    service_running,
    targets_healthy,
)
from verify.deployment import DeployedService, Deployment, NotDeployedError, Release, TargetsProbe, load_deployment
from verify.public_url import api_health_through_edge, http_redirects_to_https, public_opener, site_answers
from verify.results import Status

SERVICES = ("backend", "frontend", "prometheus")
REPLICAS = 2
HEALTH_PATH = "/api/health"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for variable, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("MOTO_ECS_SERVICE_RUNNING", str(REPLICAS)),
    ):
        monkeypatch.setenv(variable, value)
    # moto 5.2 builds a Fargate task's ENI details from an attribute its ENIs lack.
    monkeypatch.setattr(NetworkInterface, "private_dns_name", "ip-10-0-1-10.ec2.internal", raising=False)
    with mock_aws():
        yield {
            n: boto3.client(n, region_name="us-east-1")
            for n in ("cloudformation", "ecs", "servicediscovery", "logs", "elbv2", "ec2")
        }


@dataclass(frozen=True)
class Certificates:
    """A throwaway certificate authority and two server certificates it signs."""

    authority: str
    """The authority's certificate (PEM), the only one a client of these tests trusts."""
    localhost: ssl.SSLContext
    """A server context whose certificate names ``localhost``."""
    elsewhere: ssl.SSLContext
    """A server context whose certificate names ``elsewhere.example`` only."""


def _signed(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    directory = tmp_path_factory.mktemp("tls")
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority = _signed("verify test CA", authority_key, None, authority_key)

    def server(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        chain, key_file = directory / f"{name}.crt", directory / f"{name}.key"
        chain.write_bytes(_signed(name, key, authority, authority_key).public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        return context

    return Certificates(
        authority=authority.public_bytes(serialization.Encoding.PEM).decode(),
        localhost=server("localhost"),
        elsewhere=server("elsewhere.example"),
    )


class Edge(ThreadingHTTPServer):
    """A stand-in for CloudFront on one port of 127.0.0.1: a connection that opens with a TLS
    handshake gets HTTPS with ``context``'s certificate, any other plain HTTP. ``answers`` maps
    ``"https /path"`` or ``"http /path"`` to a status and headers; anything else answers 404."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _EdgeHandler)
        self.context = context
        self.answers: dict[str, tuple[int, dict[str, str]]] = {}

    @property
    def url(self) -> str:
        """The public URL, as the compute stack's output gives it (no trailing slash)."""
        return f"https://localhost:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that rejects the certificate hangs up mid-handshake: not the server's error."""


class _EdgeHandler(BaseHTTPRequestHandler):
    server: Edge

    def setup(self) -> None:
        if self.request.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake record
            self.request = self.server.context.wrap_socket(self.request, server_side=True)
        super().setup()

    def do_GET(self) -> None:
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        status, headers = self.server.answers.get(f"{scheme} {self.path}", (404, {}))
        self.send_response(status)
        for header, value in headers.items():
            self.send_header(header, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serving(context: ssl.SSLContext) -> Iterator[Edge]:
    """An edge that answers as CloudFront does for a healthy platform, until a test says otherwise."""
    server = Edge(context)
    server.answers = {
        "https /": (200, {}),
        f"https {HEALTH_PATH}": (200, {}),
        "http /": (301, {"Location": f"{server.url}/"}),
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def edge(certificates: Certificates) -> Iterator[Edge]:
    with _serving(certificates.localhost) as server:
        yield server


@pytest.fixture
def opener(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> urllib.request.OpenerDirector:
    """The verify command's opener, with Python's default context trusting the test authority only."""
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    return public_opener(ssl.create_default_context(cadata=certificates.authority))


def _platform(clients: dict[str, Any], public_url: str = "https://d111.cloudfront.net") -> Deployment:
    """A healthy deployment of the dev profile's shape, made in moto."""
    ec2, ecs, sd, logs, elbv2 = (clients[n] for n in ("ec2", "ecs", "servicediscovery", "logs", "elbv2"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    ecs.create_cluster(clusterName="platform")
    sd.create_private_dns_namespace(Name="davidshaevel.local", Vpc=vpc)
    namespace = sd.list_namespaces()["Namespaces"][0]["Id"]
    services = []
    for index, name in enumerate(SERVICES):
        task_definition = ecs.register_task_definition(
            family=name,
            containerDefinitions=[{"name": name, "image": f"{name}:1", "memory": 512}],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
        )["taskDefinition"]["taskDefinitionArn"]
        arn = ecs.create_service(
            cluster="platform",
            serviceName=name,
            taskDefinition=name,
            desiredCount=REPLICAS,
            launchType="FARGATE",
            networkConfiguration=network,
        )["service"]["serviceArn"]
        registry = sd.create_service(
            Name=name, NamespaceId=namespace, DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 10}]}
        )["Service"]["Id"]
        target_group = None
        if name != "prometheus":
            target_group = elbv2.create_target_group(
                Name=f"tg-{name}", Protocol="HTTP", Port=3000 + index, VpcId=vpc, TargetType="ip"
            )["TargetGroups"][0]["TargetGroupArn"]
        for replica in range(REPLICAS):
            address = f"10.0.1.{10 * index + replica + 1}"
            sd.register_instance(
                ServiceId=registry, InstanceId=f"{name}-{replica}", Attributes={"AWS_INSTANCE_IPV4": address}
            )
            if target_group:
                elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": address, "Port": 3000 + index}])
        log_group = f"/platform/{name}"
        logs.create_log_group(logGroupName=log_group)
        logs.create_log_stream(logGroupName=log_group, logStreamName="app")
        logs.put_log_events(
            logGroupName=log_group,
            logStreamName="app",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "GET /api/health 200"}],
        )
        release = None if name == "prometheus" else Release("sha-4f2a9c1", task_definition)
        services.append(DeployedService(name, arn, registry, log_group, target_group, release))
    probe_definition = ecs.register_task_definition(
        family="probe",
        containerDefinitions=[{"name": TARGETS_PROBE, "image": "prometheus:3", "memory": 512}],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    logs.create_log_group(logGroupName="/platform/probe")
    probe = TargetsProbe(probe_definition, (subnet,), group, "/platform/probe", TARGETS_PROBE)
    return Deployment(
        cluster="platform",
        services=tuple(services),
        probe=probe,
        public_url=public_url,
        api_health_path=HEALTH_PATH,
    )


def _targets(*health: str) -> str:
    return json.dumps(
        {
            "status": "success",
            "data": {
                "activeTargets": [
                    {"labels": {"job": "backend", "instance": f"10.0.1.{i}:3001"}, "health": h}
                    for i, h in enumerate(health)
                ]
            },
        }
    )


def _probe_printing(clients: dict[str, Any], body: str | None) -> Any:
    """A stand-in for waiting on the probe: stops the task and writes what wget would have printed."""

    def wait(ecs: Any, cluster: str, task_arn: str) -> None:
        ecs.stop_task(cluster=cluster, task=task_arn)
        stream = f"{TARGETS_PROBE}/{TARGETS_PROBE}/{task_arn.rsplit('/', 1)[-1]}"
        clients["logs"].create_log_stream(logGroupName="/platform/probe", logStreamName=stream)
        if body is not None:
            clients["logs"].put_log_events(
                logGroupName="/platform/probe",
                logStreamName=stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": body}],
            )

    return wait


def test_a_healthy_platform_passes_every_check(
    clients: dict[str, Any], edge: Edge, opener: urllib.request.OpenerDirector
) -> None:
    deployment = _platform(clients, edge.url)
    wait = _probe_printing(clients, _targets("up", "up", "up", "up", "up"))
    results = run_all(clients, deployment, log_minutes=10, wait=wait, opener=opener)
    assert [r for r in results if r.status is not Status.PASS] == []
    # per service: running, Cloud Map, logs; released image and load balancer for the application services;
    # Prometheus's targets; the public URL's page, API health and http redirect
    assert len(results) == 3 * len(SERVICES) + 2 * 2 + 1 + 3
    assert render(results).endswith("PASS: all checks passed")


def test_running_below_desired_fails(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = _platform(clients)
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    clients["ecs"].create_service(
        cluster="platform",
        serviceName="short",
        taskDefinition="backend",
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(deployment.probe.subnets),
                "securityGroups": [deployment.probe.security_group],
            }
        },
    )
    short = replace(
        deployment.services[0], name="short", service_arn="arn:aws:ecs:us-east-1:123456789012:service/platform/short"
    )
    result = service_running(clients["ecs"], "platform", short)
    assert (result.status, result.detail) == (Status.FAIL, "1 running of 2 desired")


@pytest.mark.parametrize("may_sleep", [True, False], ids=["min_tasks 0", "min_tasks 1"])
def test_a_service_with_no_task_passes_only_where_it_may_sleep(clients: dict[str, Any], may_sleep: bool) -> None:
    """A service at ``min_tasks = 0`` with no request has no task and no target: that is not a failure."""
    idle = replace(_platform(clients).services[0], may_sleep=may_sleep)

    class Idle:
        """ECS and the load balancer as they describe a service scaled to zero."""

        def describe_services(self, **_: Any) -> dict[str, Any]:
            return {"services": [{"status": "ACTIVE", "runningCount": 0, "desiredCount": 0, "serviceName": "idle"}]}

        def list_tasks(self, **_: Any) -> dict[str, Any]:
            return {"taskArns": []}

        def describe_target_health(self, **_: Any) -> dict[str, Any]:
            return {"TargetHealthDescriptions": []}

    expected = Status.PASS if may_sleep else Status.FAIL
    assert service_running(Idle(), "platform", idle).status is expected
    assert targets_healthy(Idle(), idle).status is expected


def test_a_task_that_is_not_healthy_fails(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    network = {
        "awsvpcConfiguration": {
            "subnets": list(deployment.probe.subnets),
            "securityGroups": [deployment.probe.security_group],
        }
    }
    task = clients["ecs"].run_task(
        cluster="platform", taskDefinition="backend", launchType="FARGATE", networkConfiguration=network
    )["tasks"][0]
    # moto reports no health for a task it started: like a real task whose health check has not passed.
    (described,) = clients["ecs"].describe_tasks(cluster="platform", tasks=[task["taskArn"]])["tasks"]
    assert described.get("healthStatus") != "HEALTHY"
    result = service_running(clients["ecs"], "platform", deployment.services[0])
    assert result.status is Status.FAIL
    assert "not healthy" in result.detail


def test_cloud_map_out_of_step_with_running_tasks_fails(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    backend = deployment.services[0]
    assert cloud_map_matches(clients["ecs"], clients["servicediscovery"], "platform", backend).status is Status.PASS
    clients["servicediscovery"].deregister_instance(ServiceId=backend.cloud_map_service_id, InstanceId="backend-0")
    result = cloud_map_matches(clients["ecs"], clients["servicediscovery"], "platform", backend)
    assert (result.status, result.detail) == (Status.FAIL, "1 registered, 2 running")


def test_error_lines_fail(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    backend = deployment.services[0]
    clients["logs"].put_log_events(
        logGroupName=backend.log_group,
        logStreamName="app",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "ERROR connect ECONNREFUSED 10.0.20.5:5432"}],
    )
    result = no_error_logs(clients["logs"], backend, minutes=10)
    assert result.status is Status.FAIL
    assert result.detail == "1 error lines in 10 min, first: ERROR connect ECONNREFUSED 10.0.20.5:5432"


def test_no_targets_behind_the_load_balancer_fails(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    backend = deployment.services[0]
    assert targets_healthy(clients["elbv2"], backend).status is Status.PASS
    targets = clients["elbv2"].describe_target_health(TargetGroupArn=backend.target_group_arn)[
        "TargetHealthDescriptions"
    ]
    clients["elbv2"].deregister_targets(TargetGroupArn=backend.target_group_arn, Targets=[t["Target"] for t in targets])
    result = targets_healthy(clients["elbv2"], backend)
    assert result.status is Status.FAIL


def test_a_target_down_in_prometheus_fails(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    result = prometheus_targets_up(
        clients["ecs"],
        clients["logs"],
        "platform",
        deployment.probe,
        wait=_probe_printing(clients, _targets("up", "down")),
    )
    assert result.status is Status.FAIL
    assert result.detail == "1/2 targets up; down: backend:10.0.1.1:3001"


def test_a_check_that_cannot_run_counts_as_failed(clients: dict[str, Any]) -> None:
    deployment = _platform(clients)
    missing = replace(deployment.services[0], log_group="/platform/never-created")
    result = no_error_logs(clients["logs"], missing, minutes=10)
    assert result.status is Status.ERROR
    assert result.detail.startswith("could not check: ResourceNotFoundException")
    silent = prometheus_targets_up(
        clients["ecs"], clients["logs"], "platform", deployment.probe, wait=_probe_printing(clients, None)
    )
    assert silent.status is Status.ERROR
    assert "FAIL: 1 of 1 checks failed" in render([silent])


def _stack_values(spec: PlatformSpec) -> dict[str, dict[str, str]]:
    """Every output the compute, observability and delivery stacks give ``spec``, by stack layer."""
    values: dict[str, dict[str, str]] = {
        names.COMPUTE: {names.CLUSTER_NAME: "cluster-of-tests", names.PUBLIC_URL: "https://d111.cloudfront.net"},
        names.OBSERVABILITY: {},
        names.DELIVERY: {},
    }
    for service in spec.services:
        for attribute in names.service_outputs(registered=service.has_port, public=service.is_public):
            values[names.COMPUTE][names.output_key(service.name, attribute)] = f"{service.name}-{attribute}"
    for workload in (spec.prometheus.name, spec.alertmanager.name):
        for attribute in (names.SERVICE_ARN, names.CLOUD_MAP_SERVICE_ID, names.LOG_GROUP):
            values[names.OBSERVABILITY][names.output_key(workload, attribute)] = f"{workload}-{attribute}"
    for key in (names.PROBE_TASK_DEFINITION, names.PROBE_SECURITY_GROUP, names.PROBE_LOG_GROUP):
        values[names.DELIVERY][key] = key
    values[names.DELIVERY][names.PROBE_SUBNETS] = "subnet-a,subnet-b"
    return values


@pytest.mark.parametrize("spec", [dev(), every_kind_variant(dev())], ids=["dev", "every kind"])
def test_deployment_is_read_from_the_stack_outputs(clients: dict[str, Any], spec: PlatformSpec) -> None:
    for layer, stack_outputs in _stack_values(spec).items():
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in stack_outputs.items()},
        }
        clients["cloudformation"].create_stack(StackName=spec.stack_name(layer), TemplateBody=json.dumps(template))
    deployment = load_deployment(spec, clients["cloudformation"])
    assert deployment.cluster == "cluster-of-tests"
    own = [spec.prometheus.name, spec.alertmanager.name]
    assert [s.name for s in deployment.services] == [s.name for s in spec.services] + own
    for service, deployed in zip(spec.services, deployment.services, strict=False):
        public = f"{service.name}-{names.TARGET_GROUP_ARN}" if service.is_public else None
        registered = f"{service.name}-{names.CLOUD_MAP_SERVICE_ID}" if service.has_port else None
        assert (deployed.target_group_arn, deployed.cloud_map_service_id) == (public, registered), service.name
        assert deployed.release == Release(
            image_tag=f"{service.name}-{names.RELEASED_IMAGE_TAG}",
            task_definition_arn=f"{service.name}-{names.TASK_DEFINITION_ARN}",
        )
    for workload in deployment.services[-2:]:
        assert (workload.target_group_arn, workload.release) == (None, None), workload.name
    assert deployment.probe.subnets == ("subnet-a", "subnet-b")
    api = spec.service(spec.delivery.api_service)
    assert (deployment.public_url, deployment.api_health_path) == ("https://d111.cloudfront.net", api.health_check_path)


class _CloudFormation:
    """``describe_stacks`` over fixed outputs: as much of CloudFormation as ``load_deployment`` asks."""

    def __init__(self, prefix: str, values: dict[str, dict[str, str]]) -> None:
        self.stacks = {stack_name(prefix, layer): stack_outputs for layer, stack_outputs in values.items()}

    def describe_stacks(self, **request: str) -> dict[str, Any]:
        stack_outputs = self.stacks[request["StackName"]]
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack_outputs.items()]}]}


def test_a_compute_stack_without_the_public_url_is_not_deployed() -> None:
    spec = dev()
    values = _stack_values(spec)
    del values[names.COMPUTE][names.PUBLIC_URL]
    with pytest.raises(NotDeployedError, match="stack dev-davidshaevel-compute has no output PublicUrl: deploy the"):
        load_deployment(spec, _CloudFormation(spec.stack_prefix, values))


def test_a_profile_that_is_not_deployed_is_a_clear_error(clients: dict[str, Any]) -> None:
    with pytest.raises(
        NotDeployedError, match="stack dev-davidshaevel-compute does not exist: is profile dev deployed here"
    ):
        load_deployment(dev(), clients["cloudformation"])


def _awake() -> datetime.datetime:
    """A moment inside dev's window, if it has one: the checks run."""
    schedule = dev().schedule
    return datetime.datetime.now(datetime.UTC) if schedule is None else window_edges(schedule)[1]


def test_command_line_errors_are_one_line(clients: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "dev"], now=_awake) == 2
    assert capsys.readouterr().err.strip() == (
        "error: stack dev-davidshaevel-compute does not exist: is profile dev deployed here?"
    )
    assert main(["--env", "staging"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: context env: unknown profile")


def test_missing_credentials_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--env", "dev"], now=_awake) == 2
    assert capsys.readouterr().err.strip() == "error: no AWS credentials found (set AWS_PROFILE, or run inside a role)"


@pytest.mark.parametrize("edge", ["before it opens", "as it ends"])
def test_a_sleeping_environment_is_refused_in_one_line_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], edge: str
) -> None:
    spec = scheduled(dev())
    assert spec.schedule is not None
    monkeypatch.setattr(verify_command, "spec_from_context", lambda context: spec)
    before, _, ends = window_edges(spec.schedule)
    at = {"before it opens": before, "as it ends": ends}[edge].astimezone(datetime.UTC)
    sessions: list[Any] = []
    monkeypatch.setattr(boto3, "Session", lambda **kwargs: sessions.append(kwargs))
    assert main(["--env", spec.environment], now=lambda: at) == 2
    assert capsys.readouterr().err == (
        f"error: {spec.environment} is asleep: it runs {spec.schedule.describe()}; verify inside the window\n"
    )
    assert sessions == [], "no AWS session is made"


def test_inside_the_window_the_checks_run(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal is the window's: at its opening minute the command goes on to read the stacks."""
    spec = scheduled(dev())
    assert spec.schedule is not None
    monkeypatch.setattr(verify_command, "spec_from_context", lambda context: spec)
    _, opens, _ = window_edges(spec.schedule)
    assert main(["--env", spec.environment], now=lambda: opens.astimezone(datetime.UTC)) == 2
    assert f"stack {spec.stack_name(names.COMPUTE)} does not exist" in capsys.readouterr().err


def test_a_service_back_on_an_older_revision_fails(clients: dict[str, Any]) -> None:
    """What a circuit-breaker roll-back leaves: a PRIMARY, COMPLETED deployment of the old revision."""
    deployment = _platform(clients)
    backend = deployment.services[0]
    assert backend.release is not None
    newer = Release("sha-5e6f7a8", backend.release.task_definition_arn.replace(":1", ":2"))
    result = released_revision(clients["ecs"], deployment.cluster, replace(backend, release=newer))
    assert result.status is Status.FAIL
    assert result.detail == "runs backend:1, not backend:2 of release sha-5e6f7a8"
    assert (
        released_revision(clients["ecs"], deployment.cluster, backend).detail == "runs release sha-4f2a9c1 (backend:1)"
    )


def test_the_public_url_answers_over_verified_https(edge: Edge, opener: urllib.request.OpenerDirector) -> None:
    page = site_answers(opener, edge.url)
    assert (page.status, page.subject, page.detail) == (Status.PASS, f"{edge.url}/", "answered 200, certificate valid")
    health = api_health_through_edge(opener, edge.url, HEALTH_PATH)
    assert (health.status, health.subject, health.detail) == (Status.PASS, f"{edge.url}{HEALTH_PATH}", "answered 200")
    redirect = http_redirects_to_https(opener, edge.url)
    assert (redirect.status, redirect.detail) == (Status.PASS, f"answered 301, a redirect to {edge.url}/")
    assert redirect.subject == f"http://localhost:{edge.server_address[1]}/"


def test_a_certificate_for_another_name_fails(
    certificates: Certificates, opener: urllib.request.OpenerDirector
) -> None:
    with _serving(certificates.elsewhere) as edge:
        for result in (site_answers(opener, edge.url), api_health_through_edge(opener, edge.url, HEALTH_PATH)):
            assert (result.status, result.detail) == (
                Status.FAIL,
                "certificate rejected: Hostname mismatch, certificate is not valid for 'localhost'.",
            )


def test_a_certificate_from_an_unknown_authority_fails(edge: Edge, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's own opener trusts the system's authorities, not the test's."""
    for variable in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    result = site_answers(public_opener(), edge.url)
    assert result.status is Status.FAIL
    assert result.detail.startswith("certificate rejected: unable to get local issuer certificate")


def test_a_server_error_through_the_edge_fails(edge: Edge, opener: urllib.request.OpenerDirector) -> None:
    edge.answers["https /"] = (502, {})
    edge.answers[f"https {HEALTH_PATH}"] = (503, {})
    page = site_answers(opener, edge.url)
    assert (page.status, page.detail) == (Status.FAIL, "answered 502")
    health = api_health_through_edge(opener, edge.url, HEALTH_PATH)
    assert (health.status, health.detail) == (Status.FAIL, "answered 503")
    edge.answers[f"https {HEALTH_PATH}"] = (204, {})
    assert api_health_through_edge(opener, edge.url, HEALTH_PATH).detail == "answered 204"


def test_a_redirect_on_the_site_fails_naming_where_it_points(edge: Edge, opener: urllib.request.OpenerDirector) -> None:
    edge.answers["https /"] = (302, {"Location": "https://login.example/start"})
    result = site_answers(opener, edge.url)
    assert (result.status, result.detail) == (Status.FAIL, "answered 302, a redirect to https://login.example/start")


def test_plain_http_must_redirect_to_the_https_url(edge: Edge, opener: urllib.request.OpenerDirector) -> None:
    edge.answers["http /"] = (200, {})
    served = http_redirects_to_https(opener, edge.url)
    assert (served.status, served.detail) == (Status.FAIL, f"answered 200, not a redirect to {edge.url}/")
    http_url = f"http://localhost:{edge.server_address[1]}/"
    edge.answers["http /"] = (301, {"Location": http_url})
    elsewhere = http_redirects_to_https(opener, edge.url)
    assert (elsewhere.status, elsewhere.detail) == (
        Status.FAIL,
        f"answered 301, a redirect to {http_url}, not to {edge.url}/",
    )
    edge.answers["http /"] = (308, {"Location": f"{edge.url}/"})
    assert http_redirects_to_https(opener, edge.url).status is Status.PASS


def test_a_public_url_that_cannot_be_reached_is_an_error(opener: urllib.request.OpenerDirector) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    results = [
        site_answers(opener, f"https://127.0.0.1:{port}"),
        api_health_through_edge(opener, f"https://127.0.0.1:{port}", HEALTH_PATH),
        http_redirects_to_https(opener, f"https://127.0.0.1:{port}"),
    ]
    for result in results:
        assert result.status is Status.ERROR
        assert result.detail.startswith("could not check: URLError: ")
        assert "Connection refused" in result.detail
    with socket.socket() as silent:  # connects (the kernel's backlog) but never answers the handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        late = site_answers(opener, f"https://127.0.0.1:{silent.getsockname()[1]}", timeout=0.1)
    assert late.status is Status.ERROR
    assert "timed out" in late.detail
    assert site_answers(opener, "http://localhost").detail == "the public URL 'http://localhost' is not an https URL"
