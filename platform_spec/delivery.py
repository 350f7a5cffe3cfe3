"""The release: migrations, smoke tests and how long a release may take."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from platform_spec.errors import SpecError
from platform_spec.rollouts import Rollout, deployment_minutes


@dataclass(frozen=True, kw_only=True)
class DeliverySpec:
    """The deployment state machine: migrations, rolling update, smoke tests. The services and
    commands are the profile's to name (``platform_spec.profiles``): no default names a service."""

    migrations_service: str
    """Service whose image, settings, secrets and database access the migrations task uses."""
    migrate_command: tuple[str, ...]
    """What the migrations task runs on that image (exec form): exits 0 once the schema is current,
    and changes nothing when run again (docs/image-contract.md)."""
    api_service: str
    """Service the smoke tests reach as ``API_URL`` (its Cloud Map URL)."""
    smoke_test_service: str
    """Service whose image the smoke-test task runs (in a security group of its own that may
    reach the API service and, for the public URL, the internet)."""
    smoke_test_command: tuple[str, ...]
    """What the smoke-test task runs on that image: exits 0 when the platform works, non-zero when
    it does not."""
    rollout_poll_seconds: int = 15
    """How often the release asks CloudFormation and ECS how the update is going."""
    task_timeout_minutes: int = 30
    """Longest a migrations or smoke-test task may run before the release fails."""
    release_timeout_minutes: int | None = None
    """Longest a whole release may take, roll-back included. ``None``: what the services'
    roll-outs need (``release_minutes``); a number must be at least that."""

    def __post_init__(self) -> None:
        for name in ("migrate_command", "smoke_test_command"):
            command = getattr(self, name)
            if not command or not all(isinstance(part, str) and part for part in command):
                raise SpecError(f"delivery.{name}", command, "must be a non-empty list of non-empty strings")
        if not 5 <= self.rollout_poll_seconds <= 300:
            raise SpecError("delivery.rollout_poll_seconds", self.rollout_poll_seconds, "must be from 5 to 300")
        if not 1 <= self.task_timeout_minutes <= 240:
            raise SpecError("delivery.task_timeout_minutes", self.task_timeout_minutes, "must be from 1 to 240")
        timeout = self.release_timeout_minutes
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)):
            raise SpecError("delivery.release_timeout_minutes", timeout, "must be whole minutes, or left out")

    def polls(self, minutes: int) -> int:
        """How many checks, ``rollout_poll_seconds`` apart, cover ``minutes``."""
        return math.ceil(minutes * 60 / self.rollout_poll_seconds)


CLOUDFORMATION_MINUTES = 5
"""CloudFormation's own part of an update of the compute stack, besides the deployments it waits
for: new task definitions, the services' and alarms' updates."""


def update_minutes(rollouts: Iterable[Rollout]) -> int:
    """The longest an update of the compute stack takes: its services deploy at once, so the
    slowest deployment, and CloudFormation's own part."""
    return CLOUDFORMATION_MINUTES + max(deployment_minutes(r) for r in rollouts)


def release_minutes(delivery: DeliverySpec, update: int) -> int:
    """The longest a release takes: its two one-off tasks, and three updates of ``update``
    minutes at worst (the release, CloudFormation's roll-back of it, the restore of the
    previous tags), each polled once more than it needs."""
    polled = math.ceil((update * 60 + delivery.rollout_poll_seconds) / 60)
    return 2 * delivery.task_timeout_minutes + 3 * polled


def check_release_budget(delivery: DeliverySpec, update: int) -> None:
    """A release timeout the profile names must leave room for what its roll-outs need."""
    needed = release_minutes(delivery, update)
    if delivery.release_timeout_minutes is not None and not needed <= delivery.release_timeout_minutes <= 24 * 60:
        raise SpecError(
            "delivery.release_timeout_minutes",
            delivery.release_timeout_minutes,
            f"must be from {needed} (two tasks and three updates of {update} minutes, what the roll-outs "
            "need) to 1440, or left out",
        )
