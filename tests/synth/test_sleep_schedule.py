"""A scheduled profile sleeps outside its window and wakes in dependency order, from its templates:
every ECS service scales to zero and back, the database and the NAT instance stop after the tasks
and start before them, backups and maintenance fall inside the window, the alarms sleep trips are
muted through every sleep of a year (daylight saving included) and through no minute of the
window after it settles, and the scheduler's role may stop and start exactly what sleeps."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aws_model.iam import Principal
from aws_model.ledger import Entry, check_ledger
from layers.observability.audit_trail import audit_namespace
from platform_spec.names import COMPUTE, DATA, NETWORK, OBSERVABILITY
from platform_spec.schedule import DAYS, RunSchedule
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, ledger_of
from tools.cost_schedule import parse_cron

Interval = tuple[datetime, datetime]
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 8, tzinfo=UTC))
"""A year and a week: both daylight-saving changes of every zone, and a year's turn."""

_FIVE = re.compile(r"cron\((?P<minute>\d+) (?P<hour>\d+) \* \* (?P<days>[A-Z,]+)\)")
"""A mute rule's cron expression, of five fields (the six-field ones are ``make cost``'s to read)."""
_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?)?")


def _cron(expression: str) -> tuple[tuple[str, ...], time]:
    """The days and the time of day of a scheduled action's or a schedule's cron expression, as
    ``make cost`` reads it."""
    cron = parse_cron(expression)
    return tuple(DAYS[day] for day in cron.days), time(cron.hour, cron.minute)


def _mute_cron(expression: str) -> tuple[tuple[str, ...], time]:
    """The days and the time of day of a mute rule's cron expression."""
    match = _FIVE.fullmatch(expression)
    assert match is not None, f"not a cron expression of a day list and a time: {expression}"
    return tuple(match["days"].split(",")), time(int(match["hour"]), int(match["minute"]))


def _occurrences(days: tuple[str, ...], at: time, zone: str, span: Interval = YEAR) -> Iterator[datetime]:
    """Each moment of ``span`` a cron of ``days`` at ``at`` in ``zone`` fires, in UTC."""
    day = span[0].date() - timedelta(days=1)
    while day <= span[1].date():
        if DAYS[day.weekday()] in days:
            yield datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        day += timedelta(days=1)


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    assert match is not None, text
    return timedelta(days=int(match["d"] or 0), hours=int(match["h"] or 0), minutes=int(match["m"] or 0))


def _union(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _covers(union: list[Interval], start: datetime, end: datetime) -> bool:
    return any(a <= start and end <= b for a, b in union)


def _overlaps(union: list[Interval], start: datetime, end: datetime) -> bool:
    return any(a < end and start < b for a, b in union)


def _sleeps(schedule: RunSchedule) -> Iterator[Interval]:
    """Each sleep of the year, from a window's end to the next window's settled start, in UTC."""
    zone = ZoneInfo(schedule.time_zone)
    starts, ends = time.fromisoformat(schedule.starts), time.fromisoformat(schedule.ends)
    day = YEAR[0].date()
    windows = []
    while day <= YEAR[1].date():
        if DAYS[day.weekday()] in schedule.days:
            windows.append((datetime.combine(day, starts, zone), datetime.combine(day, ends, zone)))
        day += timedelta(days=1)
    settle = timedelta(minutes=schedule.settle_minutes)
    for (_, closes), (opens, _) in itertools.pairwise(windows):
        yield closes.astimezone(UTC), (opens + settle).astimezone(UTC)


def _settled_windows(schedule: RunSchedule) -> Iterator[Interval]:
    sleeps = list(_sleeps(schedule))
    for (_, settled), (closes, _) in itertools.pairwise(sleeps):
        yield settled, closes


def _mutes(rules: list[dict[str, Any]]) -> list[Interval]:
    """When the mute rules mute, as CloudWatch reads them: from each cron occurrence in the rule's
    time zone, for its duration."""
    intervals = []
    for rule in rules:
        schedule = rule["Rule"]["Schedule"]
        days, at = _mute_cron(schedule["Expression"])
        length = _duration(schedule["Duration"])
        intervals += [(t, t + length) for t in _occurrences(days, at, schedule.get("Timezone", "UTC"))]
    return _union(intervals)


def _resources(profile: Synthesized, layer: str, kind: str) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = profile.template_json(layer)["Resources"]
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _scalable_target(profile: Synthesized, layer: str, service_id: str) -> dict[str, Any]:
    targets = _resources(profile, layer, "AWS::ApplicationAutoScaling::ScalableTarget")
    (target,) = [t["Properties"] for t in targets.values() if service_id in json.dumps(t["Properties"]["ResourceId"])]
    found: dict[str, Any] = target
    return found


def _schedules(profile: Synthesized, layer: str) -> dict[str, dict[str, Any]]:
    """The layer's scheduler calls by their API (``rds:stopDBInstance``), each with its resources."""
    found: dict[str, dict[str, Any]] = {}
    for body in _resources(profile, layer, "AWS::Scheduler::Schedule").values():
        props = body["Properties"]
        api = json.dumps(props["Target"]["Arn"]).split("aws-sdk:")[1].split('"')[0]
        found.setdefault(api, {"props": [], "inputs": []})
        found[api]["props"].append(props)
        found[api]["inputs"].append(props["Target"]["Input"])
    return found


def test_every_service_sleeps_outside_the_window_and_wakes_in_order(profile: Synthesized) -> None:
    schedule = profile.spec.schedule
    for layer, wakes in ((COMPUTE, "services_wake"), (OBSERVABILITY, "observability_wakes")):
        for service_id, service in _resources(profile, layer, "AWS::ECS::Service").items():
            target = _scalable_target(profile, layer, service_id) if schedule else None
            if schedule is None:
                assert not any(
                    t["Properties"].get("ScheduledActions")
                    for t in _resources(profile, layer, "AWS::ApplicationAutoScaling::ScalableTarget").values()
                )
                continue
            assert target is not None
            # A deploy sets a template's DesiredCount again: a sleeping service has none.
            assert "DesiredCount" not in service["Properties"], service_id
            actions = {a["ScheduledActionName"]: a for a in target["ScheduledActions"]}
            assert set(actions) == {"Wake", "Sleep"}, service_id
            assert {a["Timezone"] for a in actions.values()} == {schedule.time_zone}
            assert actions["Sleep"]["Schedule"] == schedule.services_sleep.cron()
            assert actions["Sleep"]["ScalableTargetAction"] == {"MinCapacity": 0, "MaxCapacity": 0}
            assert actions["Wake"]["Schedule"] == getattr(schedule, wakes).cron()
            # Waking restores the service's own bounds.
            assert actions["Wake"]["ScalableTargetAction"] == {
                "MinCapacity": target["MinCapacity"],
                "MaxCapacity": target["MaxCapacity"],
            }


def test_the_database_and_the_nat_instance_sleep_after_the_tasks_and_wake_before_them(profile: Synthesized) -> None:
    schedule = profile.spec.schedule
    database = _schedules(profile, DATA)
    nat = _schedules(profile, NETWORK)
    if schedule is None:
        assert not database
        assert not nat
        return
    assert set(database) == {"rds:stopDBInstance", "rds:startDBInstance"}
    for calls in database.values():
        assert [json.loads(i) for i in calls["inputs"]] == [{"DbInstanceIdentifier": profile.spec.database_identifier}]
    instances = _resources(profile, NETWORK, "AWS::EC2::Instance")
    assert len(instances) == (profile.spec.network.nat_gateways if profile.spec.network.nat == "instance" else 0)
    if instances:
        assert set(nat) == {"ec2:stopInstances", "ec2:startInstances"}
        for calls in nat.values():
            named = sorted(re.findall(r"'Ref': '(\w+)'", repr(calls["inputs"])))
            assert named == sorted(instances)
    for calls in (*database.values(), *nat.values()):
        for props in calls["props"]:
            assert props["ScheduleExpressionTimezone"] == schedule.time_zone
            assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    stop, start = database["rds:stopDBInstance"]["props"][0], database["rds:startDBInstance"]["props"][0]
    # The order, from the expressions themselves: foundations, observability, services; and back.
    days, database_wakes = _cron(start["ScheduleExpression"])
    assert days == schedule.days
    assert database_wakes < schedule.observability_wakes.at < schedule.services_wake.at
    assert schedule.services_sleep.at < _cron(stop["ScheduleExpression"])[1]
    for calls in nat.values():
        assert {p["ScheduleExpression"] for p in calls["props"]} <= {
            stop["ScheduleExpression"],
            start["ScheduleExpression"],
        }
    # RDS starts a stopped instance by itself after seven days; no sleep of the week is that long.
    assert schedule.longest_sleep < timedelta(days=7)


def test_backups_and_maintenance_fall_inside_the_window_all_year(profile: Synthesized) -> None:
    """RDS backs up only an available instance, in windows given in UTC: summer or winter time,
    each window is inside the profile's, on one of its days."""
    schedule = profile.spec.schedule
    (instance,) = _resources(profile, DATA, "AWS::RDS::DBInstance").values()
    props = instance["Properties"]
    if schedule is None:
        assert "PreferredBackupWindow" not in props
        return
    zone = ZoneInfo(schedule.time_zone)
    opens, closes = time.fromisoformat(schedule.starts), time.fromisoformat(schedule.ends)
    maintenance_from, maintenance_to = (part.split(":", 1) for part in props["PreferredMaintenanceWindow"].split("-"))
    for day in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)):
        for clock in props["PreferredBackupWindow"].split("-"):
            local = datetime.combine(day, time.fromisoformat(clock), UTC).astimezone(zone)
            if DAYS[local.weekday()] in schedule.days:
                assert opens <= local.time() <= closes, (day, props["PreferredBackupWindow"], local)
        if DAYS[day.weekday()].capitalize() == maintenance_from[0]:
            for clock in (maintenance_from[1], maintenance_to[1]):
                local = datetime.combine(day, time.fromisoformat(clock), UTC).astimezone(zone)
                assert DAYS[local.weekday()] in schedule.days
                assert opens <= local.time() <= closes, (day, props["PreferredMaintenanceWindow"], local)


def _muted_alarms(profile: Synthesized) -> tuple[list[dict[str, Any]], set[str], dict[str, dict[str, Any]]]:
    rules = [r["Properties"] for r in _resources(profile, OBSERVABILITY, "AWS::CloudWatch::AlarmMuteRule").values()]
    targeted = {t["Ref"] for rule in rules for t in rule["MuteTargets"]["AlarmNames"]}
    # The alarms that tell people: those publishing to a topic (a scaling policy's alarm acts on
    # the platform itself, and must not be muted).
    alarms = {
        logical_id: body["Properties"]
        for layer in profile.spec.layers
        for logical_id, body in _resources(profile, layer, "AWS::CloudWatch::Alarm").items()
        if any(
            a.get("Ref") in _resources(profile, layer, "AWS::SNS::Topic")
            for a in body["Properties"].get("AlarmActions", [])
        )
    }
    return rules, targeted, alarms


def test_the_alarms_sleep_trips_are_muted_through_every_sleep_and_no_minute_of_the_window(
    profile: Synthesized,
) -> None:
    """Every alarm that acts, but those that watch people (the audit trail's), is muted from each
    window's end until it has settled, all year; none is muted inside the settled window, so an
    outage there is told (and one still there when a mute ends is told then: "How alarm mute rules
    work", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-mute-rules-behaviour.html)."""
    schedule = profile.spec.schedule
    rules, targeted, alarms = _muted_alarms(profile)
    if schedule is None:
        assert not rules
        return
    people = {k for k, a in alarms.items() if a.get("Namespace") == audit_namespace(profile.spec.stack_prefix)}
    assert profile.spec.audit.by_platform == bool(people)
    assert targeted == set(alarms) - people
    for rule in rules:
        assert {t["Ref"] for t in rule["MuteTargets"]["AlarmNames"]} == targeted, "each rule mutes every one"
    muted = _mutes(rules)
    for start, end in _sleeps(schedule):
        assert _covers(muted, start, end), f"unmuted while asleep between {start} and {end}"
    for start, end in _settled_windows(schedule):
        assert not _overlaps(muted, start, end), f"muted inside the window between {start} and {end}"
    # Each alarm can return to OK while the services settle: its whole evaluation fits.
    for logical_id in targeted:
        alarm = alarms[logical_id]
        period = alarm.get("Period") or next(m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m)
        assert period * alarm["EvaluationPeriods"] <= schedule.settle_minutes * 60, logical_id


def test_a_mute_of_the_sleeps_plain_length_misses_the_autumn_clock_change() -> None:
    """Why each sleep is two rules that overlap by an hour: one rule per sleep lasting exactly its
    wall-clock length ends an hour early the night the clocks go back."""
    schedule = RunSchedule(time_zone="America/New_York")
    sleeps_at, settle = schedule.services_sleep.at, schedule.settle_minutes
    naive = [
        {
            "Rule": {
                "Schedule": {
                    "Expression": f"cron({sleeps_at.minute} {sleeps_at.hour} * * {DAYS[start // 1440]})",
                    "Duration": f"PT{(length + settle) // 60}H{(length + settle) % 60}M",
                    "Timezone": schedule.time_zone,
                }
            }
        }
        for start, length in schedule.sleeps()
    ]
    uncovered = [(s, e) for s, e in _sleeps(schedule) if not _covers(_mutes(naive), s, e)]
    assert uncovered
    assert all(start.month in {10, 11} for start, _ in uncovered)


def test_the_schedules_role_stops_and_starts_exactly_what_sleeps(profile: Synthesized) -> None:
    schedule = profile.spec.schedule
    deployment = deployment_of(profile)
    entries = [e for e in ledger_of(profile, deployment) if isinstance(e, Entry) and e.purpose.startswith("schedule ")]
    if schedule is None:
        assert not entries
        return
    assert check_ledger(deployment, entries) == []
    database_arn = f"arn:aws:rds:{deployment.region}:{deployment.account}:db:{profile.spec.database_identifier}"
    assert {(e.action, e.resource) for e in entries if e.action.startswith("rds:")} == {
        ("rds:StopDBInstance", database_arn),
        ("rds:StartDBInstance", database_arn),
    }
    nat_count = len(_resources(profile, NETWORK, "AWS::EC2::Instance"))
    assert len([e for e in entries if e.action.startswith("ec2:")]) == 2 * nat_count
    for entry in entries:
        other = re.sub(r"(db:|instance/)[\w-]+$", r"\1someone-elses", entry.resource)
        for action, resource in (
            (entry.action, other),
            (entry.action.replace("Stop", "Delete").replace("Start", "Modify"), entry.resource),
            ("ec2:TerminateInstances", entry.resource),
            ("rds:RebootDBInstance", entry.resource),
        ):
            probe = Entry("probe", entry.caller, action, resource)
            assert not probe.check(deployment).allowed, (entry.caller.label, action, resource)
    assert all(isinstance(e.caller.principal, Principal) for e in entries)


@pytest.mark.parametrize("when", ["2026-03-09 12:00", "2026-11-02 12:00"])
def test_a_spring_and_an_autumn_monday_run_from_the_window_s_wall_clock_start(when: str) -> None:
    """``is_awake`` reads the zone's wall clock: the days after each change, noon is awake, 07:00 is not."""
    schedule = RunSchedule(time_zone="America/New_York")
    noon = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(schedule.time_zone))
    assert schedule.is_awake(noon)
    assert not schedule.is_awake(noon.replace(hour=7))
    assert not schedule.is_awake(noon.replace(hour=19))
