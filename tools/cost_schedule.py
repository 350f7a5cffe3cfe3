"""When what ``tools.cost`` prices runs: the share of a week the templates' own schedules keep it up.

A scheduled profile's templates say when each piece sleeps and wakes. An ECS service's scalable
target carries scheduled actions that set its minimum capacity, and EventBridge Scheduler
schedules stop and start the database and the NAT instance. Each cron expression is read on its
time zone's wall clock and integrated over the 7 x 24 x 60 minutes of a week: between two
firings, what the earlier one set holds, round the week. A week that daylight saving shortens or
lengthens by an hour is not modelled.

Only the six-field form that Application Auto Scaling and EventBridge Scheduler share is read:
``cron(M H ? * DAYS *)``, one minute and one hour, the days as ``MON-FRI``, ``MON,WED`` or ``*``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec.schedule import DAYS, WEEK_MINUTES

DAY_MINUTES = 24 * 60
_CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
# EventBridge Scheduler's universal targets for the SDK calls that stop and start what sleeps.
_STOP_START = {
    "rds": ("rds:stopdbinstance", "rds:startdbinstance"),
    "ec2": ("ec2:stopinstances", "ec2:startinstances"),
}


class ScheduleError(Exception):
    """A schedule in a template the tool cannot read; the message is one line naming the resource."""


@dataclass(frozen=True)
class Cron:
    """At ``hour``:``minute`` on each of ``days`` (0 is Monday)."""

    minute: int
    hour: int
    days: tuple[int, ...]

    def minutes_of_week(self) -> tuple[int, ...]:
        """Each firing as minutes after Monday 00:00."""
        return tuple(day * DAY_MINUTES + self.hour * 60 + self.minute for day in self.days)


def _day(token: str) -> int:
    if token.upper() not in DAYS:
        raise ValueError(f"day {token!r} is not one of {', '.join(DAYS)}")
    return DAYS.index(token.upper())


def _days(field: str) -> tuple[int, ...]:
    if field == "*":
        return tuple(range(7))
    days: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        start, end = _day(first), _day(last or first)
        if end < start:
            raise ValueError(f"the days {part!r} run backwards")
        days.update(range(start, end + 1))
    return tuple(sorted(days))


def _number(field: str, what: str, highest: int) -> int:
    if not field.isdigit() or int(field) > highest:
        raise ValueError(f"{what} {field!r} must be one number from 0 to {highest}")
    return int(field)


def parse_cron(expression: object) -> Cron:
    """``cron(M H ? * DAYS *)``; a ValueError says what else it is."""
    match = _CRON.match(expression.strip()) if isinstance(expression, str) else None
    if match is None:
        raise ValueError("not a cron(...) expression")
    fields = match["fields"].split()
    if len(fields) != 6:
        raise ValueError(f"{len(fields)} fields, not 6 (minutes hours day-of-month month day-of-week year)")
    minute, hour, day_of_month, month, day_of_week, year = fields
    if month != "*" or year != "*":
        raise ValueError("month and year must be '*'")
    if day_of_month == "?":
        days = _days(day_of_week)
    elif day_of_month == "*" and day_of_week == "?":
        days = tuple(range(7))
    else:
        raise ValueError(f"day-of-month {day_of_month!r} must be '?' (the days are the day-of-week field's)")
    return Cron(minute=_number(minute, "minutes", 59), hour=_number(hour, "hours", 23), days=days)


def _when(minute_of_week: int) -> str:
    day, minutes = divmod(minute_of_week, DAY_MINUTES)
    return f"{DAYS[day]} {minutes // 60:02d}:{minutes % 60:02d}"


def weekly_mean(levels: Iterable[tuple[Cron, float]]) -> float:
    """The mean over a week of what the firings set: each level holds from its firing until the
    next one, round the week. A ValueError when two firings at one minute disagree."""
    firings: dict[int, float] = {}
    for cron, level in levels:
        for minute in cron.minutes_of_week():
            if firings.setdefault(minute, level) != level:
                raise ValueError(f"two firings at {_when(minute)} set {firings[minute]:g} and {level:g}")
    if not firings:
        raise ValueError("nothing fires")
    times = sorted(firings)
    held = [(times[(i + 1) % len(times)] - time) % WEEK_MINUTES or WEEK_MINUTES for i, time in enumerate(times)]
    return sum(length * firings[time] for length, time in zip(held, times, strict=True)) / WEEK_MINUTES


@dataclass(frozen=True)
class Awake:
    """What the schedules say of one resource: how much of it runs at the busiest (tasks; 1 for
    an instance), the weekly mean, and the time zone the schedules are read in."""

    peak: float
    mean: float
    time_zone: str

    @property
    def share(self) -> float:
        """The share of the week's bill it runs up, against running at ``peak`` all week."""
        return self.mean / self.peak if self.peak else 1.0


def _parse(owner: str, expression: object) -> Cron:
    try:
        return parse_cron(expression)
    except ValueError as error:
        raise ScheduleError(f"{owner}: cannot read the schedule {expression!r}: {error}") from None


def _awake(owner: str, levels: list[tuple[Cron, float]], zones: set[str], *, peak: float | None = None) -> Awake:
    if len(zones) > 1:
        raise ScheduleError(f"{owner}: its schedules are in different time zones ({', '.join(sorted(zones))})")
    try:
        mean = weekly_mean(levels)
    except ValueError as error:
        raise ScheduleError(f"{owner}: {error}") from None
    highest = max(level for _, level in levels) if peak is None else peak
    return Awake(peak=highest, mean=mean, time_zone=zones.pop())


def _capacity(owner: str, value: object) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ScheduleError(f"{owner}: ScalableTargetAction.MinCapacity {value!r} is not a count of tasks")


def scaling_schedule(logical_id: str, props: Mapping[str, Any]) -> Awake | None:
    """A scalable target's scheduled actions: each sets the tasks that run (its MinCapacity) until
    the next; ``None`` without any."""
    actions = props.get("ScheduledActions") or []
    if not actions:
        return None
    levels, zones = [], set()
    for action in actions:
        owner = f"{logical_id} ({action.get('ScheduledActionName', 'a scheduled action')})"
        level = _capacity(owner, action.get("ScalableTargetAction", {}).get("MinCapacity"))
        levels.append((_parse(owner, action.get("Schedule")), float(level)))
        zones.add(str(action.get("Timezone") or "UTC"))
    return _awake(logical_id, levels, zones)


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {str(node["Ref"])}
        return {ref for value in node.values() for ref in _refs(value)}
    if isinstance(node, list):
        return {ref for value in node for ref in _refs(value)}
    return set()


def _named(owner: str, target_input: object) -> set[str]:
    """What an SDK call's Input names: the identifiers in literal JSON, or the logical ids it refers to."""
    if not isinstance(target_input, str):
        return _refs(target_input)
    try:
        data = json.loads(target_input)
    except json.JSONDecodeError:
        raise ScheduleError(f"{owner}: Target.Input {target_input!r} is not JSON") from None
    if not isinstance(data, dict):
        return set()
    names = {str(data[key]) for key in ("DbInstanceIdentifier", "DBInstanceIdentifier") if key in data}
    ids = data.get("InstanceIds")
    return names | ({str(i) for i in ids} if isinstance(ids, list) else set())


def _literal(value: Any) -> str:
    """A template string, with a ``Fn::Join``'s literal parts joined (CDK writes a target's ARN
    with the partition: ``arn:${AWS::Partition}:scheduler:::aws-sdk:rds:stopDBInstance``)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(p if isinstance(p, str) else "" for p in parts)
    return str(value)


def stop_start_schedule(resources: Mapping[str, Any], service: str, names: set[str]) -> Awake | None:
    """The share of the week the enabled stop and start schedules in ``resources`` that name one of
    ``names`` (``service`` ``rds`` or ``ec2``) keep it up: from each start until the next stop.
    ``None`` when none names it."""
    stop, start = _STOP_START[service]
    levels, zones, owners = [], set(), []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Scheduler::Schedule":
            continue
        props = resource.get("Properties", {})
        target = props.get("Target", {})
        call = ":".join(_literal(target.get("Arn", "")).split(":")[-2:]).lower()
        if call not in (stop, start) or props.get("State", "ENABLED") != "ENABLED":
            continue
        if not names & _named(logical_id, target.get("Input")):
            continue
        levels.append((_parse(logical_id, props.get("ScheduleExpression")), 1.0 if call == start else 0.0))
        zones.add(str(props.get("ScheduleExpressionTimezone") or "UTC"))
        owners.append(logical_id)
    if not levels:
        return None
    return _awake(f"the stop and start schedules {', '.join(owners)}", levels, zones, peak=1.0)
