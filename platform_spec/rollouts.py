"""How a release reaches a service's traffic: its roll-out.

Four strategies, Amazon ECS's own (developer guide, "Deploy Amazon ECS services by replacing
tasks", "Amazon ECS blue/green deployments", "Amazon ECS linear deployments", "Amazon ECS canary
deployments"):

- ``Rolling()``: new tasks replace old ones, each taking traffic once its health checks pass;
- ``Canary(percent, canary_minutes, bake_minutes)``: a full set of new tasks starts beside the
  old; ``percent`` of the load balancer's traffic goes to them for ``canary_minutes``, then all
  of it, and the old tasks stay ``bake_minutes`` more for an instant roll-back;
- ``Linear(step_percent, step_minutes, bake_minutes)``: the same, shifting ``step_percent`` more
  every ``step_minutes``;
- ``BlueGreen(bake_minutes)``: the same, all traffic at once.

Every strategy watches the service's deployment alarms, made from its objectives
(``layers/compute/deployment_alarms.py``): an alarm before the old tasks are gone rolls the
deployment back. The shifting strategies move only what the load balancer routes, so they need
a public service; callers inside the VPC find a service through Cloud Map, which answers with
every task, old and new (docs/operations.md, "Roll-outs: canary, linear, blue/green").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from platform_spec.errors import SpecError

Strategy = Literal["ROLLING", "CANARY", "LINEAR", "BLUE_GREEN"]

MAX_MINUTES = 1440
"""ECS's bound on a bake or step time: 24 hours."""
START_MINUTES = 10
"""What a deployment needs besides its waits, at worst: pulling and starting the new tasks, the
health-check grace (60 s), two passing load-balancer checks (30 s), deregistering the old ones
(30 s), and the alarms' own evaluation (three one-minute periods)."""


def _minutes(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINUTES:
        raise SpecError(where, value, f"must be whole minutes from 0 to {MAX_MINUTES}")
    return value


def _percent(where: str, value: object, lowest: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lowest <= value <= 100:
        raise SpecError(where, value, f"must be a percentage from {lowest:g} to 100")
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise SpecError(where, value, "must be a multiple of 0.1 (ECS shifts traffic in tenths of a percent)")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class Rolling:
    """Tasks replaced in place; the circuit breaker and the deployment alarms roll it back."""

    strategy: ClassVar[Strategy] = "ROLLING"
    shifts_traffic: ClassVar[bool] = False
    """Whether it moves the load balancer's traffic between two sets of tasks."""

    @property
    def wait_minutes(self) -> int:
        """The waits it adds to starting tasks: none."""
        return 0


@dataclass(frozen=True, kw_only=True)
class Canary:
    """``percent`` of the traffic to the new tasks for ``canary_minutes``, then all of it;
    the old tasks kept ``bake_minutes`` more."""

    percent: float = 10.0
    canary_minutes: int = 5
    bake_minutes: int = 10
    strategy: ClassVar[Strategy] = "CANARY"
    shifts_traffic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _percent("rollout.percent", self.percent, 0.1)
        _minutes("rollout.canary_minutes", self.canary_minutes)
        _minutes("rollout.bake_minutes", self.bake_minutes)

    @property
    def wait_minutes(self) -> int:
        return self.canary_minutes + self.bake_minutes


@dataclass(frozen=True, kw_only=True)
class Linear:
    """``step_percent`` more of the traffic every ``step_minutes``; the old tasks kept
    ``bake_minutes`` once all of it has moved."""

    step_percent: float = 25.0
    step_minutes: int = 3
    bake_minutes: int = 10
    strategy: ClassVar[Strategy] = "LINEAR"
    shifts_traffic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _percent("rollout.step_percent", self.step_percent, 3.0)
        _minutes("rollout.step_minutes", self.step_minutes)
        _minutes("rollout.bake_minutes", self.bake_minutes)

    @property
    def steps(self) -> int:
        """How many shifts it takes to move all the traffic."""
        return math.ceil(100 / self.step_percent - 1e-9)

    @property
    def wait_minutes(self) -> int:
        return self.steps * self.step_minutes + self.bake_minutes


@dataclass(frozen=True, kw_only=True)
class BlueGreen:
    """All traffic to the new tasks at once; the old tasks kept ``bake_minutes``."""

    bake_minutes: int = 10
    strategy: ClassVar[Strategy] = "BLUE_GREEN"
    shifts_traffic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _minutes("rollout.bake_minutes", self.bake_minutes)

    @property
    def wait_minutes(self) -> int:
        return self.bake_minutes


Rollout = Rolling | Canary | Linear | BlueGreen
ROLLOUTS = (Rolling, Canary, Linear, BlueGreen)
ROLLING = Rolling()


def check_rollout(where: str, rollout: object, *, public: bool) -> None:
    """A roll-out of one of the four kinds; a shifting one only where the load balancer routes."""
    if not isinstance(rollout, ROLLOUTS):
        raise SpecError(where, rollout, "must be Rolling(), Canary(...), Linear(...) or BlueGreen(...)")
    if rollout.shifts_traffic and not public:
        raise SpecError(
            where,
            rollout,
            "only a public service's traffic can be shifted (the load balancer routes it); use Rolling()",
        )


def deployment_minutes(rollout: Rollout) -> int:
    """The longest one deployment of the service takes: starting tasks and every wait."""
    return START_MINUTES + rollout.wait_minutes
