"""Whether what a service's metrics path answers can measure its objectives: the request counter and the
duration histogram the rules read (platform_spec/objectives.py), with their labels, and a bucket at the
latency threshold. Parsed with prometheus_client's parser of Prometheus's text format."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from platform_spec import ObjectivesSpec, ServiceSpec
from platform_spec.objectives import DURATION_METRIC, REQUESTS_METRIC, ROUTE_LABEL, STATUS_LABEL

# Each family the rules read, its type, and the labels every sample of it must carry.
_FAMILIES = (
    (REQUESTS_METRIC.removesuffix("_total"), "counter", {ROUTE_LABEL, STATUS_LABEL}, "availability"),
    (DURATION_METRIC, "histogram", {ROUTE_LABEL}, "latency"),
)


def objective_metrics_problem(service: ServiceSpec, text: str) -> str | None:
    """What keeps the rules from measuring ``service``'s objectives in ``text``, or None (also for a
    service without objectives). Families declared but not yet observed pass: a task asked nothing
    has no samples."""
    if service.objectives is None:
        return None
    try:
        families = {family.name: family for family in text_string_to_metric_families(text)}
    except ValueError as error:
        return f"does not parse as Prometheus text ({error})"
    for name, kind, labels, objective in _FAMILIES:
        family = families.get(name)
        if family is None or family.type != kind:
            return f"has no {kind} {name}: its {objective} objective is counted on it"
        for sample in family.samples:
            if not labels <= set(sample.labels):
                missing = ", ".join(sorted(labels - set(sample.labels)))
                return f"labels {sample.name} without {missing}: the rules leave out health checks by route"
    return _bucket_problem(families[DURATION_METRIC], service.objectives)


def _bucket_problem(histogram: Any, objectives: ObjectivesSpec) -> str | None:
    bounds = {float(s.labels["le"]) for s in histogram.samples if s.name.endswith("_bucket") and "le" in s.labels}
    threshold = float(objectives.latency_threshold_seconds)
    if not bounds or any(math.isclose(bound, threshold) for bound in bounds):
        return None
    offered = ", ".join(f"{b:g}" for b in sorted(bounds) if b != math.inf)
    return (
        f"has no {DURATION_METRIC} bucket at {threshold:g} s, its latency threshold: add one, or set "
        f"objectives.latency_threshold_seconds to one of {offered}"
    )
