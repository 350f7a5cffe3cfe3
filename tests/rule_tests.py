"""``promtool test rules`` cases for every rule the spec renders (layers/observability/alert_rules.py), generated
from each service's objectives, so a service added to the spec gets its cases with no other change.

For each objective of each service: a fast burn pages (and tickets); a burn just below every page
threshold only tickets; one just below every ticket threshold is quiet; a short burst after a
clean history is quiet (the long window must burn too); and a page resolves once its short windows
are clean. The requests to the health and metrics paths fail and are slow throughout: were they
counted, the quiet cases would fire. Then each job's down alerts, the quiet alert where traffic is
expected, and the heartbeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from layers.observability.alert_rules import (
    AVAILABILITY,
    BUDGET_BURN,
    HEARTBEAT_SEVERITY,
    LATENCY,
    NO_TRAFFIC,
    SERVICE_DOWN,
    TARGET_DOWN,
    WATCHDOG,
    rule_groups,
)
from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.objectives import (
    BURN_WINDOWS,
    DURATION_METRIC,
    PAGE,
    REQUESTS_METRIC,
    TICKET,
    ObjectivesSpec,
)

PER_MINUTE = 100_000
"""Requests a minute in every case: enough that a share is exact to 1e-5."""
ROUTE = "/objective-case"
"""A route the cases' users call: neither a health nor a metrics path of any service."""


def counter(*phases: tuple[int, int]) -> str:
    """promtool's notation for a counter rising by ``per_minute`` for ``minutes``, phase by phase."""
    parts, value = ["0"], 0
    for minutes, per_minute in phases:
        parts.append(f"{value + per_minute}+{per_minute}x{minutes - 1}")
        value += minutes * per_minute
    return " ".join(parts)


def _thresholds(objectives: ObjectivesSpec, budget: float) -> dict[str, list[float]]:
    return {
        severity: [w.burn_rate(objectives.window_days) * budget for w in BURN_WINDOWS if w.severity == severity]
        for severity in (PAGE, TICKET)
    }


def _series(service: ServiceSpec, objective: str, phases: Sequence[tuple[int, float]]) -> list[dict[str, str]]:
    """The service's request series with the given share of failing (or slow) requests per phase,
    and its health and metrics paths failing and slow throughout."""
    assert service.objectives is not None
    job = f'job="{service.name}"'
    ok = [(minutes, round(PER_MINUTE * (1 - share))) for minutes, share in phases]
    bad = [(minutes, PER_MINUTE - good) for (minutes, _), (_, good) in zip(phases, ok, strict=True)]
    everything = [(minutes, PER_MINUTE) for minutes, _ in phases]
    uncounted = [p for p in (service.health_check_path, service.metrics_path) if p]
    series = []
    if objective == AVAILABILITY:
        series += [
            {"series": f'{REQUESTS_METRIC}{{{job}, route="{ROUTE}", status_code="200"}}', "values": counter(*ok)},
            {"series": f'{REQUESTS_METRIC}{{{job}, route="{ROUTE}", status_code="503"}}', "values": counter(*bad)},
        ]
        series += [
            {"series": f'{REQUESTS_METRIC}{{{job}, route="{path}", status_code="503"}}', "values": counter(*everything)}
            for path in uncounted
        ]
    else:
        le = service.objectives.latency_bucket
        series += [
            {"series": f'{DURATION_METRIC}_bucket{{{job}, route="{ROUTE}", le="{le}"}}', "values": counter(*ok)},
            {"series": f'{DURATION_METRIC}_count{{{job}, route="{ROUTE}"}}', "values": counter(*everything)},
        ]
        for path in uncounted:
            series += [
                {
                    "series": f'{DURATION_METRIC}_bucket{{{job}, route="{path}", le="{le}"}}',
                    "values": counter(*[(m, 0) for m, _ in phases]),
                },
                {"series": f'{DURATION_METRIC}_count{{{job}, route="{path}"}}', "values": counter(*everything)},
            ]
    return series


def _annotations(spec: PlatformSpec, alertname: str, labels: dict[str, str]) -> dict[str, str]:
    """The annotations of the rule that raises ``alertname`` with ``labels`` (promtool compares them
    too), with ``$labels`` expanded: the only template the rules use."""
    for group in rule_groups(spec)["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alertname and all(labels.get(k) == v for k, v in rule["labels"].items()):
                return {
                    key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], text)
                    for key, text in rule["annotations"].items()
                }
    raise AssertionError(f"no rule raises {alertname} with {labels}")


def expected(spec: PlatformSpec, alertname: str, *label_sets: dict[str, str]) -> list[dict[str, Any]]:
    """promtool's ``exp_alerts`` for those labels of ``alertname``."""
    return [{"exp_labels": labels, "exp_annotations": _annotations(spec, alertname, labels)} for labels in label_sets]


def _alerts(
    spec: PlatformSpec, service: ServiceSpec, objective: str, severities: Sequence[str]
) -> list[dict[str, Any]]:
    labels = [
        {"job": service.name, "service": service.name, "objective": objective, "severity": severity}
        for severity in severities
    ]
    return expected(spec, BUDGET_BURN[objective], *labels)


def _objective_cases(spec: PlatformSpec, service: ServiceSpec, objective: str) -> list[dict[str, Any]]:
    objectives = service.objectives
    assert objectives is not None
    budget = objectives.error_budget if objective == AVAILABILITY else objectives.latency_budget
    limits = _thresholds(objectives, budget)
    alertname = BUDGET_BURN[objective]
    fast = min(1.25 * max(limits[PAGE]), 1.0)
    burst = min(2 * max(limits[PAGE]), 1.0)
    cases = [
        # (what, the phases of (minutes, share missing the objective), when, what fires then)
        ("a fast burn pages", [(70, fast)], 65, [PAGE, TICKET]),
        ("just below every page threshold, a ticket", [(70, 0.9 * min(limits[PAGE]))], 65, [TICKET]),
        ("just below every ticket threshold, quiet", [(70, 0.9 * min(limits[TICKET]))], 65, []),
        # The long windows hold the page back; over so short a history, the slowest ticket's do not.
        ("a burst after a clean hour: no page", [(60, 0.0), (5, burst)], 64, [TICKET]),
        ("the page resolves once its short windows are clean", [(60, fast), (35, 0.0)], 94, [TICKET]),
        ("and fired while they were not", [(60, fast), (35, 0.0)], 60, [PAGE, TICKET]),
    ]
    return [
        {
            "name": f"{service.name} {objective}: {what}",
            "interval": "1m",
            "input_series": _series(service, objective, phases),
            "alert_rule_test": [
                {
                    "eval_time": f"{minute}m",
                    "alertname": alertname,
                    "exp_alerts": _alerts(spec, service, objective, fired),
                }
            ],
        }
        for what, phases, minute, fired in cases
    ]


def _down_cases(spec: PlatformSpec, job: str) -> list[dict[str, Any]]:
    down = {"job": job, "service": job, "severity": PAGE}
    one = {**down, "severity": TICKET, "instance": "a"}
    return [
        {
            "name": f"{job}: no target up pages, one target down tickets",
            "interval": "1m",
            "input_series": [
                {"series": f'up{{job="{job}", instance="a"}}', "values": "0x30"},
                {"series": f'up{{job="{job}", instance="b"}}', "values": "1x10 0x20"},
            ],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": SERVICE_DOWN, "exp_alerts": []},
                {"eval_time": "16m", "alertname": SERVICE_DOWN, "exp_alerts": expected(spec, SERVICE_DOWN, down)},
                {"eval_time": "16m", "alertname": TARGET_DOWN, "exp_alerts": expected(spec, TARGET_DOWN, one)},
            ],
        },
        {
            "name": f"{job}: no target discovered at all pages",
            "interval": "1m",
            # Each service's cases load its group alone: no other job's absence can fire here.
            "input_series": [],
            "alert_rule_test": [
                {"eval_time": "6m", "alertname": SERVICE_DOWN, "exp_alerts": expected(spec, SERVICE_DOWN, down)}
            ],
        },
    ]


def _quiet_cases(spec: PlatformSpec, service: ServiceSpec) -> list[dict[str, Any]]:
    job = f'job="{service.name}"'
    # Health checks and scrapes go on throughout: they are not traffic.
    checked = [
        {"series": f'{REQUESTS_METRIC}{{{job}, route="{path}", status_code="200"}}', "values": counter((60, 60))}
        for path in (service.health_check_path, service.metrics_path)
        if path
    ]
    up = {"series": f'up{{{job}, instance="a"}}', "values": "1x60"}
    quiet = {"job": service.name, "service": service.name, "severity": TICKET}
    return [
        {
            "name": f"{service.name}: traffic stops, where traffic is expected",
            "interval": "1m",
            "input_series": [
                {
                    "series": f'{REQUESTS_METRIC}{{{job}, route="{ROUTE}", status_code="200"}}',
                    "values": counter((10, 60), (50, 0)),
                },
                *checked,
                up,
            ],
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": NO_TRAFFIC, "exp_alerts": []},
                {"eval_time": "45m", "alertname": NO_TRAFFIC, "exp_alerts": expected(spec, NO_TRAFFIC, quiet)},
            ],
        },
        {
            "name": f"{service.name}: never asked anything, while up",
            "interval": "1m",
            "input_series": [*checked, up],
            "alert_rule_test": [
                {"eval_time": "35m", "alertname": NO_TRAFFIC, "exp_alerts": expected(spec, NO_TRAFFIC, quiet)}
            ],
        },
    ]


def rule_tests(spec: PlatformSpec) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """promtool's test files for ``spec``'s rules: by file stem, the rules file's content (that
    service's group alone, which keeps each case's evaluations few) and the test file's."""
    groups = {group["name"]: group for group in rule_groups(spec)["groups"]}
    files: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for service in spec.scraped_services:
        tests: list[dict[str, Any]] = []
        if service.objectives is not None:
            tests += _objective_cases(spec, service, AVAILABILITY) + _objective_cases(spec, service, LATENCY)
            if service.objectives.expects_traffic:
                tests += _quiet_cases(spec, service)
        tests += _down_cases(spec, service.name)
        files[service.name] = ({"groups": [groups[f"service-{service.name}"]]}, {"tests": tests})
    heartbeat = {
        "name": "the heartbeat always fires",
        "interval": "1m",
        "input_series": [],
        "alert_rule_test": [
            {
                "eval_time": "1m",
                "alertname": WATCHDOG,
                "exp_alerts": expected(spec, WATCHDOG, {"severity": HEARTBEAT_SEVERITY}),
            }
        ],
    }
    files["heartbeat"] = ({"groups": [groups["heartbeat"]]}, {"tests": [heartbeat]})
    return {
        stem: (rules, {"rule_files": [f"{stem}.rules.yml"], "evaluation_interval": "1m", **tests})
        for stem, (rules, tests) in files.items()
    }
