"""``make cost`` with a schedule: the cron expressions the templates carry, read and integrated over a
week, and what a schedule stops priced for the hours it runs; on synthetic templates shaped as the
scheduled templates are (tools/cost_schedule.py)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from platform_spec.profiles import PROFILES
from platform_spec.schedule import DAYS, WEEK_MINUTES, Moment, RunSchedule
from tools.cost import PRICES, Item, main, price_template
from tools.cost_schedule import Cron, parse_cron, weekly_mean

WEEKDAYS = RunSchedule(time_zone="America/New_York")
ODD_DAYS = RunSchedule(days=("MON", "WED", "SAT"), starts="09:30", ends="17:05", time_zone="Europe/Paris")
STACK = "synthetic"
DB_IDENTIFIER = "synthetic-postgres"
INSTANCE_TYPE = next(iter(PRICES["hourly"]["ec2"]))


def _services(schedule: RunSchedule) -> float:
    return schedule.awake_fraction()


def _foundations(schedule: RunSchedule) -> float:
    return schedule.awake_fraction(lead_minutes=schedule.wake_lead_minutes, lag_minutes=schedule.sleep_lag_minutes)


def _by_brute_force(levels: list[tuple[Moment, float]]) -> float:
    """The mean level minute by minute: the last firing at or before each minute holds, round the week."""
    firings = {
        DAYS.index(day) * 24 * 60 + moment.at.hour * 60 + moment.at.minute: level
        for moment, level in levels
        for day in moment.days
    }
    last = firings[max(firings)]
    total = 0.0
    for minute in range(WEEK_MINUTES):
        last = firings.get(minute, last)
        total += last
    return total / WEEK_MINUTES


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("cron(0 19 ? * MON-FRI *)", (0, 1, 2, 3, 4)),
        ("cron(50 7 ? * MON,TUE,WED,THU,FRI *)", (0, 1, 2, 3, 4)),
        ("cron(0 8 ? * SAT,MON-TUE *)", (0, 1, 5)),
        ("cron(0 8 ? * * *)", tuple(range(7))),
        ("cron(0 8 * * ? *)", tuple(range(7))),
    ],
)
def test_the_six_field_form_is_read(expression: str, days: tuple[int, ...]) -> None:
    minute, hour = (int(field) for field in expression.removeprefix("cron(").split()[:2])
    assert parse_cron(expression) == Cron(minute=minute, hour=hour, days=days)


def test_the_spec_writes_what_the_tool_reads() -> None:
    for moment in (ODD_DAYS.services_wake, ODD_DAYS.foundations_sleep):
        cron = parse_cron(moment.cron())
        assert (cron.hour, cron.minute) == (moment.at.hour, moment.at.minute)
        assert tuple(DAYS[day] for day in cron.days) == moment.days


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("rate(1 hour)", "not a cron(...) expression"),
        ("at(2026-01-01T08:00:00)", "not a cron(...) expression"),
        ("cron(0 8 * * MON-FRI)", "5 fields, not 6"),
        ("cron(0/5 8 ? * MON *)", "minutes '0/5'"),
        ("cron(0 24 ? * MON *)", "hours '24'"),
        ("cron(0 8 ? * FRI-MON *)", "the days 'FRI-MON' run backwards"),
        ("cron(0 8 ? * MOON *)", "day 'MOON'"),
        ("cron(0 8 ? * 2-6 *)", "day '2'"),
        ("cron(0 8 ? 1 MON *)", "month and year must be '*'"),
        ("cron(0 8 1 * ? *)", "day-of-month '1'"),
    ],
)
def test_what_the_tool_cannot_read_is_said_in_one_line(expression: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)) as refused:
        parse_cron(expression)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("schedule", [WEEKDAYS, ODD_DAYS])
def test_a_week_of_firings_is_integrated_as_the_spec_counts_it(schedule: RunSchedule) -> None:
    services = [(schedule.services_sleep, 0.0), (schedule.services_wake, 1.0)]
    foundations = [(schedule.foundations_sleep, 0.0), (schedule.foundations_wake, 1.0)]
    for levels, expected in ((services, _services(schedule)), (foundations, _foundations(schedule))):
        mean = weekly_mean([(parse_cron(moment.cron()), level) for moment, level in levels])
        assert mean == pytest.approx(expected)
        assert mean == pytest.approx(_by_brute_force(levels))


def test_levels_hold_until_the_next_firing_round_the_week() -> None:
    """Two tasks on weekdays, one at the weekend, none overnight: a sleep that crosses midnight
    and the week's end."""
    levels = [
        (Moment(days=DAYS[:5], at=WEEKDAYS.services_wake.at), 2.0),
        (Moment(days=DAYS[5:], at=WEEKDAYS.services_wake.at), 1.0),
        (Moment(days=DAYS, at=WEEKDAYS.services_sleep.at), 0.0),
    ]
    assert weekly_mean([(parse_cron(m.cron()), level) for m, level in levels]) == pytest.approx(_by_brute_force(levels))
    assert weekly_mean([(parse_cron(WEEKDAYS.services_wake.cron()), 3.0)]) == 3.0


def test_two_firings_at_one_minute_that_disagree_are_refused() -> None:
    wake = parse_cron(WEEKDAYS.services_wake.cron())
    with pytest.raises(ValueError, match=r"^two firings at MON 08:00 set 1 and 0$"):
        weekly_mean([(wake, 1.0), (wake, 0.0)])


# Synthetic templates shaped as the scheduled ones are: a service scaled by scheduled actions, a
# database and a NAT instance stopped and started by EventBridge Scheduler.
def _action(name: str, moment: Moment, zone: str, capacity: int) -> dict[str, Any]:
    return {
        "ScheduledActionName": name,
        "Schedule": moment.cron(),
        "Timezone": zone,
        "ScalableTargetAction": {"MinCapacity": capacity, "MaxCapacity": capacity},
    }


def _call(call: str, moment: Moment, zone: str, target_input: object) -> dict[str, Any]:
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "ScheduleExpression": moment.cron(),
            "ScheduleExpressionTimezone": zone,
            "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": f"arn:aws:scheduler:::aws-sdk:{call}",
                "RoleArn": {"Fn::GetAtt": ["SleepRole", "Arn"]},
                "Input": target_input,
            },
        },
    }


def _template(schedule: RunSchedule | None) -> dict[str, Any]:
    fargate = {"Cpu": "256", "Memory": "512", "RuntimePlatform": {"CpuArchitecture": "ARM64"}}
    target: dict[str, Any] = {
        "MinCapacity": 1,
        "MaxCapacity": 2,
        "ResourceId": {"Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Web", "Name"]}]]},
    }
    resources: dict[str, Any] = {
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {**fargate, "ContainerDefinitions": [{"Name": "web"}]},
        },
        "Web": {
            "Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": {"Ref": "Task"}, "ServiceRegistries": [{"RegistryArn": "x"}]},
        },
        "WebTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": target},
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBInstanceIdentifier": DB_IDENTIFIER,
                "DBInstanceClass": next(iter(PRICES["hourly"]["rds_postgresql"])),
                "AllocatedStorage": "20",
                "ManageMasterUserPassword": True,
            },
        },
        "Nat": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "InstanceType": INSTANCE_TYPE,
                "Monitoring": True,
                "NetworkInterfaces": [{"AssociatePublicIpAddress": True, "DeviceIndex": "0"}],
            },
        },
    }
    if schedule is None:
        return {"Resources": resources}
    zone = schedule.time_zone
    target["ScheduledActions"] = [
        _action("sleep", schedule.services_sleep, zone, 0),
        _action("wake", schedule.services_wake, zone, target["MinCapacity"]),
    ]
    database = json.dumps({"DbInstanceIdentifier": DB_IDENTIFIER})
    nat = {"Fn::Join": ["", ['{"InstanceIds":["', {"Ref": "Nat"}, '"]}']]}
    resources |= {
        "DatabaseStop": _call("rds:stopDBInstance", schedule.foundations_sleep, zone, database),
        "DatabaseStart": _call("rds:startDBInstance", schedule.foundations_wake, zone, database),
        "NatStop": _call("ec2:stopInstances", schedule.foundations_sleep, zone, nat),
        "NatStart": _call("ec2:startInstances", schedule.foundations_wake, zone, nat),
    }
    return {"Resources": resources}


def _shares(items: list[Item]) -> dict[str, float]:
    return {item.name: item.awake for item in items}


@pytest.mark.parametrize("schedule", [WEEKDAYS, ODD_DAYS])
def test_what_the_schedule_stops_is_priced_for_the_hours_it_runs(schedule: RunSchedule) -> None:
    """Fargate tasks and their Cloud Map instances for the service's hours; the database's
    instance hours and the NAT instance's hours, address and monitoring for theirs; storage, the
    volume and the secret all week. The all-week column is what the template costs unscheduled."""
    items = price_template(STACK, _template(schedule))
    unscheduled = price_template(STACK, _template(None))
    assert [(i.name, i.monthly) for i in items] == [(i.name, i.monthly) for i in unscheduled]
    assert all(item.awake == 1 for item in unscheduled)
    services, foundations = _services(schedule), _foundations(schedule)
    expected = {
        "Fargate web": services,
        "Cloud Map instances of web": services,
        "RDS PostgreSQL": foundations,
        "RDS gp3 storage": 1,
        "Secrets Manager secret (RDS master password)": 1,
        f"EC2 {INSTANCE_TYPE} (Nat)": foundations,
        "EBS gp3": 1,
        "public IPv4 address (instance)": foundations,
        "EC2 detailed monitoring": foundations,
    }
    shares = _shares(items)
    assert len(shares) == len(expected)
    for start, share in expected.items():
        (name,) = [name for name in shares if name.startswith(start)]
        assert shares[name] == pytest.approx(share), name
    for item in items:
        assert item.scheduled == pytest.approx(item.monthly * item.awake)
        assert item.time_zone == (schedule.time_zone if item.awake < 1 else None)


def test_a_schedule_for_something_else_or_disabled_stops_nothing() -> None:
    template = _template(WEEKDAYS)
    resources = template["Resources"]
    resources["DatabaseStop"]["Properties"]["Target"]["Input"] = json.dumps({"DbInstanceIdentifier": "another"})
    resources["DatabaseStart"]["Properties"]["Target"]["Input"] = json.dumps({"DbInstanceIdentifier": "another"})
    resources["NatStop"]["Properties"]["State"] = "DISABLED"
    shares = _shares(price_template(STACK, template))
    assert next(share for name, share in shares.items() if name.startswith("RDS PostgreSQL")) == 1
    # Only the start fires: the instance is up all week.
    assert next(share for name, share in shares.items() if name.startswith(f"EC2 {INSTANCE_TYPE}")) == 1


def _assembly(tmp_path: Path, template: dict[str, Any]) -> Path:
    (tmp_path / f"{STACK}.template.json").write_text(json.dumps(template))
    return tmp_path


def test_the_command_prints_both_columns_and_holds_the_budget_to_the_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = price_template(STACK, _template(WEEKDAYS))
    week, asleep = sum(i.monthly for i in items), sum(i.scheduled for i in items)
    assert asleep < week
    spec = dataclasses.replace(PROFILES["dev"](), schedule=WEEKDAYS, monthly_budget_usd=round(asleep + 1, 2))
    assert main([str(_assembly(tmp_path, _template(WEEKDAYS)))], spec=spec) == 0
    out = capsys.readouterr().out
    assert f"TOTAL fixed: ${week:.2f} a month all week; ${asleep:.2f} with the schedule ({WEEKDAYS.describe()})" in out
    assert f"{STACK}: ${week:.2f} all week; ${asleep:.2f} with the schedule" in out
    web = next(i for i in items if i.name.startswith("Fargate web"))
    assert f"${web.monthly:>7.2f}  ${web.scheduled:>7.2f}  ({web.awake:.0%} of the week)" in out
    assert f"Budget: ${spec.monthly_budget_usd:.2f} a month (monthly_budget_usd)" in out
    over = dataclasses.replace(spec, monthly_budget_usd=round(asleep - 1, 2))
    assert main([str(tmp_path)], spec=over) == 1
    assert f"OVER BUDGET: ${asleep:.2f} a month with the schedule is $1.00 over" in capsys.readouterr().out


def test_without_a_spec_the_total_names_the_templates_time_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(_assembly(tmp_path, _template(ODD_DAYS)))]) == 0
    total = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("TOTAL"))
    assert total.endswith(f"with the schedule (as the templates stop and start it, {ODD_DAYS.time_zone} time)")


def test_an_unscheduled_assembly_prints_one_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = price_template(STACK, _template(None))
    assert main([str(_assembly(tmp_path, _template(None)))]) == 0
    out = capsys.readouterr().out
    assert f"TOTAL fixed: ${sum(i.monthly for i in items):.2f} a month\n" in out
    assert "with the schedule" not in out


def _broken(change: str) -> dict[str, Any]:
    template = _template(WEEKDAYS)
    resources = template["Resources"]
    if change == "rate":
        resources["WebTarget"]["Properties"]["ScheduledActions"][0]["Schedule"] = "rate(5 minutes)"
    elif change == "zones":
        resources["NatStart"]["Properties"]["ScheduleExpressionTimezone"] = "UTC"
    elif change == "capacity":
        del resources["WebTarget"]["Properties"]["ScheduledActions"][1]["ScalableTargetAction"]["MinCapacity"]
    else:
        resources["DatabaseStop"]["Properties"]["Target"]["Input"] = "{DbInstanceIdentifier"
    return template


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("rate", "error: WebTarget (sleep): cannot read the schedule 'rate(5 minutes)': not a cron(...) expression"),
        ("zones", "error: the stop and start schedules NatStop, NatStart: its schedules are in different time zones"),
        ("capacity", "error: WebTarget (wake): ScalableTargetAction.MinCapacity None is not a count of tasks"),
        ("input", "error: DatabaseStop: Target.Input '{DbInstanceIdentifier' is not JSON"),
    ],
)
def test_a_schedule_the_tool_cannot_read_ends_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, said: str
) -> None:
    assert main([str(_assembly(tmp_path, _broken(change)))]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(said)
    assert captured.err.count("\n") == 1
    assert captured.out == ""
