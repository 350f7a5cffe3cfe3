"""The release: migrations, smoke tests and how long a release may take."""

from __future__ import annotations

from dataclasses import dataclass

from platform_spec.errors import SpecError


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
    rollout_max_polls: int = 80
    """Polls before an update counts as stuck (80 x 15 s = 20 minutes); it is then cancelled."""
    task_timeout_minutes: int = 30
    """Longest a migrations or smoke-test task may run before the release fails."""
    release_timeout_minutes: int = 150
    """Longest a whole release may take, roll-back included."""

    def __post_init__(self) -> None:
        for name in ("migrate_command", "smoke_test_command"):
            command = getattr(self, name)
            if not command or not all(isinstance(part, str) and part for part in command):
                raise SpecError(f"delivery.{name}", command, "must be a non-empty list of non-empty strings")
        if not 5 <= self.rollout_poll_seconds <= 300:
            raise SpecError("delivery.rollout_poll_seconds", self.rollout_poll_seconds, "must be from 5 to 300")
        if not 1 <= self.rollout_max_polls <= 500:
            raise SpecError("delivery.rollout_max_polls", self.rollout_max_polls, "must be from 1 to 500")
        if not 1 <= self.task_timeout_minutes <= 240:
            raise SpecError("delivery.task_timeout_minutes", self.task_timeout_minutes, "must be from 1 to 240")
        # Two one-off tasks, then at worst an update, its cancellation and a restore, each polled to the limit.
        needed = 2 * self.task_timeout_minutes + -(-3 * self.rollout_max_polls * self.rollout_poll_seconds // 60)
        if not needed <= self.release_timeout_minutes <= 24 * 60:
            raise SpecError(
                "delivery.release_timeout_minutes",
                self.release_timeout_minutes,
                f"must be from {needed} (two tasks and three polled updates) to 1440",
            )
