"""The services' dashboards: ``services.json``, per service with objectives its request rate,
errors and latency against the objectives and the error budget left; ``calls.json``, per call
the spec names, the caller's view of it beside the callee's own."""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from layers.observability.dashboard_builder import (
    RATE_WINDOW,
    Board,
    Panel,
    Query,
    matchers,
    stat_panel,
    timeseries_panel,
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

CLIENT_METRIC = "http_client_request_duration_seconds"
"""The caller's histogram of its requests to other services, labelled ``target`` (the callee's
name) and ``outcome`` (``ok`` or ``error``)."""
CALL_QUANTILE = 0.95


def services_board(spec: PlatformSpec) -> Board:
    """``services.json``: a row per service with objectives."""
    board = Board(spec, name="services", subject="services")
    for service in spec.services:
        if service.objectives is not None:
            board.row(f"{service.name} ({service.kind})", _objective_panels(service, service.objectives))
    return board


def _objective_panels(service: ServiceSpec, objectives: ObjectivesSpec) -> list[Panel]:
    name, job = service.name, matchers(job=service.name)
    longest = ratio_windows()[-1]
    # The page's windows: what an alert that wakes someone looks at.
    shown = (BURN_WINDOWS[0].short, BURN_WINDOWS[0].long)
    threshold = f"{objectives.latency_threshold_seconds:g} s"
    over = f"over {objectives.window_days} days"
    return [
        stat_panel(
            f"{name}: availability, last {longest}",
            Query(f"1 - {error_ratio(longest)}{job}", "availability"),
            unit=units.PercentUnit,
            threshold=objectives.availability_percent / 100,
            description=f"Objective: {objectives.availability_percent:g} % of requests answered without a 5xx {over}.",
        ),
        stat_panel(
            f"{name}: availability budget left",
            Query(f"{AVAILABILITY_BUDGET_LEFT}{job}", "budget left"),
            unit=units.PercentUnit,
            threshold=0,
            description=f"The share of the {objectives.error_budget * 100:g} % of requests that may fail {over} "
            "still unspent.",
        ),
        stat_panel(
            f"{name}: within {threshold}, last {longest}",
            Query(f"1 - {slow_ratio(longest)}{job}", f"within {threshold}"),
            unit=units.PercentUnit,
            threshold=objectives.latency_percent / 100,
            description=f"Objective: {objectives.latency_percent:g} % of requests answered within {threshold} {over}.",
        ),
        stat_panel(
            f"{name}: latency budget left",
            Query(f"{LATENCY_BUDGET_LEFT}{job}", "budget left"),
            unit=units.PercentUnit,
            threshold=0,
            description=f"The share of the {objectives.latency_budget * 100:g} % of requests that may be slow {over} "
            "still unspent.",
        ),
        timeseries_panel(
            f"{name}: request rate",
            [Query(f"{REQUEST_RATE}{job}", "requests")],
            unit=units.RequestsPerSecond,
            description="Requests answered, its health and metrics paths not counted.",
        ),
        timeseries_panel(
            f"{name}: error ratio",
            [Query(f"{error_ratio(window)}{job}", f"5xx, {window}") for window in shown],
            unit=units.PercentUnit,
            bad_above=objectives.error_budget,
            description="The share answered with a 5xx; the line is the error budget.",
        ),
        timeseries_panel(
            f"{name}: latency",
            [Query(f"{latency_quantile(q)}{job}", f"p{round(q * 100)}") for q in LATENCY_QUANTILES],
            unit=units.Seconds,
            bad_above=objectives.latency_threshold_seconds,
            description="Quantiles of the time to answer; the line is the objective's threshold.",
        ),
        timeseries_panel(
            f"{name}: slower than {threshold}",
            [Query(f"{slow_ratio(window)}{job}", f"slow, {window}") for window in shown],
            unit=units.PercentUnit,
            bad_above=objectives.latency_budget,
            description="The share answered after the threshold; the line is the latency budget.",
        ),
    ]


def calls_board(spec: PlatformSpec) -> Board:
    """``calls.json``: a row per call the spec names (no panel where no service calls another)."""
    board = Board(spec, name="calls", subject="calls between services")
    for caller in spec.services:
        for callee in (spec.service(name) for name in caller.calls):
            panels = _call_panels(caller, callee)
            if panels:
                board.row(f"{caller.name} → {callee.name}", panels)
    return board


def _call_panels(caller: ServiceSpec, callee: ServiceSpec) -> list[Panel]:
    """The caller's view of its calls (where Prometheus scrapes it) beside the callee's recorded
    view of every request it answers (where it has objectives, hence recorded series)."""
    rate: list[Query] = []
    errors: list[Query] = []
    latency: list[Query] = []
    if caller.scraped:
        sent = matchers(job=caller.name, target=callee.name)
        failed = matchers(job=caller.name, target=callee.name, outcome="error")
        count = f"{CLIENT_METRIC}_count"
        rate.append(Query(f"sum by (outcome) (rate({count}{sent}[{RATE_WINDOW}]))", f"{caller.name}: {{{{outcome}}}}"))
        errors.append(
            Query(
                f"sum(rate({count}{failed}[{RATE_WINDOW}])) / sum(rate({count}{sent}[{RATE_WINDOW}]))",
                f"{caller.name}: failed",
            )
        )
        latency.append(
            Query(
                f"histogram_quantile({CALL_QUANTILE}, sum by (le) (rate({CLIENT_METRIC}_bucket{sent}[{RATE_WINDOW}])))",
                f"{caller.name}: p{round(CALL_QUANTILE * 100)}",
            )
        )
    if callee.objectives is not None:
        answered = matchers(job=callee.name)
        rate.append(Query(f"{REQUEST_RATE}{answered}", f"{callee.name}: answered, every caller"))
        errors.append(Query(f"{error_ratio(RATE_WINDOW)}{answered}", f"{callee.name}: 5xx, every caller"))
        if CALL_QUANTILE in LATENCY_QUANTILES:
            latency.append(
                Query(
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
        timeseries_panel(title, queries, unit=unit, description=description, width=8)
        for title, queries, unit, description in panels
        if queries
    ]
