"""``make check-service``'s reading of a metrics page: can the rules measure the service's objectives?"""

from __future__ import annotations

import dataclasses

import pytest

from platform_spec import ObjectivesSpec
from platform_spec.profiles import dev
from tools.objective_metrics import objective_metrics_problem

SERVICE = next(s for s in dev().services if s.objectives is not None)
THRESHOLD = f"{SERVICE.objectives.latency_threshold_seconds:g}" if SERVICE.objectives else ""


def _page(*, buckets: tuple[str, ...] = ("0.1", THRESHOLD, "1"), labels: str = 'route="/x",status_code="200"') -> str:
    lines = [
        "# TYPE http_requests_total counter",
        f'http_requests_total{{method="GET",{labels}}} 3',
        "# TYPE http_request_duration_seconds histogram",
        *(f'http_request_duration_seconds_bucket{{route="/x",le="{le}"}} 3' for le in (*buckets, "+Inf")),
        'http_request_duration_seconds_sum{route="/x"} 0.3',
        'http_request_duration_seconds_count{route="/x"} 3',
    ]
    return "\n".join(lines) + "\n"


def test_a_page_with_both_families_and_the_threshold_bucket_measures_the_objectives() -> None:
    assert objective_metrics_problem(SERVICE, _page()) is None


def test_families_declared_but_not_yet_observed_pass() -> None:
    declared = "# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n"
    assert objective_metrics_problem(SERVICE, declared) is None


@pytest.mark.parametrize(
    ("page", "said"),
    [
        (_page().replace("http_requests_total", "requests_total"), "no counter http_requests"),
        (_page().replace("http_request_duration_seconds", "latency_seconds"), "no histogram http_request_duration"),
        (_page(labels='path="/x",status_code="200"'), "without route"),
        (_page(buckets=("0.1", "1")), f"no http_request_duration_seconds bucket at {THRESHOLD} s"),
    ],
    ids=["no counter", "no histogram", "no route label", "no threshold bucket"],
)
def test_what_the_rules_could_not_measure_is_named(page: str, said: str) -> None:
    problem = objective_metrics_problem(SERVICE, page)
    assert problem is not None
    assert said in problem


def test_the_threshold_bucket_is_the_services_own() -> None:
    """A service whose threshold is 0.25 s needs that bucket, whatever another service's is."""
    own = dataclasses.replace(SERVICE, objectives=ObjectivesSpec(latency_threshold_seconds=0.25))
    assert objective_metrics_problem(own, _page(buckets=("0.25",))) is None
    problem = objective_metrics_problem(own, _page(buckets=("0.1", "1")))
    assert problem is not None
    assert "one of 0.1, 1" in problem


def test_a_service_without_objectives_is_not_measured() -> None:
    assert objective_metrics_problem(dataclasses.replace(SERVICE, objectives=None), "") is None
