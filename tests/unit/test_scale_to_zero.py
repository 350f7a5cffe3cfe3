"""``min_tasks = 0``: accepted only where a request can wake the service, refused in one line
naming the field and the reason everywhere else (``platform_spec/sizing.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from platform_spec import INTERNAL, PUBLIC, WORKER, ObjectivesSpec, PlatformSpec, ServiceSpec, SpecError
from platform_spec.profiles import PROFILES, dev
from platform_spec.rollouts import BlueGreen, Canary, Linear, Rolling
from platform_spec.sizing import DEFAULT_IDLE_MINUTES, MAX_IDLE_MINUTES
from tests.picking import first_or_skip
from tests.variants import new_service, own_services, unused_name

# Two services of the tests' own (alpha: default route, migrations and the API; bravo: its own
# route, calls alpha, runs the smoke tests), so no message depends on what a profile ships.
OWN = own_services(dev())
ALPHA, BRAVO = OWN.services


def _sleeper(spec: PlatformSpec = OWN, **changes: object) -> ServiceSpec:
    """A public service on a route of its own that nothing calls, rolled out in place, at zero."""
    fields: dict[str, object] = {"min_tasks": 0, "rollout": Rolling(), **changes}
    return new_service(spec, "sleeper", **fields)  # type: ignore[arg-type]


def _with_sleeper(spec: PlatformSpec = OWN, **changes: object) -> PlatformSpec:
    return replace(spec, services=(*spec.services, _sleeper(spec, **changes)))


def _production() -> PlatformSpec:
    return own_services(first_or_skip((s for s in (b() for b in PROFILES.values()) if s.production), "production"))


NAME = unused_name(OWN, "sleeper")
S = f"services[{NAME}]"


def _called() -> PlatformSpec:
    """Bravo calls the sleeper as well as alpha."""
    calls = (*BRAVO.calls, NAME)
    return replace(OWN, services=(ALPHA, replace(BRAVO, calls=calls), _sleeper()))


def _default_route() -> PlatformSpec:
    """The sleeper takes the default route; alpha moves to a route of its own."""
    alpha = replace(ALPHA, route=f"/{ALPHA.name}/*")
    return replace(OWN, services=(alpha, BRAVO, _sleeper(route=None)))


REFUSED: dict[str, tuple[Callable[[], object], str]] = {
    "below zero": (lambda: _sleeper(min_tasks=-1), f"{S}.min_tasks: must be a whole number of at least 0 (got -1)"),
    "min tasks not a number": (
        lambda: _sleeper(min_tasks=False),
        f"{S}.min_tasks: must be a whole number of at least 0 (got False)",
    ),
    "no task at most": (lambda: _sleeper(max_tasks=0), f"{S}.max_tasks: must be a whole number of at least 1 (got 0)"),
    "idle for no minute": (
        lambda: _sleeper(idle_minutes=0),
        f"{S}.idle_minutes: must be whole minutes from 1 to {MAX_IDLE_MINUTES} (got 0)",
    ),
    "idle longer than an alarm looks back": (
        lambda: _sleeper(idle_minutes=MAX_IDLE_MINUTES + 1),
        f"{S}.idle_minutes: must be whole minutes from 1 to {MAX_IDLE_MINUTES} (got {MAX_IDLE_MINUTES + 1})",
    ),
    "internal": (
        lambda: _sleeper(kind=INTERNAL, route=None),
        f"{S}.min_tasks: an {INTERNAL} service cannot wake on demand: no load balancer in front of it sees a request",
    ),
    "worker": (
        lambda: new_service(OWN, "sleeper", kind=WORKER, min_tasks=0),
        f"{S}.min_tasks: a {WORKER} service cannot wake on demand",
    ),
    "production": (
        lambda: _with_sleeper(_production()),
        f"{S}.min_tasks: production keeps every service running: a cold start answers 503",
    ),
    "called through cloud map": (
        _called,
        f"{S}.min_tasks: {BRAVO.name} calls it through Cloud Map, which lists no address while it has no task",
    ),
    "the smoke tests' api": (
        lambda: replace(_with_sleeper(), delivery=replace(OWN.delivery, api_service=NAME)),
        f"{S}.min_tasks: it is delivery.api_service: the release's smoke tests call it through Cloud Map (API_URL)",
    ),
    "the public url's root": (
        _default_route,
        f"{S}.min_tasks: it takes the default route: the release's smoke tests load the public URL's root page",
    ),
    "canary": (lambda: _with_sleeper(rollout=Canary()), f"{S}.min_tasks: its CANARY roll-out judges new tasks"),
    "blue/green": (
        lambda: _with_sleeper(rollout=BlueGreen()),
        f"{S}.min_tasks: its BLUE_GREEN roll-out judges new tasks on live traffic, and at zero there are none",
    ),
    "the profile's linear default": (
        lambda: _with_sleeper(replace(OWN, default_rollout=Linear()), rollout=None),
        f"{S}.min_tasks: its LINEAR roll-out judges new tasks",
    ),
    "objectives that expect traffic": (
        lambda: _with_sleeper(objectives=ObjectivesSpec(expects_traffic=True)),
        f"{S}.min_tasks: its objectives expect traffic (expects_traffic): each sleep would open a NoTraffic ticket",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_each_sleeper_that_could_not_wake_is_refused_in_one_line(case: str) -> None:
    build, expected = REFUSED[case]
    with pytest.raises(SpecError) as refusal:
        build()
    message = str(refusal.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_a_public_service_nothing_calls_may_sleep() -> None:
    spec = _with_sleeper()
    sleeper = spec.service(NAME)
    assert sleeper.kind == PUBLIC
    assert sleeper.min_tasks == 0
    assert sleeper.idle_minutes == DEFAULT_IDLE_MINUTES
    assert _with_sleeper(idle_minutes=MAX_IDLE_MINUTES).service(NAME).idle_minutes == MAX_IDLE_MINUTES


def test_the_release_needs_no_task_of_the_services_whose_images_its_tasks_run() -> None:
    """The migrations and the smoke tests run the service's image as one-off tasks: neither role
    keeps it awake."""
    sleeper = _sleeper(uses_database=True)
    spec = replace(
        OWN,
        services=(*OWN.services, sleeper),
        delivery=replace(OWN.delivery, migrations_service=sleeper.name, smoke_test_service=sleeper.name),
    )
    assert spec.service(sleeper.name).min_tasks == 0


def test_the_shipped_profiles_keep_a_task_of_every_service() -> None:
    for build in PROFILES.values():
        spec = build()
        assert all(service.min_tasks >= 1 for service in spec.services), spec.environment
