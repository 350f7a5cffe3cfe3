"""The checks. Each returns a result; one that cannot run says why and fails."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from verify.deployment import DeployedService, Deployment, TargetsProbe

# Each term is one CloudWatch Logs filter pattern (a case-sensitive word match).
ERROR_TERMS = ("ERROR", "Error", "FATAL")

PUBLIC_URL_TIMEOUT_SECONDS = 10
"""Longest a request to the public URL may take (connecting, TLS, or waiting for an answer)."""
REDIRECTS = (301, 302, 307, 308)
USER_AGENT = "davidshaevel-platform-verify"


class Status(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    """The check could not run; counts as failed."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    subject: str
    status: Status
    detail: str


def _guarded(check: str, subject: str, run: Callable[[], tuple[bool, str]]) -> CheckResult:
    try:
        passed, detail = run()
    except Exception as error:  # any failure to ask AWS is reported, never taken for a pass
        return CheckResult(check, subject, Status.ERROR, f"could not check: {type(error).__name__}: {error}")
    return CheckResult(check, subject, Status.PASS if passed else Status.FAIL, detail)


def service_running(ecs: Any, cluster: str, service: DeployedService) -> CheckResult:
    def run() -> tuple[bool, str]:
        (described,) = ecs.describe_services(cluster=cluster, services=[service.service_arn])["services"]
        running, desired = described["runningCount"], described["desiredCount"]
        if described["status"] != "ACTIVE":
            return False, f"service is {described['status']}"
        if desired == running == 0 and service.may_sleep:
            return True, "asleep: no task until a request wakes it (min_tasks 0)"
        if desired == 0 or running != desired:
            return False, f"{running} running of {desired} desired"
        task_arns = ecs.list_tasks(cluster=cluster, serviceName=described["serviceName"])["taskArns"]
        tasks = ecs.describe_tasks(cluster=cluster, tasks=task_arns)["tasks"] if task_arns else []
        unhealthy = [t["taskArn"].rsplit("/", 1)[-1] for t in tasks if t.get("healthStatus") != "HEALTHY"]
        if unhealthy:
            return False, f"{running}/{desired} running; not healthy: {', '.join(unhealthy)}"
        return True, f"{running}/{desired} running, all healthy"

    return _guarded("service running", service.name, run)


def released_revision(ecs: Any, cluster: str, service: DeployedService) -> CheckResult:
    """The service's PRIMARY deployment is of the task definition its stack names (the released
    tag), and has completed: not a circuit-breaker roll-back to an older one."""
    release = service.release
    assert release is not None

    def run() -> tuple[bool, str]:
        (described,) = ecs.describe_services(cluster=cluster, services=[service.service_arn])["services"]
        primary = [d for d in described["deployments"] if d["status"] == "PRIMARY"]
        if not primary:
            return False, "no PRIMARY deployment"
        deployment = primary[0]
        revision = deployment["taskDefinition"].rsplit("/", 1)[-1]
        if deployment["taskDefinition"] != release.task_definition_arn:
            wanted = release.task_definition_arn.rsplit("/", 1)[-1]
            return False, f"runs {revision}, not {wanted} of release {release.image_tag}"
        if deployment.get("rolloutState") != "COMPLETED":
            return False, f"release {release.image_tag} ({revision}) is {deployment.get('rolloutState', 'rolling out')}"
        return True, f"runs release {release.image_tag} ({revision})"

    return _guarded("released image", service.name, run)


def cloud_map_matches(ecs: Any, servicediscovery: Any, cluster: str, service: DeployedService) -> CheckResult:
    def run() -> tuple[bool, str]:
        (described,) = ecs.describe_services(cluster=cluster, services=[service.service_arn])["services"]
        paginator = servicediscovery.get_paginator("list_instances")
        instances = sum(len(page["Instances"]) for page in paginator.paginate(ServiceId=service.cloud_map_service_id))
        running = described["runningCount"]
        return instances == running, f"{instances} registered, {running} running"

    return _guarded("cloud map", service.name, run)


def no_error_logs(logs: Any, service: DeployedService, *, minutes: int, now: float | None = None) -> CheckResult:
    def run() -> tuple[bool, str]:
        start = int(((now or time.time()) - minutes * 60) * 1000)
        found: dict[str, dict[str, Any]] = {}
        for term in ERROR_TERMS:
            for event in logs.filter_log_events(
                logGroupName=service.log_group, startTime=start, filterPattern=term, limit=50
            )["events"]:
                found[event["eventId"]] = event
        events = sorted(found.values(), key=lambda e: e["timestamp"])
        if events:
            first = events[0]["message"].strip().splitlines()[0][:120]
            return False, f"{len(events)} error lines in {minutes} min, first: {first}"
        return True, f"no error lines in {minutes} min"

    return _guarded("error logs", service.name, run)


def targets_healthy(elbv2: Any, service: DeployedService) -> CheckResult:
    def run() -> tuple[bool, str]:
        # Every group of the service: after a shifting deployment its tasks are in the other one.
        states = [
            d["TargetHealth"]["State"]
            for arn in (service.target_group_arn or "").split(",")
            for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        ]
        healthy = states.count("healthy")
        if not states and service.may_sleep:
            return True, "asleep: no target until a request wakes it (min_tasks 0)"
        return bool(states) and healthy == len(states), f"{healthy}/{len(states)} targets healthy"

    return _guarded("load balancer", service.name, run)


def wait_until_stopped(ecs: Any, cluster: str, task_arn: str, *, timeout: float = 300, interval: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (task,) = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        if task["lastStatus"] == "STOPPED":
            return
        time.sleep(interval)
    raise TimeoutError(f"probe task still running after {timeout:.0f} s")


def prometheus_targets_up(
    ecs: Any,
    logs: Any,
    cluster: str,
    probe: TargetsProbe,
    *,
    wait: Callable[[Any, str, str], None] = wait_until_stopped,
) -> CheckResult:
    """Runs the probe task, which prints Prometheus's /api/v1/targets to its log, and reads it."""

    def run() -> tuple[bool, str]:
        started = ecs.run_task(
            cluster=cluster,
            taskDefinition=probe.task_definition_arn,
            launchType="FARGATE",
            count=1,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(probe.subnets),
                    "securityGroups": [probe.security_group],
                    "assignPublicIp": "DISABLED",
                }
            },
        )
        if started.get("failures"):
            return False, f"probe did not start: {started['failures'][0].get('reason')}"
        task_arn = started["tasks"][0]["taskArn"]
        wait(ecs, cluster, task_arn)
        stream = f"{probe.container}/{probe.container}/{task_arn.rsplit('/', 1)[-1]}"
        events = logs.get_log_events(logGroupName=probe.log_group, logStreamName=stream, startFromHead=True)["events"]
        body = "".join(event["message"] for event in events)
        targets = json.loads(body)["data"]["activeTargets"]
        down = [f"{t['labels'].get('job')}:{t['labels'].get('instance')}" for t in targets if t["health"] != "up"]
        up = len(targets) - len(down)
        if not targets:
            return False, "Prometheus has no active targets"
        return not down, f"{up}/{len(targets)} targets up" + (f"; down: {', '.join(down)}" if down else "")

    return _guarded("prometheus targets", "prometheus", run)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib then raises it as an ``HTTPError``, which ``_get`` reads."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def public_opener(context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """What the public-URL checks ask with: certificates verified against ``context`` (by default
    Python's, which trusts the system's authorities and checks that the certificate names the
    host), redirects answered rather than followed."""
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or ssl.create_default_context()), _NoRedirects()
    )


def _get(opener: urllib.request.OpenerDirector, url: str, timeout: float) -> tuple[int, str | None]:
    """The status and ``Location`` of a GET of ``url``; an error status is an answer too."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), response.headers.get("Location")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, error.headers.get("Location")


def _answered(status: int, location: str | None) -> str:
    if 300 <= status < 400:
        return f"answered {status}, a redirect to {location or '(no Location)'}"
    return f"answered {status}"


def _public(public_url: str, scheme: str, path: str) -> str:
    """``path`` on the public URL's host, over ``scheme``."""
    return urlunsplit((scheme, urlsplit(public_url).netloc, path, "", ""))


def _over_the_internet(public_url: str, subject: str, run: Callable[[], tuple[bool, str]]) -> CheckResult:
    """A rejected certificate fails the check (what it proves); a host that cannot be reached or
    does not answer in time is an error, as for any check that cannot run."""

    def reached() -> tuple[bool, str]:
        parts = urlsplit(public_url)
        if parts.scheme != "https" or not parts.hostname:
            return False, f"the public URL {public_url!r} is not an https URL"
        try:
            return run()
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                return False, f"certificate rejected: {error.reason.verify_message}"
            raise

    return _guarded("public URL", subject, reached)


def site_answers(
    opener: urllib.request.OpenerDirector, public_url: str, *, timeout: float = PUBLIC_URL_TIMEOUT_SECONDS
) -> CheckResult:
    """``/`` answers 2xx over HTTPS with a certificate valid for the host, without redirecting."""
    url = _public(public_url, "https", "/")

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        if 200 <= status < 300:
            return True, f"answered {status}, certificate valid"
        return False, _answered(status, location)

    return _over_the_internet(public_url, url, run)


def api_health_through_edge(
    opener: urllib.request.OpenerDirector,
    public_url: str,
    health_path: str,
    *,
    timeout: float = PUBLIC_URL_TIMEOUT_SECONDS,
) -> CheckResult:
    """The API service's health path answers 200 through the edge (CloudFront to the load balancer
    to a task)."""
    url = _public(public_url, "https", health_path)

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        return status == 200, _answered(status, location)

    return _over_the_internet(public_url, url, run)


def http_redirects_to_https(
    opener: urllib.request.OpenerDirector, public_url: str, *, timeout: float = PUBLIC_URL_TIMEOUT_SECONDS
) -> CheckResult:
    """Plain ``http://`` on the same host answers a redirect to the https URL (CloudFront's
    redirect-to-https viewer policy)."""
    url, wanted = _public(public_url, "http", "/"), _public(public_url, "https", "/")

    def normal(address: str) -> tuple[str, str, str, str]:
        parts = urlsplit(address)
        return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query

    def run() -> tuple[bool, str]:
        status, location = _get(opener, url, timeout)
        if status not in REDIRECTS:
            return False, f"{_answered(status, location)}, not a redirect to {wanted}"
        if location is None or normal(location) != normal(wanted):
            return False, f"{_answered(status, location)}, not to {wanted}"
        return True, _answered(status, location)

    return _over_the_internet(public_url, url, run)


def run_all(
    clients: dict[str, Any],
    deployment: Deployment,
    *,
    log_minutes: int,
    wait: Callable[[Any, str, str], None] = wait_until_stopped,
    opener: urllib.request.OpenerDirector | None = None,
) -> list[CheckResult]:
    """Every check; ``opener`` asks the public URL (``public_opener()`` by default)."""
    ecs, results = clients["ecs"], []
    for service in deployment.services:
        results.append(service_running(ecs, deployment.cluster, service))
        if service.release is not None:
            results.append(released_revision(ecs, deployment.cluster, service))
        if service.cloud_map_service_id is not None:
            results.append(cloud_map_matches(ecs, clients["servicediscovery"], deployment.cluster, service))
        results.append(no_error_logs(clients["logs"], service, minutes=log_minutes))
        if service.target_group_arn is not None:
            results.append(targets_healthy(clients["elbv2"], service))
    results.append(prometheus_targets_up(ecs, clients["logs"], deployment.cluster, deployment.probe, wait=wait))
    opener = opener or public_opener()
    results.append(site_answers(opener, deployment.public_url))
    if deployment.api_health_path is not None:
        results.append(api_health_through_edge(opener, deployment.public_url, deployment.api_health_path))
    results.append(http_redirects_to_https(opener, deployment.public_url))
    return results
