"""What every Grafana dashboard of the platform is built from (``grafana_dashboards``): a board
whose panels are numbered in order, graph and stat panels over plain PromQL queries of the
provisioned Prometheus, and the label matchers those queries select with."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.objectives import BURN_WINDOWS

DATASOURCE_UID = "prometheus"
"""The provisioned Prometheus data source's uid (assets/grafana/datasources.yml.j2)."""
REFRESH = "30s"
TIME_FROM = "now-6h"
UID_MAX_LENGTH = 40
"""Grafana refuses a longer dashboard uid."""
RATE_WINDOW = BURN_WINDOWS[0].short
"""5m: the window of the recorded request rate and quantiles; raw rates take it too, so a caller's
view and the callee's compare."""

_DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
Panel = timeseries.Panel | stat.Panel


@dataclass(frozen=True)
class Query:
    """A panel's PromQL expression and the legend of its series."""

    expr: str
    legend: str


class Board:
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

    def row(self, title: str, panels: Sequence[Panel]) -> None:
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


def matchers(**labels: str | tuple[str, ...]) -> str:
    """``{job="backend"}``; a tuple of values matches any of them (``job=~"backend|frontend"``)."""
    parts = [
        # Tuples hold service names (DNS labels) and pool states: no character of a regular
        # expression among them but '-', which is literal outside brackets.
        f"{label}=~{json.dumps('|'.join(value))}" if isinstance(value, tuple) else f"{label}={json.dumps(value)}"
        for label, value in labels.items()
    ]
    return "{" + ", ".join(parts) + "}"


def service_names(services: Sequence[ServiceSpec]) -> tuple[str, ...]:
    """The services' names, which are their scrape jobs' too."""
    return tuple(service.name for service in services)


def _thresholds(value: float, *, good_above: bool) -> dashboard_builders.ThresholdsConfig:
    below, above = ("red", "green") if good_above else ("green", "red")
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=None, color=below), Threshold(value=value, color=above)])
    )


def _target(query: Query, index: int, *, instant: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(chr(ord("A") + index))
        .datasource(_DATASOURCE)
    )
    return target.instant() if instant else target.range()


def timeseries_panel(
    title: str,
    queries: Sequence[Query],
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


def stat_panel(
    title: str,
    query: Query,
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
