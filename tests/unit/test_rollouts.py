"""Roll-outs in the spec: each validated where it is built, defaults per profile, and the
release's wait budget derived from the slowest of them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from platform_spec import PlatformSpec
from platform_spec.delivery import CLOUDFORMATION_MINUTES
from platform_spec.errors import SpecError
from platform_spec.profiles import PROFILES, dev, prod
from platform_spec.rollouts import START_MINUTES, BlueGreen, Canary, Linear, Rolling, deployment_minutes
from tests.variants import every_kind_variant


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Canary(percent=0), "rollout.percent"),
        (lambda: Canary(percent=10.05), "rollout.percent"),
        (lambda: Canary(canary_minutes=1441), "rollout.canary_minutes"),
        (lambda: Linear(step_percent=2.9), "rollout.step_percent"),
        (lambda: Linear(step_minutes=-1), "rollout.step_minutes"),
        (lambda: BlueGreen(bake_minutes=True), "rollout.bake_minutes"),
    ],
)
def test_a_bad_rollout_is_refused_in_one_line(build: object, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        build()  # type: ignore[operator]
    assert refused.value.field == field
    assert "\n" not in str(refused.value)


def test_only_a_public_service_can_shift_traffic() -> None:
    spec = every_kind_variant(dev())
    for service in spec.services:
        if not service.is_public:
            with pytest.raises(SpecError, match="only a public service's traffic can be shifted"):
                replace(service, rollout=Canary())


def test_the_profile_default_reaches_public_services_and_rolling_the_rest() -> None:
    spec = replace(every_kind_variant(dev()), default_rollout=BlueGreen())
    for service in spec.services:
        assert spec.rollout_of(service) == (BlueGreen() if service.is_public else Rolling()), service.name
    first = spec.public_services[0]
    mixed = replace(spec, services=tuple(replace(s, rollout=Rolling()) if s is first else s for s in spec.services))
    assert mixed.rollout_of(mixed.public_services[0]) == Rolling()


def test_prod_is_progressive_and_dev_fast() -> None:
    assert all(prod().rollout_of(s).shifts_traffic for s in prod().public_services)
    assert all(isinstance(dev().rollout_of(s), Rolling) for s in dev().services)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_release_waits_as_long_as_the_slowest_rollout_needs(name: str) -> None:
    spec: PlatformSpec = PROFILES[name]()
    slowest = max(deployment_minutes(spec.rollout_of(s)) for s in spec.services)
    assert spec.update_minutes == slowest + CLOUDFORMATION_MINUTES
    assert spec.update_polls * spec.delivery.rollout_poll_seconds >= spec.update_minutes * 60
    # Two tasks, and three updates (the release, CloudFormation's roll-back, the restore).
    assert spec.release_timeout_minutes >= 2 * spec.delivery.task_timeout_minutes + 3 * spec.update_minutes
    slower = replace(spec, default_rollout=Linear(step_percent=10, step_minutes=30, bake_minutes=60))
    assert slower.update_minutes == CLOUDFORMATION_MINUTES + START_MINUTES + 10 * 30 + 60
    assert slower.update_polls > spec.update_polls
    assert slower.release_timeout_minutes > spec.release_timeout_minutes


def test_a_release_timeout_shorter_than_the_rollouts_need_is_refused() -> None:
    spec = prod()
    with pytest.raises(SpecError, match=r"delivery\.release_timeout_minutes: must be from"):
        replace(spec, delivery=replace(spec.delivery, release_timeout_minutes=spec.release_timeout_minutes - 1))
    longer = replace(spec, delivery=replace(spec.delivery, release_timeout_minutes=spec.release_timeout_minutes + 60))
    assert longer.release_timeout_minutes == spec.release_timeout_minutes + 60
