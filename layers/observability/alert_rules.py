"""Prometheus's rules, rendered from the spec: what it records per service, and when it alerts.

Per service with objectives (``platform_spec/objectives.py``): its request rate, error and slow
ratios over every burn window, latency quantiles and error budget left (recording rules); and an
alert per objective and severity, by the SRE workbook's multi-window, multi-burn-rate method.
Per scraped job: an alert when none of its targets is up, and a ticket when one target stays
down. A service whose objectives expect traffic gets a ticket when it has none. And ``Watchdog``,
always firing, is the heartbeat the alert path is watched by (``layers/observability/alertmanager_config.py``).

Built as data and written with PyYAML: the rules are expressions, not a template's text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.objectives import (
    AVAILABILITY_BUDGET_LEFT,
    BURN_WINDOWS,
    DURATION_METRIC,
    LATENCY_BUDGET_LEFT,
    LATENCY_QUANTILES,
    PAGE,
    REQUEST_RATE,
    REQUESTS_METRIC,
    ROUTE_LABEL,
    STATUS_LABEL,
    TICKET,
    ObjectivesSpec,
    error_ratio,
    latency_quantile,
    ratio_windows,
    slow_ratio,
)

AVAILABILITY = "availability"
LATENCY = "latency"
WATCHDOG = "Watchdog"
"""Always firing: Alertmanager sends it on as the heartbeat (docs/operations.md, "Alerts")."""
HEARTBEAT_SEVERITY = "heartbeat"
SERVICE_DOWN = "ServiceDown"
TARGET_DOWN = "TargetDown"
NO_TRAFFIC = "NoTraffic"
BUDGET_BURN = {AVAILABILITY: "AvailabilityBudgetBurn", LATENCY: "LatencyBudgetBurn"}
"""The alert per objective; its ``severity`` label says page or ticket."""
DOWN_FOR = "5m"
"""How long no target of a job may be up before the page: a task ECS replaces is back sooner."""
TARGET_DOWN_FOR = "15m"
QUIET_FOR = "15m"
"""How long a service that expects traffic may answer none."""


def counted(service: ServiceSpec) -> str:
    """The label matchers of the requests that count: the service's own, except its health
    checks and scrapes (a raw string, so the paths need no escaping beyond the regex's)."""
    uncounted = "|".join(re.escape(path) for path in (service.health_check_path, service.metrics_path) if path)
    return f'job="{service.name}", {ROUTE_LABEL}!~`{uncounted}`'


def _requests(service: ServiceSpec, window: str, *extra: str) -> str:
    matchers = ", ".join((counted(service), *extra))
    return f"sum by (job) (rate({REQUESTS_METRIC}{{{matchers}}}[{window}]))"


def _durations(service: ServiceSpec, window: str, series: str, *extra: str) -> str:
    matchers = ", ".join((counted(service), *extra))
    return f"sum by (job) (rate({DURATION_METRIC}_{series}{{{matchers}}}[{window}]))"


def _recordings(service: ServiceSpec, objectives: ObjectivesSpec) -> list[dict[str, Any]]:
    job = f'{{job="{service.name}"}}'
    failed, fast = f"{STATUS_LABEL}=~`5..`", f'le="{objectives.latency_bucket}"'
    rules: list[dict[str, Any]] = [{"record": REQUEST_RATE, "expr": _requests(service, "5m")}]
    for window in ratio_windows():
        # "> 0": no sample at all where nothing was asked, rather than 0/0 = NaN, which would
        # poison every average over the window that contains it.
        rules.append(
            {
                "record": error_ratio(window),
                "expr": f"{_requests(service, window, failed)} / ({_requests(service, window)} > 0)",
            }
        )
        rules.append(
            {
                "record": slow_ratio(window),
                "expr": f"1 - {_durations(service, window, 'bucket', fast)}"
                f" / ({_durations(service, window, 'count')} > 0)",
            }
        )
    for quantile in LATENCY_QUANTILES:
        buckets = f"{DURATION_METRIC}_bucket{{{counted(service)}}}"
        rules.append(
            {
                "record": latency_quantile(quantile),
                "expr": f"histogram_quantile({quantile}, sum by (job, le) (rate({buckets}[5m])))",
            }
        )
    # The budget left: one minus the average share of failures over the objectives' window (the
    # average of the 5-minute ratios, so quiet minutes weigh nothing), over the budget.
    window = f"{objectives.window_days}d"
    for record, ratio, budget in (
        (AVAILABILITY_BUDGET_LEFT, error_ratio("5m"), objectives.error_budget),
        (LATENCY_BUDGET_LEFT, slow_ratio("5m"), objectives.latency_budget),
    ):
        rules.append({"record": record, "expr": f"1 - avg_over_time({ratio}{job}[{window}]) / {budget:g}"})
    # Each series also says its service: the same record names recur in every service's group.
    return [{**rule, "labels": {"service": service.name}} for rule in rules]


def _burn_alerts(service: ServiceSpec, objectives: ObjectivesSpec) -> list[dict[str, Any]]:
    job = f'{{job="{service.name}"}}'
    alerts = []
    for objective, ratio, budget, target in (
        (
            AVAILABILITY,
            error_ratio,
            objectives.error_budget,
            f"{objectives.availability_percent:g}% of requests without a 5xx",
        ),
        (
            LATENCY,
            slow_ratio,
            objectives.latency_budget,
            f"{objectives.latency_percent:g}% of requests within {objectives.latency_threshold_seconds:g}s",
        ),
    ):
        for severity in (PAGE, TICKET):
            conditions = [
                f"({ratio(w.long)}{job} > {w.burn_rate(objectives.window_days) * budget:.6g}"
                f" and {ratio(w.short)}{job} > {w.burn_rate(objectives.window_days) * budget:.6g})"
                for w in BURN_WINDOWS
                if w.severity == severity
            ]
            spent = " or ".join(
                f"{w.budget_share:.0%} of its budget in {w.long}" for w in BURN_WINDOWS if w.severity == severity
            )
            alerts.append(
                {
                    "alert": BUDGET_BURN[objective],
                    "expr": " or ".join(conditions),
                    "labels": {"severity": severity, "service": service.name, "objective": objective},
                    "annotations": {
                        "summary": f"{service.name} is spending its {objective} error budget too fast",
                        "description": (
                            f"Objective: {target} over {objectives.window_days} days. At this rate it would "
                            f"spend more than {spent}. Its dashboard shows how much is left."
                        ),
                    },
                }
            )
    return alerts


def _job_alerts(service: ServiceSpec) -> list[dict[str, Any]]:
    """No target of the service's job up (a page), or one target down for long (a ticket)."""
    job = service.name
    return [
        {
            "alert": SERVICE_DOWN,
            # A service at min_tasks 0 has no target while idle, by design: only targets that
            # answer nothing page.
            "expr": f'sum by (job) (up{{job="{job}"}}) == 0'
            + ("" if service.min_tasks == 0 else f' or absent(up{{job="{job}"}})'),
            "for": DOWN_FOR,
            "labels": {"severity": PAGE, "service": job},
            "annotations": {
                "summary": f"no target of {job} has answered Prometheus for {DOWN_FOR}",
                "description": "Prometheus finds no task of it in Cloud Map, or none answers its scrapes.",
            },
        },
        {
            "alert": TARGET_DOWN,
            "expr": f'up{{job="{job}"}} == 0',
            "for": TARGET_DOWN_FOR,
            "labels": {"severity": TICKET, "service": job},
            "annotations": {
                "summary": f"a target of {job} has not answered Prometheus for {TARGET_DOWN_FOR}",
                "description": "{{ $labels.instance }} is listed in Cloud Map but does not answer its scrapes.",
            },
        },
    ]


def _quiet_alert(service: ServiceSpec) -> dict[str, Any]:
    return {
        "alert": NO_TRAFFIC,
        # A task that was never asked anything has no series of counted requests at all: while
        # its job is scraped, that is no traffic too.
        "expr": f'({_requests(service, QUIET_FOR)} or sum by (job) (up{{job="{service.name}"}}) * 0) == 0',
        "for": QUIET_FOR,
        "labels": {"severity": TICKET, "service": service.name},
        "annotations": {
            "summary": f"{service.name} has answered no requests for {QUIET_FOR}",
            "description": "Its objectives expect traffic: is anything still routed to it?",
        },
    }


def rule_groups(spec: PlatformSpec) -> dict[str, Any]:
    """The rules file's content: one group per scraped service, and the heartbeat. Prometheus and
    Alertmanager are not watched from here (neither could tell of its own fall): CloudWatch's
    alarm on Prometheus's task count and the heartbeat's alarm watch them."""
    groups: list[dict[str, Any]] = []
    for service in spec.scraped_services:
        rules: list[dict[str, Any]] = []
        if service.objectives is not None:
            rules += _recordings(service, service.objectives) + _burn_alerts(service, service.objectives)
            if service.objectives.expects_traffic:
                rules.append(_quiet_alert(service))
        rules += _job_alerts(service)
        groups.append({"name": f"service-{service.name}", "rules": rules})
    watchdog = {
        "alert": WATCHDOG,
        "expr": "vector(1)",
        "labels": {"severity": HEARTBEAT_SEVERITY},
        "annotations": {
            "summary": "always firing: the heartbeat of the alert path",
            "description": "Alertmanager sends it to the heartbeat topic; an alarm fires when it stops.",
        },
    }
    groups.append({"name": "heartbeat", "rules": [watchdog]})
    return {"groups": groups}


def render_rules(spec: PlatformSpec) -> str:
    """``rules.yml``, as Prometheus loads it (``rule_files`` in its configuration)."""
    header = (
        "# Rendered at synth from the platform spec (layers/observability/alert_rules.py); "
        "edit the spec, not this file.\n"
    )
    body: str = yaml.safe_dump(rule_groups(spec), sort_keys=False, width=4096)
    return header + body
