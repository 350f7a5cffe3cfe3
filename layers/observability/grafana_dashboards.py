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

The first two are built in ``service_dashboards``, the others in ``operations_dashboards``, all
from the board and panels of ``dashboard_builder``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from layers.observability.operations_dashboards import monitoring_board, saturation_board
from layers.observability.service_dashboards import calls_board, services_board
from platform_spec import PlatformSpec


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


def dashboards(spec: PlatformSpec, *, alertmanager_job: str) -> dict[str, dict[str, Any]]:
    """Every dashboard of ``spec``: file name -> JSON model (plain data, ready for ``json.dumps``).

    ``alertmanager_job`` is the scrape job of the Alertmanager the platform's Prometheus notifies."""
    if not alertmanager_job:
        raise ValueError("alertmanager_job: name the Alertmanager's scrape job")
    built = {
        "services.json": services_board(spec),
        "calls.json": calls_board(spec),
        "saturation.json": saturation_board(spec),
        "monitoring.json": monitoring_board(spec, alertmanager_job=alertmanager_job),
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
