"""How many tasks a service runs, and where it may run none.

A service with ``min_tasks = 0`` sleeps when idle and wakes on demand: the load balancer answers
a request that finds no task with a 503 of its own, and that 503 wakes the service
(``layers/compute/wake_on_demand.py``). So only what reaches the service through the load balancer
can wake it, and every refusal below is a path that does not:

- a production profile keeps every service running: a cold start answers 503 for minutes;
- a service that is not public has no load balancer in front of it to see a request arrive;
- a service another service ``calls`` is reached through Cloud Map, which lists no address while
  the service has no task: the call fails in DNS and never reaches the load balancer;
- the release's API service is called by the smoke tests through Cloud Map (``API_URL``), and
  the default-route service serves the public URL's root page, which the smoke tests load and retry
  for seconds, not the minutes a cold start takes (``services/frontend/scripts/smoke-test.js``).
  The migrations and smoke-test services' images run as one-off tasks: the release needs no task
  of theirs, so neither role refuses it;
- a roll-out that shifts traffic judges the new tasks on the live traffic while the old ones stay:
  at zero there are none to judge, and Application Auto Scaling turns scale-in off for the whole
  deployment, bake included (Amazon ECS developer guide, "Troubleshooting service auto scaling in
  Amazon ECS": https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshoot-service-auto-scaling.html),
  so the service could not go back to sleep until it ends: use ``Rolling()``;
- objectives that expect traffic would open a ticket at every sleep (the ``NoTraffic`` alert).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_spec.errors import SpecError

if TYPE_CHECKING:
    from platform_spec.platform import PlatformSpec
    from platform_spec.services import ServiceSpec

DEFAULT_IDLE_MINUTES = 15
"""Minutes without a request after which a service with ``min_tasks = 0`` goes back to none."""
MAX_IDLE_MINUTES = 1440
"""CloudWatch evaluates an alarm over at most one day of one-minute periods."""


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sizing(service: ServiceSpec) -> None:
    """The service's task counts and scaling thresholds, each on its own; where it may run none
    that follows from the service alone (it must be public: ``check_scale_to_zero`` for the rest)."""
    where = f"services[{service.name}]"
    if not _whole(service.min_tasks) or service.min_tasks < 0:
        raise SpecError(f"{where}.min_tasks", service.min_tasks, "must be a whole number of at least 0")
    if not _whole(service.max_tasks) or service.max_tasks < 1:
        raise SpecError(f"{where}.max_tasks", service.max_tasks, "must be a whole number of at least 1")
    if service.min_tasks > service.max_tasks:
        raise SpecError(f"{where}.min_tasks", service.min_tasks, f"min_tasks is above max_tasks ({service.max_tasks})")
    if not _whole(service.idle_minutes) or not 1 <= service.idle_minutes <= MAX_IDLE_MINUTES:
        raise SpecError(
            f"{where}.idle_minutes", service.idle_minutes, f"must be whole minutes from 1 to {MAX_IDLE_MINUTES}"
        )
    if not 10 <= service.scale_at_cpu_percent <= 90:
        raise SpecError(f"{where}.scale_at_cpu_percent", service.scale_at_cpu_percent, "must be from 10 to 90")
    if not 1 <= service.scale_at_requests_per_task <= 1_000_000:
        raise SpecError(
            f"{where}.scale_at_requests_per_task", service.scale_at_requests_per_task, "must be from 1 to 1000000"
        )
    if service.min_tasks == 0 and not service.is_public:
        article = "an" if service.kind[0] in "aeiou" else "a"
        raise SpecError(
            f"{where}.min_tasks",
            0,
            f"{article} {service.kind} service cannot wake on demand: no load balancer in front of it sees a request",
        )


def check_scale_to_zero(spec: PlatformSpec) -> None:
    """Each service with ``min_tasks = 0`` can be woken by every path that reaches it (module docstring)."""
    for service in spec.services:
        if service.min_tasks == 0:
            _check_sleeper(spec, service)


def _check_sleeper(spec: PlatformSpec, service: ServiceSpec) -> None:
    where = f"services[{service.name}].min_tasks"
    if spec.production:
        raise SpecError(where, 0, "production keeps every service running: a cold start answers 503 for minutes")
    callers = [s.name for s in spec.services if service.name in s.calls]
    if callers:
        raise SpecError(
            where,
            0,
            f"{callers[0]} calls it through Cloud Map, which lists no address while it has no task: "
            "the call never reaches the load balancer that would wake it",
        )
    if service.name == spec.delivery.api_service:
        raise SpecError(
            where,
            0,
            "it is delivery.api_service: the release's smoke tests call it through Cloud Map (API_URL), "
            "which lists no address while it has no task",
        )
    if service.route is None:
        raise SpecError(
            where,
            0,
            "it takes the default route: the release's smoke tests load the public URL's root page and retry "
            "for seconds, not the minutes a cold start takes",
        )
    rollout = spec.rollout_of(service)
    if rollout.shifts_traffic:
        raise SpecError(
            where,
            0,
            f"its {rollout.strategy} roll-out judges new tasks on live traffic, and at zero there are none; "
            "scale-in stays off for the whole deployment: give it rollout=Rolling()",
        )
    objectives = service.objectives
    if objectives is not None and objectives.expects_traffic:
        raise SpecError(
            where, 0, "its objectives expect traffic (expects_traffic): each sleep would open a NoTraffic ticket"
        )
