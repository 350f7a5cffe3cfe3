"""The alert path end to end, inside the discovery run's namespace (run_in_namespace.py): real traffic to
the reference services, a real database outage (PostgreSQL stopped, so the backend's queries fail as they
would), and what reaches the SNS stand-in; then the recovery, and every dashboard query asked of the
Prometheus that saw it all.

Phases, each bounded: traffic that succeeds; the outage, with a few seconds of traffic that fails; the
wait for the page at the alarm topic; the database back and enough traffic that succeeds to bring every
window's error ratio under every threshold; the wait for the resolved page.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from tests.discovery.sns_standin import SnsStandIn

WORKERS = 8
FAILING_SECONDS = 2.0
FAILING_PER_SECOND = 5
QUIET_AFTER = 250
"""Requests that succeed per one that failed, before the resolution is waited for: under the lowest
ticket threshold (the 3-day window's burn rate of 1, a 0.5 % error ratio at 99.5 %) with room."""
WAIT_SECONDS = 60


class Database(Protocol):
    def stop(self) -> None: ...
    def start(self) -> None: ...


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _drive(urls: Sequence[str], count: int) -> dict[int, int]:
    """``count`` requests spread over ``urls``: how many got each status."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = list(pool.map(_get, [urls[i % len(urls)] for i in range(count)]))
    return {status: statuses.count(status) for status in set(statuses)}


def query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expr)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        found: list[dict[str, Any]] = json.load(response)["data"]["result"]
        return found


def _wait_for(condition: Callable[[], bool], seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return round(time.monotonic() - started, 1)
        time.sleep(0.25)
    return None


def outage_and_recovery(
    plan: dict[str, Any], *, database: Database, stand_in: SnsStandIn, prometheus_port: int
) -> dict[str, Any]:
    """Runs the phases; what each saw, as JSON for the test to judge."""
    urls: list[str] = plan["traffic"]
    alarm_topic: str = plan["alarm_topic"]
    # Enough to make the series before the outage, few enough that its first failures cross every
    # threshold at once: the page and the ticket it quiets fire together.
    result: dict[str, Any] = {"warm": _drive(urls, 40)}

    def messages() -> list[str]:
        return [call.message for call in stand_in.calls if call.topic_arn == alarm_topic]

    database.stop()
    failing: dict[int, int] = {}
    ends = time.monotonic() + FAILING_SECONDS
    while time.monotonic() < ends:
        for status, count in _drive(urls, FAILING_PER_SECOND * len(urls)).items():
            failing[status] = failing.get(status, 0) + count
        time.sleep(1)
    result["failing"] = failing
    result["page_after_seconds"] = _wait_for(lambda: any("FIRING" in m for m in messages()), WAIT_SECONDS)
    result["firing_pages"] = [
        r["metric"] for r in query(prometheus_port, 'ALERTS{alertstate="firing", severity="page"}')
    ]
    # Long enough for any other group that fired with the page (its ticket, were it not quieted) to
    # have been sent too: what the outage made Alertmanager say, all of it.
    time.sleep(plan["settle_seconds"])
    result["outage_messages"] = messages()
    database.start()
    failed = sum(count for status, count in failing.items() if status >= 500 or status == 0)
    result["recovering"] = _drive(urls, max(QUIET_AFTER * failed, 1000))
    result["resolved_after_seconds"] = _wait_for(lambda: any("RESOLVED" in m for m in messages()), WAIT_SECONDS)
    result["alarm_messages"] = messages()
    result["dashboard_queries"] = [
        {**q, "series": len(query(prometheus_port, q["expr"]))} for q in plan["dashboard_queries"]
    ]
    return result
