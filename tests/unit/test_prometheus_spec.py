"""Prometheus's intervals: how soon a new task is first scraped, the bound the spec holds that to, and
the rules' rate windows that the scrape interval must keep valid. The measurement of the worst case
is tests/integration/test_prometheus_discovery.py's."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from layers.observability.alert_rules import render_rules
from platform_spec import (
    CLOUD_MAP_TTL_SECONDS,
    FIRST_SCRAPE_BOUND_SECONDS,
    PROMETHEUS_THROTTLE_SECONDS,
    PlatformSpec,
    PrometheusSpec,
    SpecError,
)
from platform_spec.profiles import PROFILES

FIXED = CLOUD_MAP_TTL_SECONDS + PROMETHEUS_THROTTLE_SECONDS
"""What no interval of the spec shortens: the records' TTL and Prometheus's own throttles."""
OLD: dict[str, Any] = {
    "scrape_interval_seconds": 30,
    "evaluation_interval_seconds": 30,
    "discovery_refresh_seconds": 30,
}
"""The intervals before issue 26."""
SAMPLES_PER_RATE_WINDOW = 4
"""rate() needs two samples in its window; four intervals leave room for a scrape that failed."""
FIELDS = "prometheus.discovery_refresh_seconds + prometheus.scrape_interval_seconds"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_scrapes_a_new_task_within_the_bound(profile: str) -> None:
    prometheus = PROFILES[profile]().prometheus
    worst = prometheus.first_scrape_worst_case_seconds
    assert worst == FIXED + prometheus.discovery_refresh_seconds + prometheus.scrape_interval_seconds
    assert worst <= FIRST_SCRAPE_BOUND_SECONDS


def test_the_intervals_before_issue_26_are_refused() -> None:
    """30 s each: 70 s by the issue's count (TTL, refresh, scrape), 80 s with Prometheus's throttles."""
    old_worst = FIXED + OLD["discovery_refresh_seconds"] + OLD["scrape_interval_seconds"]
    assert old_worst - PROMETHEUS_THROTTLE_SECONDS == 70
    assert old_worst > FIRST_SCRAPE_BOUND_SECONDS
    with pytest.raises(SpecError) as refused:
        PrometheusSpec(**OLD)
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"{FIELDS}: a new task could wait {old_worst} s for its first scrape (Cloud Map's TTL "
        f"{CLOUD_MAP_TTL_SECONDS} s and Prometheus's own {PROMETHEUS_THROTTLE_SECONDS} s besides), over the "
        f"{FIRST_SCRAPE_BOUND_SECONDS} s bound: together at most {FIRST_SCRAPE_BOUND_SECONDS - FIXED} s "
        f"(got {OLD['discovery_refresh_seconds'] + OLD['scrape_interval_seconds']})"
    )


def test_the_bound_is_allowed_and_a_second_more_is_not() -> None:
    room = FIRST_SCRAPE_BOUND_SECONDS - FIXED
    at_bound = PrometheusSpec(discovery_refresh_seconds=1, scrape_interval_seconds=room - 1)
    assert at_bound.first_scrape_worst_case_seconds == FIRST_SCRAPE_BOUND_SECONDS
    for refresh, scrape in ((1, room), (room, 1)):
        with pytest.raises(SpecError, match=re.escape(f"{FIELDS}: a new task could wait")):
            PrometheusSpec(discovery_refresh_seconds=refresh, scrape_interval_seconds=scrape)


def test_the_bound_holds_when_the_spec_is_changed_after_it_is_built() -> None:
    """``dataclasses.replace`` builds the spec again, so it is checked again."""
    prometheus = PROFILES[sorted(PROFILES)[0]]().prometheus
    with pytest.raises(SpecError, match=re.escape(FIELDS)):
        replace(prometheus, **OLD)


@pytest.mark.parametrize("value", [0, 3601, 1.5, True, "15"])
@pytest.mark.parametrize("name", sorted(OLD))
def test_an_interval_is_a_whole_number_of_seconds(name: str, value: object) -> None:
    fields: dict[str, Any] = {"discovery_refresh_seconds": 1, "scrape_interval_seconds": 1, name: value}
    with pytest.raises(SpecError) as refused:
        PrometheusSpec(**fields)
    assert str(refused.value) == f"prometheus.{name}: must be a whole number from 1 to 3600 seconds (got {value!r})"


def test_samples_per_day_follow_the_scrape_interval() -> None:
    """One sample per series per scrape: halving the interval doubles them."""
    prometheus = PrometheusSpec(scrape_interval_seconds=10)
    assert prometheus.samples_per_day(100) == 100 * 86400 // 10
    assert replace(prometheus, scrape_interval_seconds=5).samples_per_day(100) == 2 * prometheus.samples_per_day(100)


def _shortest_range_seconds(spec: PlatformSpec) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    ranges = [int(n) * units[u] for n, u in re.findall(r"\[(\d+)([smhd])\]", render_rules(spec))]
    assert ranges, "no range in the rules"
    return min(ranges)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_rate_window_holds_enough_scrapes(profile: str) -> None:
    """At the profile's interval, and at the longest one the first-scrape bound lets any profile have."""
    spec = PROFILES[profile]()
    longest = FIRST_SCRAPE_BOUND_SECONDS - FIXED - 1
    for interval in (spec.prometheus.scrape_interval_seconds, longest):
        assert _shortest_range_seconds(spec) >= SAMPLES_PER_RATE_WINDOW * interval, (profile, interval)
