"""The Grafana dashboards generated from the spec (layers/observability/grafana_dashboards.py), held to what
they must show for any spec: the shipped dev profile and the variant with a service of every kind.
Every expectation is read from the spec under test, and every query is parsed by Prometheus's own
parser (promtool). The checks are functions, each also shown to fail on a broken dashboard."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from layers.observability.dashboard_builder import DATASOURCE_UID
from layers.observability.grafana_dashboards import PanelQuery, dashboards, panel_queries
from layers.observability.operations_dashboards import POOL_STATES
from layers.observability.service_dashboards import CLIENT_METRIC
from platform_spec import ObjectivesSpec, PlatformSpec, ServiceSpec
from platform_spec.objectives import (
    AVAILABILITY_BUDGET_LEFT,
    LATENCY_BUDGET_LEFT,
    LATENCY_QUANTILES,
    REQUEST_RATE,
    error_ratio,
    latency_quantile,
    ratio_windows,
    slow_ratio,
)
from platform_spec.profiles import dev
from tests.picking import first
from tests.variants import every_kind_variant

Model = dict[str, Any]
Boards = dict[str, Model]

ALERTMANAGER_JOB = "alertmanager-under-test"
"""The test's own name for the Alertmanager job the dashboards are given."""
SPECS: dict[str, Callable[[], PlatformSpec]] = {"dev": dev, "every kind": lambda: every_kind_variant(dev())}
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

ERROR_RATIOS = {error_ratio(window) for window in ratio_windows()}
SLOW_RATIOS = {slow_ratio(window) for window in ratio_windows()}
QUANTILES = {latency_quantile(q) for q in LATENCY_QUANTILES}
RECORDED = {REQUEST_RATE, AVAILABILITY_BUDGET_LEFT, LATENCY_BUDGET_LEFT} | ERROR_RATIOS | SLOW_RATIOS | QUANTILES
SATURATION = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "nodejs_eventloop_lag_p99_seconds",
    "nodejs_heap_size_used_bytes",
)


@pytest.fixture(params=list(SPECS))
def spec(request: pytest.FixtureRequest) -> PlatformSpec:
    return SPECS[request.param]()


def _boards(spec: PlatformSpec) -> Boards:
    return dashboards(spec, alertmanager_job=ALERTMANAGER_JOB)


# --- Reading a dashboard --------------------------------------------------------------------------


def _labels(expr: str) -> dict[str, set[str]]:
    """Each label an expression matches on, and the values: a regular expression's alternatives."""
    found: dict[str, set[str]] = {}
    for label, operator, value in re.findall(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"', expr):
        found.setdefault(label, set()).update(value.split("|") if operator == "=~" else {value})
    return found


def _metrics(expr: str) -> set[str]:
    """The series an expression selects (every selector here has matchers)."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def _jobs(expr: str) -> set[str]:
    return _labels(expr).get("job", set())


def _queries(boards: Boards) -> list[PanelQuery]:
    return [query for model in boards.values() for query in panel_queries(model)]


def _walk(panels: list[Model]) -> Iterator[Model]:
    for panel in panels:
        yield panel
        yield from _walk(panel.get("panels", []))


def _rows(model: Model) -> dict[str, list[Model]]:
    """Row title -> the panels under it, whether the row is collapsed (it holds them) or not
    (they follow it)."""
    rows: dict[str, list[Model]] = {}
    current: list[Model] = rows.setdefault("", [])
    for panel in _walk(model["panels"]):
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return {title: panels for title, panels in rows.items() if panels}


def _exprs(panels: list[Model]) -> list[str]:
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def _thresholds(panel: Model) -> set[float]:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return {step["value"] for step in steps if step["value"] is not None}


def _unit(panel: Model) -> str | None:
    unit: str | None = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    return unit


def _with_objectives(spec: PlatformSpec) -> list[tuple[ServiceSpec, ObjectivesSpec]]:
    return [(s, s.objectives) for s in spec.services if s.objectives is not None]


def _edges(spec: PlatformSpec) -> list[tuple[ServiceSpec, ServiceSpec]]:
    return [(caller, spec.service(name)) for caller in spec.services for name in caller.calls]


def _board(boards: Boards, *, naming: set[str]) -> Model:
    """The one dashboard whose queries select any of ``naming``."""
    found = [m for m in boards.values() if any(_metrics(q.expr) & naming for q in panel_queries(m))]
    assert len(found) == 1, f"expected one dashboard selecting {sorted(naming)}, found {len(found)}"
    return found[0]


# --- The checks -----------------------------------------------------------------------------------


def _check_objective_panels(spec: PlatformSpec, boards: Boards) -> None:
    """A row per service with objectives, its every query naming that service's job, showing the
    recorded series, with the objectives as thresholds in the right units; no other job has them."""
    services = dict(_with_objectives(spec))
    board = _board(boards, naming={AVAILABILITY_BUDGET_LEFT, LATENCY_BUDGET_LEFT})
    by_job: dict[str, list[Model]] = {}
    for title, panels in _rows(board).items():
        jobs = [_jobs(expr) for expr in _exprs(panels)]
        assert all(len(named) == 1 for named in jobs), f"row {title!r}: a query names no job, or several: {jobs}"
        assert len(set.union(*jobs)) == 1, f"row {title!r} mixes jobs: {jobs}"
        by_job.setdefault(next(iter(jobs[0])), []).extend(panels)
    assert set(by_job) == {s.name for s in services}
    for service, objectives in services.items():
        panels = by_job[service.name]
        named = set().union(*(_metrics(expr) for expr in _exprs(panels)))
        assert {REQUEST_RATE, AVAILABILITY_BUDGET_LEFT, LATENCY_BUDGET_LEFT} | QUANTILES <= named, service.name
        assert named & ERROR_RATIOS, service.name
        assert named & SLOW_RATIOS, service.name
        objective_values = {
            objectives.availability_percent / 100,
            objectives.error_budget,
            objectives.latency_percent / 100,
            objectives.latency_budget,
            objectives.latency_threshold_seconds,
        }
        expected: list[tuple[set[str], set[float], set[str]]] = [
            # (series, thresholds allowed, units allowed)
            (ERROR_RATIOS, {objectives.availability_percent / 100, objectives.error_budget}, {"percentunit"}),
            (SLOW_RATIOS, {objectives.latency_percent / 100, objectives.latency_budget}, {"percentunit"}),
            (QUANTILES, {objectives.latency_threshold_seconds}, {"s"}),
            ({AVAILABILITY_BUDGET_LEFT, LATENCY_BUDGET_LEFT}, {0}, {"percentunit"}),
            ({REQUEST_RATE}, set(), {"reqps"}),
        ]
        for panel in panels:
            series = set().union(*(_metrics(expr) for expr in _exprs([panel])))
            for kind, allowed, units in expected:
                if series & kind:
                    assert _thresholds(panel) <= allowed, (panel["title"], _thresholds(panel), allowed)
                    assert bool(_thresholds(panel)) == bool(allowed), panel["title"]
                    assert _unit(panel) in units, (panel["title"], _unit(panel))
        shown = set().union(*(_thresholds(panel) for panel in panels))
        assert objective_values <= shown, (service.name, objective_values - shown)
    strays = [q for q in _queries(boards) if _metrics(q.expr) & RECORDED and not _jobs(q.expr) <= set(by_job)]
    assert strays == [], "recorded objective series of a service without objectives"


def _check_call_panels(spec: PlatformSpec, boards: Boards) -> None:
    """Per call edge, a row with the caller's rate, error share and latency of its calls to the
    callee, beside the callee's own recorded rate and error ratio; no edge the spec lacks."""
    edges = _edges(spec)
    if not edges:
        assert not any(CLIENT_METRIC in query.expr for query in _queries(boards))
        return
    board = _board(boards, naming={f"{CLIENT_METRIC}_count"})
    rows = list(_rows(board).values())
    for caller, callee in edges:
        sent = {"job": {caller.name}, "target": {callee.name}}

        def calls(expr: str, sent: dict[str, set[str]] = sent) -> bool:
            return all(_labels(expr).get(label) == value for label, value in sent.items())

        beside = [panels for panels in rows if any(calls(expr) for expr in _exprs(panels))]
        assert len(beside) == 1, f"{caller.name} -> {callee.name}: {len(beside)} rows"
        exprs = _exprs(beside[0])
        if caller.scraped:
            mine = [expr for expr in exprs if calls(expr)]
            assert any(f"{CLIENT_METRIC}_bucket" in _metrics(e) and "histogram_quantile" in e for e in mine)
            assert any(_labels(e).get("outcome") == {"error"} and "/" in e for e in mine)
            assert any(_labels(e).get("outcome") is None and "/" not in e and "_count" in e for e in mine)
        if callee.objectives is not None:
            theirs = set().union(*(_metrics(e) for e in exprs if _jobs(e) == {callee.name}))
            assert REQUEST_RATE in theirs, f"{callee.name}'s own view of {caller.name}"
            assert theirs & ERROR_RATIOS, f"{callee.name}'s own view of {caller.name}"
    client = [q for q in panel_queries(board) if any(m.startswith(CLIENT_METRIC) for m in _metrics(q.expr))]
    named = {(job, target) for q in client for job in _jobs(q.expr) for target in _labels(q.expr)["target"]}
    assert named == {(caller.name, callee.name) for caller, callee in edges if caller.scraped}


def _check_saturation_panels(spec: PlatformSpec, boards: Boards) -> None:
    """CPU, memory, event loop and heap by job for every scraped service; pools for those with a
    database."""
    queries = _queries(boards)
    scraped = {s.name for s in spec.scraped_services}
    for metric in SATURATION:
        selecting = [q for q in queries if metric in _metrics(q.expr)]
        assert selecting, metric
        assert all(_jobs(q.expr) == scraped and "by (job)" in q.expr for q in selecting), metric
    pooled = {s.name for s in spec.scraped_services if s.uses_database}
    pools = [q for q in queries if "db_pool_connections" in _metrics(q.expr)]
    assert bool(pools) == bool(pooled)
    for query in pools:
        assert _jobs(query.expr) == pooled
        assert _labels(query.expr)["state"] == set(POOL_STATES)
        assert "by (job, state)" in query.expr


def _check_monitoring_panels(spec: PlatformSpec, boards: Boards) -> None:
    """Prometheus's and Alertmanager's own health, under their jobs, and the alerts firing."""
    queries = _queries(boards)
    up = set().union(*(_jobs(q.expr) for q in queries if "up" in _metrics(q.expr)))
    assert {spec.prometheus.name, ALERTMANAGER_JOB} <= up
    jobs = {"prometheus_": spec.prometheus.name, "alertmanager_": ALERTMANAGER_JOB}
    for metric in (
        "prometheus_rule_evaluation_failures_total",
        "prometheus_notifications_dropped_total",
        "prometheus_notifications_queue_length",
        "alertmanager_notifications_total",
        "alertmanager_notifications_failed_total",
    ):
        selecting = [q for q in queries if metric in _metrics(q.expr)]
        assert selecting, metric
        job = next(job for prefix, job in jobs.items() if metric.startswith(prefix))
        assert all(_jobs(q.expr) == {job} for q in selecting), metric
    alerts = [q for q in queries if "ALERTS" in _metrics(q.expr)]
    assert alerts
    assert all(_labels(q.expr)["alertstate"] == {"firing"} for q in alerts)
    assert any("by (severity)" in q.expr for q in alerts)


CHECKS = (_check_objective_panels, _check_call_panels, _check_saturation_panels, _check_monitoring_panels)


# --- The dashboards, by property ------------------------------------------------------------------


def test_every_dashboard_is_plain_json_titled_for_the_platform(spec: PlatformSpec) -> None:
    for name, model in _boards(spec).items():
        assert name.endswith(".json")
        assert json.loads(json.dumps(model)) == model
        assert spec.project in model["title"]
        assert spec.environment in model["title"]
        assert model["refresh"] == "30s"
        assert model["time"] == {"from": "now-6h", "to": "now"}
        ids = [panel["id"] for panel in _walk(model["panels"])]
        assert len(set(ids)) == len(ids), "Grafana needs a panel id unique within its dashboard"


def test_uids_are_unique_stable_and_the_environments_own(spec: PlatformSpec) -> None:
    boards = _boards(spec)
    uids = [model["uid"] for model in boards.values()]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith(spec.stack_prefix) for uid in uids)
    assert _boards(spec) == boards
    other = replace(spec, environment="qa" if spec.environment != "qa" else "staging")
    assert {model["uid"] for model in _boards(other).values()}.isdisjoint(uids)


def test_uids_stay_within_grafanas_length_and_distinct_when_cut(spec: PlatformSpec) -> None:
    """The longest names the spec allows give a stack prefix longer than a uid may be: the cut
    uids still tell two projects apart that differ only at the end."""
    stem = "p" + "a" * 30
    first, second = (replace(spec, project=stem + end, environment="e" * 16) for end in "bc")
    uids = [model["uid"] for each in (first, second) for model in _boards(each).values()]
    assert len(first.stack_prefix) > 40
    assert all(len(uid) <= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", uid) for uid in uids), uids
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.removeprefix("_check_"))
def test_the_dashboards_show_what_the_spec_holds(
    spec: PlatformSpec, check: Callable[[PlatformSpec, Boards], None]
) -> None:
    check(spec, _boards(spec))


def test_thresholds_are_each_services_own_objectives(spec: PlatformSpec) -> None:
    """Each service given objectives unlike any other's: a panel showing another service's
    objectives (or the defaults) fails."""
    buckets = (0.25, 1, 2.5)
    services = list(spec.services)
    for index, (service, _) in enumerate(_with_objectives(spec)):
        objectives = ObjectivesSpec(
            availability_percent=99.0 + index / 10,
            latency_percent=90.0 + index,
            latency_threshold_seconds=buckets[index % len(buckets)],
        )
        services[services.index(service)] = replace(service, objectives=objectives)
    varied = replace(spec, services=tuple(services))
    _check_objective_panels(varied, _boards(varied))


def test_a_platform_without_calls_has_no_calls_dashboard(spec: PlatformSpec) -> None:
    quiet = replace(spec, services=tuple(replace(s, calls=()) for s in spec.services))
    boards = _boards(quiet)
    assert not any(CLIENT_METRIC in query.expr for query in _queries(boards))
    assert all(panel_queries(model) for model in boards.values()), "an empty dashboard"
    _check_call_panels(quiet, boards)


def test_workers_get_no_objective_panels(spec: PlatformSpec) -> None:
    workers = {s.name for s in spec.services if s.objectives is None}
    for query in _queries(_boards(spec)):
        if _metrics(query.expr) & RECORDED:
            assert not _jobs(query.expr) & workers, query


def test_every_panel_and_query_uses_the_provisioned_datasource(spec: PlatformSpec) -> None:
    for model in _boards(spec).values():
        panels = [panel for panel in _walk(model["panels"]) if panel["type"] != "row"]
        assert panels
        for panel in panels:
            assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
            assert panel["targets"], panel["title"]
            assert all(target["datasource"]["uid"] == DATASOURCE_UID for target in panel["targets"])
        assert {query.datasource_uid for query in panel_queries(model)} == {DATASOURCE_UID}


def test_panel_queries_reads_panels_inside_collapsed_rows(spec: PlatformSpec) -> None:
    """As Grafana saves a dashboard whose rows are collapsed: each row holds its panels."""
    for model in _boards(spec).values():
        collapsed = copy.deepcopy(model)
        top: list[Model] = []
        for panel in collapsed["panels"]:
            if panel["type"] == "row":
                panel["collapsed"] = True
                top.append(panel)
            else:
                top[-1]["panels"].append(panel)
        collapsed["panels"] = top
        assert all(panel["type"] == "row" for panel in collapsed["panels"])
        queries = panel_queries(model)
        assert len(queries) == sum(len(panel.get("targets", [])) for panel in _walk(model["panels"]))
        assert queries
        assert panel_queries(collapsed) == queries


# --- PromQL, as Prometheus parses it --------------------------------------------------------------


def _promtool_refusal(exprs: list[str], directory: Path) -> str | None:
    """promtool's complaint about ``exprs`` written as recording rules, or ``None`` if it takes them.
    JSON is YAML, so the rules file needs no YAML library."""
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is missing: install Debian's prometheus (tools/install-system-packages.sh)")
    rules = [{"record": f"dashboard:query_{index}:expr", "expr": expr} for index, expr in enumerate(exprs)]
    path = directory / "dashboards.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}, indent=1))
    checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    return None if checked.returncode == 0 else checked.stdout + checked.stderr


def test_every_query_is_promql_prometheus_parses(spec: PlatformSpec, tmp_path: Path) -> None:
    exprs = [query.expr for query in _queries(_boards(spec))]
    assert [expr for expr in exprs if "$" in expr] == [], "a Grafana variable is no PromQL"
    assert _promtool_refusal(exprs, tmp_path) is None


@pytest.mark.parametrize(
    "broken",
    ["sum(rate(up[5m])", "rate(up[$__rate_interval])", 'up{job="a"'],
)
def test_the_promql_check_refuses_what_prometheus_would(broken: str, tmp_path: Path) -> None:
    assert _promtool_refusal(["up", broken], tmp_path) is not None


# --- The checks fail on broken dashboards ---------------------------------------------------------


def _without_last_row(model: Model) -> Model:
    broken = copy.deepcopy(model)
    rows = [index for index, panel in enumerate(broken["panels"]) if panel["type"] == "row"]
    broken["panels"] = broken["panels"][: rows[-1]]
    return broken


def _job_renamed(model: Model, *, old: str, new: str) -> Model:
    """``model`` with the first query naming job ``old`` naming ``new`` instead."""
    broken = copy.deepcopy(model)
    target = next(t for p in _walk(broken["panels"]) for t in p.get("targets", []) if _jobs(t["expr"]) == {old})
    target["expr"] = target["expr"].replace(f'job="{old}"', f'job="{new}"')
    return broken


def test_the_checks_fail_on_a_missing_service_or_a_wrong_job(spec: PlatformSpec) -> None:
    boards = _boards(spec)
    services = [s.name for s, _ in _with_objectives(spec)]
    edge = first(_edges(spec), "call between services")
    objectives, calls, monitoring = boards["services.json"], boards["calls.json"], boards["monitoring.json"]
    nobody = "nobody-" + "-".join(services)
    breakages: list[tuple[Callable[[PlatformSpec, Boards], None], str, Model]] = [
        (_check_objective_panels, "services.json", _without_last_row(objectives)),
        (_check_objective_panels, "services.json", _job_renamed(objectives, old=services[0], new=nobody)),
        (_check_call_panels, "calls.json", _without_last_row(calls)),
        (_check_call_panels, "calls.json", _job_renamed(calls, old=edge[1].name, new=edge[0].name)),
        (_check_monitoring_panels, "monitoring.json", _job_renamed(monitoring, old=spec.prometheus.name, new=nobody)),
    ]
    if len(services) > 1:  # one service's query naming another's job
        breakages.append(
            (_check_objective_panels, "services.json", _job_renamed(objectives, old=services[-1], new=services[0]))
        )
    for check, name, broken in breakages:
        with pytest.raises(AssertionError):
            check(spec, {**boards, name: broken})
