"""The platform's own dashboards: ``saturation.json``, CPU, memory, the Node.js event loop and
heap, and database pools, by job; ``monitoring.json``, Prometheus and Alertmanager themselves,
and the alerts firing."""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from layers.observability.dashboard_builder import (
    RATE_WINDOW,
    Board,
    Query,
    matchers,
    service_names,
    stat_panel,
    timeseries_panel,
)
from platform_spec import PlatformSpec

POOL_STATES = ("in_use", "idle", "waiting")


def saturation_board(spec: PlatformSpec) -> Board:
    """``saturation.json``: CPU and memory, Node.js, and the database pools of the services using one."""
    board = Board(spec, name="saturation", subject="saturation")
    jobs = matchers(job=service_names(spec.scraped_services))
    by_job = "{{job}}"
    board.row(
        "CPU and memory",
        [
            timeseries_panel(
                "CPU, busiest task",
                [Query(f"max by (job) (rate(process_cpu_seconds_total{jobs}[{RATE_WINDOW}]))", by_job)],
                unit=units.PercentUnit,
                description="CPU time per second of the busiest task of each service: 100 % is one vCPU.",
            ),
            timeseries_panel(
                "resident memory, largest task",
                [Query(f"max by (job) (process_resident_memory_bytes{jobs})", by_job)],
                unit=units.BytesIEC,
                description="Memory the largest task of each service holds.",
            ),
        ],
    )
    board.row(
        "Node.js",
        [
            timeseries_panel(
                "event-loop lag p99, worst task",
                [Query(f"max by (job) (nodejs_eventloop_lag_p99_seconds{jobs})", by_job)],
                unit=units.Seconds,
                description="How late the event loop runs callbacks: work waiting behind work.",
            ),
            timeseries_panel(
                "heap used, largest task",
                [Query(f"max by (job) (nodejs_heap_size_used_bytes{jobs})", by_job)],
                unit=units.BytesIEC,
                description="V8's heap in use.",
            ),
        ],
    )
    pooled = [service for service in spec.scraped_services if service.uses_database]
    if pooled:
        states = matchers(job=service_names(pooled), state=POOL_STATES)
        board.row(
            "database pool",
            [
                timeseries_panel(
                    "database pool connections",
                    [Query(f"sum by (job, state) (db_pool_connections{states})", "{{job}}: {{state}}")],
                    unit=units.Short,
                    description="Connections in use, idle, and requests waiting for one.",
                    width=24,
                )
            ],
        )
    return board


def monitoring_board(spec: PlatformSpec, *, alertmanager_job: str) -> Board:
    """``monitoring.json``: targets up, Prometheus, the Alertmanager (its scrape job
    ``alertmanager_job``) and the alerts firing."""
    board = Board(spec, name="monitoring", subject="Prometheus and Alertmanager")
    prometheus_job = matchers(job=spec.prometheus.name)
    alertmanager = matchers(job=alertmanager_job)
    firing = matchers(alertstate="firing")

    def up(job: str) -> Query:
        return Query(f"sum(up{matchers(job=job)}) or vector(0)", "targets up")

    board.row(
        "up",
        [
            stat_panel(
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
            stat_panel(
                "services: targets up",
                Query(f"sum by (job) (up{matchers(job=service_names(spec.scraped_services))})", "{{job}}"),
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
            timeseries_panel(
                f"rule evaluation failures, {per_5m}",
                [
                    Query(
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
            timeseries_panel(
                f"notifications dropped, {per_5m}",
                [
                    Query(
                        f"sum(increase(prometheus_notifications_dropped_total{prometheus_job}[{RATE_WINDOW}]))",
                        "dropped",
                    )
                ],
                unit=units.Short,
                bad_above=1,
                description="Alerts Prometheus could not hand to Alertmanager.",
                width=8,
            ),
            timeseries_panel(
                "notification queue",
                [
                    Query(f"sum(prometheus_notifications_queue_length{prometheus_job})", "queued"),
                    Query(f"sum(prometheus_notifications_queue_capacity{prometheus_job})", "capacity"),
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
            timeseries_panel(
                f"notifications sent, {per_5m}",
                [
                    Query(
                        f"sum by (integration) (increase(alertmanager_notifications_total{alertmanager}"
                        f"[{RATE_WINDOW}]))",
                        "{{integration}}",
                    )
                ],
                unit=units.Short,
                description="Notifications Alertmanager sent, by integration (email, SNS, ...).",
            ),
            timeseries_panel(
                f"notifications failed, {per_5m}",
                [
                    Query(
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
            stat_panel(
                "firing now",
                Query(f"count(ALERTS{firing}) or vector(0)", "firing"),
                unit=units.Short,
                threshold=1,
                higher_is_better=False,
                description="Alerts firing now, every severity.",
            ),
            timeseries_panel(
                "firing alerts by severity",
                [Query(f"count by (severity) (ALERTS{firing})", "{{severity}}")],
                unit=units.Short,
                description="Alerts firing, by severity (page, ticket).",
                width=18,
            ),
        ],
    )
    return board
