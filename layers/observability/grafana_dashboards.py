"""Grafana's dashboards, generated from the spec with Grafana's own builder (grafana-foundation-sdk).

Four dashboards, each a JSON model for Grafana's file provisioning (``dashboards()``):

- ``services.json``: per service with objectives, its request rate, errors and latency, the
  objectives themselves (as thresholds) and the error budget left, read from the series the rules
  record (``platform_spec/objectives.py``);
- ``calls.json``: per call the spec names (``ServiceSpec.calls``), the caller's view of it beside
  the callee's own (no such file where no service calls another);
- ``saturation.json``: CPU, memory, the Node.js event loop and heap, and database pools, by job;
- ``monitoring.json``: Prometheus and Alertmanager themselves, and the alerts firing.

Every query is plain PromQL, with no template variable, so a test can send it to Prometheus as it is
(``panel_queries()``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, units
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.objectives import (
    AVAILABILITY_BUDGET_LEFT,
    BURN_WINDOWS,
    LATENCY_BUDGET_LEFT,
    LATENCY_QUANTILES,
    REQUEST_RATE,
    ObjectivesSpec,
    error_ratio,
    latency_quantile,
    ratio_windows,
    slow_ratio,
)

DATASOURCE_UID = "prometheus"
"""The provisioned Prometheus data source's uid (assets/grafana/datasources.yml.j2)."""
REFRESH = "30s"
TIME_FROM = "now-6h"
UID_MAX_LENGTH = 40
"""Grafana refuses a longer dashboard uid."""

CLIENT_METRIC = "http_client_request_duration_seconds"
"""The caller's histogram of its requests to other services, labelled ``target`` (the callee's
name) and ``outcome`` (``ok`` or ``error``)."""
CALL_QUANTILE = 0.95
RATE_WINDOW = BURN_WINDOWS[0].short
"""5m: the window of the recorded request rate and quantiles; raw rates take it too, so a caller's
view and the callee's compare."""
POOL_STATES = ("in_use", "idle", "waiting")

_DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
_Panel = timeseries.Panel | stat.Panel


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, as Grafana would send it to the data source."""

    dashboard: str
    """The dashboard's title."""
    panel: str
    """The panel's title."""
    expr: str
    """The PromQL expression."""
    datasource_uid: str | None
    """The query's data source (its panel's where the query names none); ``None``: Grafana's default."""


@dataclass(frozen=True)
class _Query:
    expr: str
    legend: str


def dashboards(spec: PlatformSpec, *, alertmanager_job: str) -> dict[str, dict[str, Any]]:
    """Every dashboard of ``spec``: file name -> JSON model (plain data, ready for ``json.dumps``).

    ``alertmanager_job`` is the scrape job of the Alertmanager the platform's Prometheus notifies."""
    if not alertmanager_job:
        raise ValueError("alertmanager_job: name the Alertmanager's scrape job")
    built = {
        "services.json": _services(spec),
        "calls.json": _calls(spec),
        "saturation.json": _saturation(spec),
        "monitoring.json": _monitoring(spec, alertmanager_job=alertmanager_job),
    }
    # A platform whose services call none another has no calls to show: no empty dashboard.
    built = {name: board for name, board in built.items() if board.build().panels}
    # Through JSON and back: plain dicts and lists, whatever the SDK's classes are.
    return {name: json.loads(json.dumps(board.build(), cls=JSONEncoder)) for name, board in built.items()}


def panel_queries(model: dict[str, Any]) -> list[PanelQuery]:
    """Every query of every panel of the dashboard ``model``, in the panels' order, those inside a
    (collapsed) row included."""
    return [
        PanelQuery(
            dashboard=model["title"],
            panel=panel["title"],
            expr=target["expr"],
            datasource_uid=(target.get("datasource") or panel.get("datasource") or {}).get("uid"),
        )
        for panel in _panels(model.get("panels", []))
        for target in panel.get("targets", [])
    ]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        # A collapsed row holds its panels; an expanded one is followed by them.
        yield from _panels(panel.get("panels", []))


class _Board:
    """A dashboard under construction: its panels numbered in order (unique within a dashboard)."""

    def __init__(self, spec: PlatformSpec, *, name: str, subject: str) -> None:
        tags = [spec.project, spec.environment]
        self.builder = (
            dashboard_builders.Dashboard(f"{spec.project} {spec.environment}: {subject}")
            .uid(_uid(spec, name))
            .tags(tags)
            .refresh(REFRESH)
            .time(TIME_FROM, "now")
            .tooltip(DashboardCursorSync.CROSSHAIR)
            # Provisioned with allowUiUpdates: false, so Grafana could not save an edit anyway.
            .readonly()
            .link(
                dashboard_builders.DashboardLink(f"{spec.project} {spec.environment}")
                .type(DashboardLinkType.DASHBOARDS)
                .tags(tags)
                .as_dropdown(True)
                .keep_time(True)
            )
        )
        self._ids = itertools.count(1)

    def row(self, title: str, panels: Sequence[_Panel]) -> None:
        self.builder.with_row(dashboard_builders.Row(title).id(next(self._ids)))
        for panel in panels:
            self.builder.with_panel(panel.id(next(self._ids)))

    def build(self) -> Dashboard:
        return self.builder.build()


def _uid(spec: PlatformSpec, name: str) -> str:
    """``dev-davidshaevel-services``; cut, with a digest of the whole, where that is too long."""
    uid = f"{spec.stack_prefix}-{name}"
    if len(uid) <= UID_MAX_LENGTH:
        return uid
    digest = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return f"{spec.stack_prefix[: UID_MAX_LENGTH - len(digest) - len(name) - 2]}-{digest}-{name}"


def _matchers(**labels: str | tuple[str, ...]) -> str:
    """``{job="backend"}``; a tuple of values matches any of them (``job=~"backend|frontend"``)."""
    parts = [
        # Tuples hold service names (DNS labels) and pool states: no character of a regular
        # expression among them but '-', which is literal outside brackets.
        f"{label}=~{json.dumps('|'.join(value))}" if isinstance(value, tuple) else f"{label}={json.dumps(value)}"
        for label, value in labels.items()
    ]
    return "{" + ", ".join(parts) + "}"


def _names(services: Sequence[ServiceSpec]) -> tuple[str, ...]:
    return tuple(service.name for service in services)


def _thresholds(value: float, *, good_above: bool) -> dashboard_builders.ThresholdsConfig:
    below, above = ("red", "green") if good_above else ("green", "red")
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=None, color=below), Threshold(value=value, color=above)])
    )


def _target(query: _Query, index: int, *, instant: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(chr(ord("A") + index))
        .datasource(_DATASOURCE)
    )
    return target.instant() if instant else target.range()


def _timeseries(
    title: str,
    queries: Sequence[_Query],
    *,
    unit: str,
    description: str,
    bad_above: float | None = None,
    width: int = 12,
) -> timeseries.Panel:
    """A graph of ``queries``; ``bad_above`` draws that value as a dashed line."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .unit(unit)
        .min(0)
        .span(width)
        .height(8)
    )
    for index, query in enumerate(queries):
        panel.with_target(_target(query, index, instant=False))
    if bad_above is not None:
        panel.thresholds(_thresholds(bad_above, good_above=False)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return panel


def _stat(
    title: str,
    query: _Query,
    *,
    unit: str,
    description: str,
    threshold: float,
    higher_is_better: bool = True,
    width: int = 6,
) -> stat.Panel:
    """The latest value of ``query``, green or red on either side of ``threshold``."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .unit(unit)
        .span(width)
        .height(4)
        .with_target(_target(query, 0, instant=True))
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .graph_mode(common.BigValueGraphMode.NONE)
        .thresholds(_thresholds(threshold, good_above=higher_is_better))
    )


def _services(spec: PlatformSpec) -> _Board:
    board = _Board(spec, name="services", subject="services")
    for service in spec.services:
        if service.objectives is not None:
            board.row(f"{service.name} ({service.kind})", _objective_panels(service, service.objectives))
    return board


def _objective_panels(service: ServiceSpec, objectives: ObjectivesSpec) -> list[_Panel]:
    name, job = service.name, _matchers(job=service.name)
    longest = ratio_windows()[-1]
    # The page's windows: what an alert that wakes someone looks at.
    shown = (BURN_WINDOWS[0].short, BURN_WINDOWS[0].long)
    threshold = f"{objectives.latency_threshold_seconds:g} s"
    over = f"over {objectives.window_days} days"
    return [
        _stat(
            f"{name}: availability, last {longest}",
            _Query(f"1 - {error_ratio(longest)}{job}", "availability"),
            unit=units.PercentUnit,
            threshold=objectives.availability_percent / 100,
            description=f"Objective: {objectives.availability_percent:g} % of requests answered without a 5xx {over}.",
        ),
        _stat(
            f"{name}: availability budget left",
            _Query(f"{AVAILABILITY_BUDGET_LEFT}{job}", "budget left"),
            unit=units.PercentUnit,
            threshold=0,
            description=f"The share of the {objectives.error_budget * 100:g} % of requests that may fail {over} "
            "still unspent.",
        ),
        _stat(
            f"{name}: within {threshold}, last {longest}",
            _Query(f"1 - {slow_ratio(longest)}{job}", f"within {threshold}"),
            unit=units.PercentUnit,
            threshold=objectives.latency_percent / 100,
            description=f"Objective: {objectives.latency_percent:g} % of requests answered within {threshold} {over}.",
        ),
        _stat(
            f"{name}: latency budget left",
            _Query(f"{LATENCY_BUDGET_LEFT}{job}", "budget left"),
            unit=units.PercentUnit,
            threshold=0,
            description=f"The share of the {objectives.latency_budget * 100:g} % of requests that may be slow {over} "
            "still unspent.",
        ),
        _timeseries(
            f"{name}: request rate",
            [_Query(f"{REQUEST_RATE}{job}", "requests")],
            unit=units.RequestsPerSecond,
            description="Requests answered, its health and metrics paths not counted.",
        ),
        _timeseries(
            f"{name}: error ratio",
            [_Query(f"{error_ratio(window)}{job}", f"5xx, {window}") for window in shown],
            unit=units.PercentUnit,
            bad_above=objectives.error_budget,
            description="The share answered with a 5xx; the line is the error budget.",
        ),
        _timeseries(
            f"{name}: latency",
            [_Query(f"{latency_quantile(q)}{job}", f"p{round(q * 100)}") for q in LATENCY_QUANTILES],
            unit=units.Seconds,
            bad_above=objectives.latency_threshold_seconds,
            description="Quantiles of the time to answer; the line is the objective's threshold.",
        ),
        _timeseries(
            f"{name}: slower than {threshold}",
            [_Query(f"{slow_ratio(window)}{job}", f"slow, {window}") for window in shown],
            unit=units.PercentUnit,
            bad_above=objectives.latency_budget,
            description="The share answered after the threshold; the line is the latency budget.",
        ),
    ]


def _calls(spec: PlatformSpec) -> _Board:
    board = _Board(spec, name="calls", subject="calls between services")
    for caller in spec.services:
        for callee in (spec.service(name) for name in caller.calls):
            panels = _call_panels(caller, callee)
            if panels:
                board.row(f"{caller.name} → {callee.name}", panels)
    return board


def _call_panels(caller: ServiceSpec, callee: ServiceSpec) -> list[_Panel]:
    """The caller's view of its calls (where Prometheus scrapes it) beside the callee's recorded
    view of every request it answers (where it has objectives, hence recorded series)."""
    rate: list[_Query] = []
    errors: list[_Query] = []
    latency: list[_Query] = []
    if caller.scraped:
        sent = _matchers(job=caller.name, target=callee.name)
        failed = _matchers(job=caller.name, target=callee.name, outcome="error")
        count = f"{CLIENT_METRIC}_count"
        rate.append(_Query(f"sum by (outcome) (rate({count}{sent}[{RATE_WINDOW}]))", f"{caller.name}: {{{{outcome}}}}"))
        errors.append(
            _Query(
                f"sum(rate({count}{failed}[{RATE_WINDOW}])) / sum(rate({count}{sent}[{RATE_WINDOW}]))",
                f"{caller.name}: failed",
            )
        )
        latency.append(
            _Query(
                f"histogram_quantile({CALL_QUANTILE}, sum by (le) (rate({CLIENT_METRIC}_bucket{sent}[{RATE_WINDOW}])))",
                f"{caller.name}: p{round(CALL_QUANTILE * 100)}",
            )
        )
    if callee.objectives is not None:
        answered = _matchers(job=callee.name)
        rate.append(_Query(f"{REQUEST_RATE}{answered}", f"{callee.name}: answered, every caller"))
        errors.append(_Query(f"{error_ratio(RATE_WINDOW)}{answered}", f"{callee.name}: 5xx, every caller"))
        if CALL_QUANTILE in LATENCY_QUANTILES:
            latency.append(
                _Query(
                    f"{latency_quantile(CALL_QUANTILE)}{answered}",
                    f"{callee.name}: p{round(CALL_QUANTILE * 100)}, every caller",
                )
            )
    edge = f"{caller.name} → {callee.name}"
    panels = (
        (f"{edge}: request rate", rate, units.RequestsPerSecond, "Calls by outcome, as the caller counts them."),
        (f"{edge}: errors", errors, units.PercentUnit, "The share of calls failing, at either end."),
        (
            f"{edge}: latency p{round(CALL_QUANTILE * 100)}",
            latency,
            units.Seconds,
            "Time to answer, network included on the caller's side.",
        ),
    )
    return [
        _timeseries(title, queries, unit=unit, description=description, width=8)
        for title, queries, unit, description in panels
        if queries
    ]


def _saturation(spec: PlatformSpec) -> _Board:
    board = _Board(spec, name="saturation", subject="saturation")
    jobs = _matchers(job=_names(spec.scraped_services))
    by_job = "{{job}}"
    board.row(
        "CPU and memory",
        [
            _timeseries(
                "CPU, busiest task",
                [_Query(f"max by (job) (rate(process_cpu_seconds_total{jobs}[{RATE_WINDOW}]))", by_job)],
                unit=units.PercentUnit,
                description="CPU time per second of the busiest task of each service: 100 % is one vCPU.",
            ),
            _timeseries(
                "resident memory, largest task",
                [_Query(f"max by (job) (process_resident_memory_bytes{jobs})", by_job)],
                unit=units.BytesIEC,
                description="Memory the largest task of each service holds.",
            ),
        ],
    )
    board.row(
        "Node.js",
        [
            _timeseries(
                "event-loop lag p99, worst task",
                [_Query(f"max by (job) (nodejs_eventloop_lag_p99_seconds{jobs})", by_job)],
                unit=units.Seconds,
                description="How late the event loop runs callbacks: work waiting behind work.",
            ),
            _timeseries(
                "heap used, largest task",
                [_Query(f"max by (job) (nodejs_heap_size_used_bytes{jobs})", by_job)],
                unit=units.BytesIEC,
                description="V8's heap in use.",
            ),
        ],
    )
    pooled = [service for service in spec.scraped_services if service.uses_database]
    if pooled:
        states = _matchers(job=_names(pooled), state=POOL_STATES)
        board.row(
            "database pool",
            [
                _timeseries(
                    "database pool connections",
                    [_Query(f"sum by (job, state) (db_pool_connections{states})", "{{job}}: {{state}}")],
                    unit=units.Short,
                    description="Connections in use, idle, and requests waiting for one.",
                    width=24,
                )
            ],
        )
    return board


def _monitoring(spec: PlatformSpec, *, alertmanager_job: str) -> _Board:
    board = _Board(spec, name="monitoring", subject="Prometheus and Alertmanager")
    prometheus_job = _matchers(job=spec.prometheus.name)
    alertmanager = _matchers(job=alertmanager_job)
    firing = _matchers(alertstate="firing")

    def up(job: str) -> _Query:
        return _Query(f"sum(up{_matchers(job=job)}) or vector(0)", "targets up")

    board.row(
        "up",
        [
            _stat(
                f"{name} up",
                up(name),
                unit=units.Short,
                threshold=1,
                description="Targets of the job that answered their last scrape (0: none, or none found).",
                width=8,
            )
            for name in (spec.prometheus.name, alertmanager_job)
        ]
        + [
            _stat(
                "services: targets up",
                _Query(f"sum by (job) (up{_matchers(job=_names(spec.scraped_services))})", "{{job}}"),
                unit=units.Short,
                threshold=1,
                description="Tasks of each scraped service that answered their last scrape.",
                width=8,
            )
        ],
    )
    per_5m = f"per {RATE_WINDOW}"
    board.row(
        spec.prometheus.name,
        [
            _timeseries(
                f"rule evaluation failures, {per_5m}",
                [
                    _Query(
                        f"sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total{prometheus_job}"
                        f"[{RATE_WINDOW}]))",
                        "{{rule_group}}",
                    )
                ],
                unit=units.Short,
                bad_above=1,
                description="Recording and alerting rules that failed to evaluate.",
                width=8,
            ),
            _timeseries(
                f"notifications dropped, {per_5m}",
                [
                    _Query(
                        f"sum(increase(prometheus_notifications_dropped_total{prometheus_job}[{RATE_WINDOW}]))",
                        "dropped",
                    )
                ],
                unit=units.Short,
                bad_above=1,
                description="Alerts Prometheus could not hand to Alertmanager.",
                width=8,
            ),
            _timeseries(
                "notification queue",
                [
                    _Query(f"sum(prometheus_notifications_queue_length{prometheus_job})", "queued"),
                    _Query(f"sum(prometheus_notifications_queue_capacity{prometheus_job})", "capacity"),
                ],
                unit=units.Short,
                description="Alerts waiting to be sent to Alertmanager, against the queue's size.",
                width=8,
            ),
        ],
    )
    board.row(
        alertmanager_job,
        [
            _timeseries(
                f"notifications sent, {per_5m}",
                [
                    _Query(
                        f"sum by (integration) (increase(alertmanager_notifications_total{alertmanager}"
                        f"[{RATE_WINDOW}]))",
                        "{{integration}}",
                    )
                ],
                unit=units.Short,
                description="Notifications Alertmanager sent, by integration (email, SNS, ...).",
            ),
            _timeseries(
                f"notifications failed, {per_5m}",
                [
                    _Query(
                        f"sum by (integration) (increase(alertmanager_notifications_failed_total{alertmanager}"
                        f"[{RATE_WINDOW}]))",
                        "{{integration}}",
                    )
                ],
                unit=units.Short,
                bad_above=1,
                description="Notifications that did not reach their receiver.",
            ),
        ],
    )
    board.row(
        "alerts",
        [
            _stat(
                "firing now",
                _Query(f"count(ALERTS{firing}) or vector(0)", "firing"),
                unit=units.Short,
                threshold=1,
                higher_is_better=False,
                description="Alerts firing now, every severity.",
            ),
            _timeseries(
                "firing alerts by severity",
                [_Query(f"count by (severity) (ALERTS{firing})", "{{severity}}")],
                unit=units.Short,
                description="Alerts firing, by severity (page, ticket).",
                width=18,
            ),
        ],
    )
    return board
