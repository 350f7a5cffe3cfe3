"""A service's objectives (service-level objectives, SLOs), and the signals they are measured on.

Every service that answers requests (public or internal) is measured on two objectives over a
rolling window: **availability**, the share of its requests answered without a 5xx, and
**latency**, the share answered within a threshold. Prometheus records both per service, and
alerts when the error budget (what the objective leaves: 0.5 % of requests at 99.5 %) burns too
fast, by the multi-window, multi-burn-rate method of the Google SRE workbook's chapter "Alerting
on SLOs": a page when 2 % of the budget went in an hour or 5 % in six, a ticket when 10 % went
in a day or in three; each alert also needs its short window (a twelfth of the long one) to
burn, so it resolves soon after the burning stops. Everything here is plain data; the rules are
rendered from it (``layers/observability/alert_rules.py``).

The signals are the image contract's request metrics (docs/image-contract.md, "Metrics"):
``http_requests_total`` and the histogram ``http_request_duration_seconds``, labelled with
``route`` and ``status_code``. Requests to the service's health and metrics paths are not
counted: load-balancer checks and scrapes are not users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from platform_spec.errors import SpecError

REQUESTS_METRIC = "http_requests_total"
"""Counter of answered requests, labelled ``route`` (a pattern, never a raw path) and ``status_code``."""
DURATION_METRIC = "http_request_duration_seconds"
"""Histogram of the time to answer a request, with the same labels."""
ROUTE_LABEL = "route"
STATUS_LABEL = "status_code"

Severity = Literal["page", "ticket"]
PAGE: Severity = "page"
TICKET: Severity = "ticket"


@dataclass(frozen=True)
class BurnWindow:
    """One alert condition: more than ``budget_share`` of the budget spent in ``long_hours``."""

    severity: Severity
    long_hours: int
    budget_share: float

    @property
    def long(self) -> str:
        """The long window as Prometheus writes it (``1h``, ``1d``, ``3d``)."""
        return _duration(self.long_hours * 60)

    @property
    def short(self) -> str:
        """The short window, a twelfth of the long one (``5m`` for ``1h``)."""
        return _duration(self.long_hours * 60 // 12)

    def burn_rate(self, window_days: int) -> float:
        """How many times faster than the objective allows the budget must burn: at that rate,
        ``budget_share`` of a ``window_days`` budget goes in ``long_hours``."""
        return round(self.budget_share * window_days * 24 / self.long_hours, 6)


BURN_WINDOWS = (
    BurnWindow(PAGE, 1, 0.02),
    BurnWindow(PAGE, 6, 0.05),
    BurnWindow(TICKET, 24, 0.10),
    BurnWindow(TICKET, 72, 0.10),
)
"""The SRE workbook's four conditions (its table "Recommended parameters"): at 30 days, burn
rates 14.4, 6, 3 and 1."""


def _duration(minutes: int) -> str:
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def ratio_windows() -> tuple[str, ...]:
    """Every window a ratio is recorded over, short to long (5m, 30m, 1h, 2h, 6h, 1d, 3d)."""
    minutes = {w.long_hours * 60 for w in BURN_WINDOWS} | {w.long_hours * 60 // 12 for w in BURN_WINDOWS}
    return tuple(_duration(m) for m in sorted(minutes))


@dataclass(frozen=True, kw_only=True)
class ObjectivesSpec:
    """What a service promises its callers, over ``window_days``."""

    availability_percent: float = 99.5
    """Share of requests answered without a 5xx."""
    latency_percent: float = 95.0
    """Share of requests answered within ``latency_threshold_seconds``."""
    latency_threshold_seconds: float = 0.5
    """Must be a bucket bound (``le``) of the service's duration histogram, or no query can count
    the requests under it: prom-client's defaults are 0.005 to 10 (``make check-service`` checks)."""
    window_days: int = 30
    """The rolling window the objectives hold over: the error budget is what they leave in it."""
    expects_traffic: bool = False
    """Whether no requests at all for 15 minutes is worth a ticket (a public service in production,
    say); a quiet dev platform expects none."""

    def __post_init__(self) -> None:
        for name in ("availability_percent", "latency_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 50 <= value < 100:
                raise SpecError(f"objectives.{name}", value, "a percentage from 50 up to, not including, 100")
        threshold = self.latency_threshold_seconds
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 60:
            raise SpecError("objectives.latency_threshold_seconds", threshold, "must be above 0 and at most 60")
        longest = max(w.long_hours for w in BURN_WINDOWS) // 24
        if isinstance(self.window_days, bool) or not isinstance(self.window_days, int):
            raise SpecError("objectives.window_days", self.window_days, "must be a whole number of days")
        if not longest < self.window_days <= 90:
            raise SpecError(
                "objectives.window_days",
                self.window_days,
                f"must be above {longest} (the longest alert window) and at most 90",
            )
        if not isinstance(self.expects_traffic, bool):
            raise SpecError("objectives.expects_traffic", self.expects_traffic, "must be true or false")

    @property
    def error_budget(self) -> float:
        """The share of requests that may fail: 0.005 at 99.5 %."""
        return round(1 - self.availability_percent / 100, 9)

    @property
    def latency_budget(self) -> float:
        """The share of requests that may be slow: 0.05 at 95 %."""
        return round(1 - self.latency_percent / 100, 9)

    @property
    def latency_bucket(self) -> str:
        """The threshold as the histogram's ``le`` label holds it: ``0.5``, ``1`` (as prom-client and
        Go's client write it, and as Prometheus 3 normalises any other spelling, ``1.0``)."""
        return f"{float(self.latency_threshold_seconds):g}"


DEFAULT_OBJECTIVES = ObjectivesSpec()
"""What a public or internal service promises unless its spec says otherwise."""


# --- What Prometheus records per service (label ``job``: the service's name) ----------------------
# The rules (layers/observability/alert_rules.py) write these; the dashboards and the tests read them.

REQUEST_RATE = "job:http_requests:rate5m"
"""Requests per second the service answered (its health and metrics paths not counted)."""
LATENCY_QUANTILES = (0.5, 0.95, 0.99)


def error_ratio(window: str) -> str:
    """The share of requests answered with a 5xx over ``window`` (one of ``ratio_windows()``)."""
    return f"job:http_errors:ratio_rate{window}"


def slow_ratio(window: str) -> str:
    """The share of requests slower than the latency threshold over ``window``."""
    return f"job:http_slow_requests:ratio_rate{window}"


def latency_quantile(quantile: float) -> str:
    """The ``quantile`` of the time to answer over 5 minutes (``job:...:p95_5m``)."""
    return f"job:http_request_duration_seconds:p{round(quantile * 100)}_5m"


AVAILABILITY_BUDGET_LEFT = "job:availability_error_budget:remaining"
"""The share of the availability error budget still unspent over the objectives' window."""
LATENCY_BUDGET_LEFT = "job:latency_error_budget:remaining"
"""The share of the latency error budget still unspent over the objectives' window."""
