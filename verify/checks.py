"""The checks. Each returns a result; one that cannot run says why and fails. The public URL's
are in ``verify.public_url``; ``run_all`` runs every one."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from verify.deployment import DeployedService, Deployment, TargetsProbe
from verify.public_url import api_health_through_edge, http_redirects_to_https, public_opener, site_answers
from verify.results import CheckResult, guarded

# Each term is one CloudWatch Logs filter pattern (a case-sensitive word match).
ERROR_TERMS = ("ERROR", "Error", "FATAL")


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

    return guarded("service running", service.name, run)


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

    return guarded("released image", service.name, run)


def cloud_map_matches(ecs: Any, servicediscovery: Any, cluster: str, service: DeployedService) -> CheckResult:
    def run() -> tuple[bool, str]:
        (described,) = ecs.describe_services(cluster=cluster, services=[service.service_arn])["services"]
        paginator = servicediscovery.get_paginator("list_instances")
        instances = sum(len(page["Instances"]) for page in paginator.paginate(ServiceId=service.cloud_map_service_id))
        running = described["runningCount"]
        return instances == running, f"{instances} registered, {running} running"

    return guarded("cloud map", service.name, run)


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

    return guarded("error logs", service.name, run)


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

    return guarded("load balancer", service.name, run)


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

    return guarded("prometheus targets", "prometheus", run)


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
