"""Prometheus: the server that finds every service through its Cloud Map SRV records and scrapes
it, its intervals and what they cost, and how soon it scrapes a task that has just started.

A task registered in Cloud Map waits, at worst, for each step below in turn before its first
scrape (``PrometheusSpec.first_scrape_worst_case_seconds``):

1. the records' TTL (``CLOUD_MAP_TTL_SECONDS``): the VPC's resolver may answer from an answer it
   cached just before the registration;
2. the discovery refresh (``discovery_refresh_seconds``): Prometheus asks again that often;
3. Prometheus's own throttles (``PROMETHEUS_THROTTLE_SECONDS``): its discovery manager passes
   updates on at most every 5 s, and its scrape manager applies them at most every 5 s;
4. the scrape interval (``scrape_interval_seconds``): a new target's first scrape comes at its
   own offset within an interval.

The spec refuses intervals whose sum exceeds ``FIRST_SCRAPE_BOUND_SECONDS``;
tests/integration/test_prometheus_discovery.py measures the sum for real.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_spec.checks import check_fargate_size, check_pinned_image, check_port
from platform_spec.errors import SpecError
from platform_spec.workloads import ContainerUser

CLOUD_MAP_TTL_SECONDS = 10
"""The TTL of every Cloud Map record (A and SRV; layers/compute/cloud_map_registration.py): how
long a resolver may cache one. Short, so a replaced task leaves DNS soon and a new one enters it
soon. At most one query per name per TTL reaches Route 53 from the VPC's resolver, however often
Prometheus asks it."""

PROMETHEUS_THROTTLE_SECONDS = 10
"""Prometheus's own delay, at worst, between a DNS answer naming a new target and that target's
scrape loop starting: the discovery manager sends updates at most every 5 s (``updatert``,
discovery/manager.go) and the scrape manager reloads at most every 5 s (the hidden
``--scrape.discovery-reload-interval`` flag's default, scrape/manager.go), two tickers that are
not aligned. Fixed in the releases we run (2.42 in the tests, 3.5 on Fargate)."""

FIRST_SCRAPE_BOUND_SECONDS = 45
"""The promise (issue 26): a new task is scraped within 45 s of its registration, worst case."""

NOBODY = ContainerUser(uid=65534, gid=65534)


@dataclass(frozen=True, kw_only=True)
class PrometheusSpec:
    """The Prometheus server that discovers every service through DNS SRV and scrapes it."""

    name: str = "prometheus"
    """Its Cloud Map name and the name of its self-scrape job."""
    port: int = 9090
    """Port Prometheus serves its API and UI on."""
    user: ContainerUser = NOBODY
    """The user the official image runs as (``USER nobody``); owns the TSDB on EFS."""
    image: str = (
        "quay.io/prometheus/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"
    )
    """The official image on Quay, pinned by digest."""
    cpu: int = 512
    memory_mib: int = 1024
    retention_days: int = 15
    """How long the TSDB keeps samples."""
    scrape_interval_seconds: int = 15
    """How often each target is scraped. Its cost: every series of a target is one sample per scrape,
    series x 86400 / interval a day. A reference service's task serves 130 to 180 series at rest
    (the discovery test records ``scrape_samples_scraped``): at 15 s, up to 1 million samples a day,
    30 MB over 15 days at 2 bytes a sample. Halving the interval doubles the samples, so the TSDB
    on EFS and the CPU of scraping them (the figures for both profiles:
    docs/architecture.md, "Prometheus, Alertmanager, Grafana and alarms"). The rules' shortest rate
    window (5 minutes) holds 20 scrapes at 15 s."""
    evaluation_interval_seconds: int = 30
    """How often the rules are evaluated. Not on a new task's path to its first scrape; the
    recording rules' 30-day averages cost CPU at each evaluation, so it stays at 30 s."""
    discovery_refresh_seconds: int = 5
    """How often the SRV records are asked again. Cheap: the VPC's resolver answers from its cache
    within the TTL, and Prometheus passes updates on only every 5 s anyway."""
    ecs_exec: bool = False
    remote_write: bool = False
    """Also send samples to an Amazon Managed Service for Prometheus workspace the stack creates."""

    def __post_init__(self) -> None:
        check_port("prometheus.port", self.port)
        check_pinned_image("prometheus.image", self.image, digest=True)
        check_fargate_size("prometheus", self.cpu, self.memory_mib)
        if not 1 <= self.retention_days <= 3650:
            raise SpecError("prometheus.retention_days", self.retention_days, "must be from 1 to 3650")
        for name in ("scrape_interval_seconds", "evaluation_interval_seconds", "discovery_refresh_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
                raise SpecError(f"prometheus.{name}", value, "must be a whole number from 1 to 3600 seconds")
        check_first_scrape(self)

    @property
    def first_scrape_worst_case_seconds(self) -> int:
        """Seconds from a task's registration in Cloud Map to its first scrape, at worst: the
        records' TTL, one discovery refresh, Prometheus's own throttles and one scrape interval
        (the module's docstring says why each). Cloud Map's own registration (ECS registering the
        task, Route 53 taking the record) comes before and is not counted."""
        return (
            CLOUD_MAP_TTL_SECONDS
            + self.discovery_refresh_seconds
            + PROMETHEUS_THROTTLE_SECONDS
            + self.scrape_interval_seconds
        )

    def samples_per_day(self, series: int) -> int:
        """Samples a day from one target serving ``series`` series: one per series per scrape."""
        return series * 86400 // self.scrape_interval_seconds


def check_first_scrape(prometheus: PrometheusSpec) -> None:
    """Refuse intervals with which a new task could wait longer than the bound for its first scrape."""
    worst = prometheus.first_scrape_worst_case_seconds
    if worst > FIRST_SCRAPE_BOUND_SECONDS:
        fixed = CLOUD_MAP_TTL_SECONDS + PROMETHEUS_THROTTLE_SECONDS
        raise SpecError(
            "prometheus.discovery_refresh_seconds + prometheus.scrape_interval_seconds",
            prometheus.discovery_refresh_seconds + prometheus.scrape_interval_seconds,
            f"a new task could wait {worst} s for its first scrape (Cloud Map's TTL {CLOUD_MAP_TTL_SECONDS} s and "
            f"Prometheus's own {PROMETHEUS_THROTTLE_SECONDS} s besides), over the {FIRST_SCRAPE_BOUND_SECONDS} s "
            f"bound: together at most {FIRST_SCRAPE_BOUND_SECONDS - fixed} s",
        )
