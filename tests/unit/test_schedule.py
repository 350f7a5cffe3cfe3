"""``RunSchedule``: validated where built, and the moments, sleeps and mute windows it derives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from platform_spec import SpecError
from platform_spec.profiles import PROFILES
from platform_spec.schedule import DAYS, WEEK_MINUTES, RunSchedule


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"days": ()}, "schedule.days: must name each day once"),
        ({"days": ("MON", "MON")}, "schedule.days: must name each day once"),
        ({"days": ("Monday",)}, "schedule.days: must name each day once"),
        ({"days": ["MON"]}, "schedule.days: must name each day once"),
        ({"starts": "8:00"}, "schedule.starts: must be a 24-hour time written HH:MM"),
        ({"starts": "25:00"}, "schedule.starts: must be a 24-hour time written HH:MM"),
        ({"ends": "19:03"}, "schedule.ends: must fall on a multiple of 5 minutes"),
        ({"ends": "08:00"}, "schedule.ends: must be later the same day than starts (08:00)"),
        ({"time_zone": "Mars/Olympus"}, "schedule.time_zone: not an IANA time zone name"),
        ({"time_zone": "../etc"}, "schedule.time_zone: not an IANA time zone name"),
        ({"wake_lead_minutes": 5}, "schedule.wake_lead_minutes: must be from 10 to 120 minutes"),
        ({"sleep_lag_minutes": 7}, "schedule.sleep_lag_minutes: must be from 5 to 120 minutes, a multiple of 5"),
        ({"settle_minutes": True}, "schedule.settle_minutes: must be from 10 to 120 minutes"),
        ({"starts": "00:10"}, "schedule.starts: must leave 20 minutes after midnight"),
        ({"ends": "23:55"}, "schedule.ends: must leave 10 minutes before midnight"),
        ({"days": DAYS, "starts": "02:30", "ends": "23:45"}, "schedule.ends: must leave at least 3 hours asleep"),
    ],
)
def test_a_bad_schedule_is_refused_in_one_line(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as raised:
        RunSchedule(**fields)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_production_runs_all_week() -> None:
    prod = PROFILES["prod"]()
    with pytest.raises(SpecError, match=r"^schedule: production runs all week"):
        dataclasses.replace(prod, schedule=RunSchedule())


def test_a_window_too_short_for_backups_and_maintenance_is_refused() -> None:
    schedule = RunSchedule(starts="09:00", ends="12:00", time_zone="Europe/Paris")
    with pytest.raises(SpecError, match="at least 4 hours a day for backups and maintenance"):
        schedule.database_windows()


def test_the_moments_follow_the_window() -> None:
    schedule = RunSchedule(days=("MON", "WED"), starts="09:30", ends="17:00", wake_lead_minutes=30)
    assert schedule.services_wake.cron() == "cron(30 9 ? * MON,WED *)"
    assert schedule.observability_wakes.cron() == "cron(15 9 ? * MON,WED *)"
    assert schedule.foundations_wake.cron() == "cron(0 9 ? * MON,WED *)"
    assert schedule.services_sleep.cron() == "cron(0 17 ? * MON,WED *)"
    assert schedule.foundations_sleep.cron() == "cron(10 17 ? * MON,WED *)"
    assert schedule.services_sleep.five_field_cron() == "cron(0 17 * * MON,WED)"
    assert schedule.describe() == "MON,WED 09:30-17:00 UTC"


def test_the_sleeps_of_a_week_add_up_with_the_windows() -> None:
    for schedule in (RunSchedule(), RunSchedule(days=("SUN", "TUE")), RunSchedule(days=DAYS, ends="20:00")):
        sleeps = schedule.sleeps()
        awake = len(schedule.days) * (
            int(schedule.ends[:2]) * 60 + int(schedule.ends[3:]) - int(schedule.starts[:2]) * 60
        )
        assert sum(length for _, length in sleeps) + awake == WEEK_MINUTES
        assert schedule.awake_fraction() == pytest.approx(awake / WEEK_MINUTES)
    weekdays = RunSchedule()
    assert weekdays.longest_sleep == timedelta(hours=61)
    assert weekdays.shortest_sleep == timedelta(hours=13)
    assert weekdays.awake_fraction(lead_minutes=20, lag_minutes=10) == pytest.approx(5 * 11.5 / 168)


def test_the_mute_windows_overlap_by_an_hour_and_end_settled() -> None:
    schedule = RunSchedule(settle_minutes=25)
    windows = schedule.mute_windows()
    evenings, (morning,) = windows[:-1], windows[-1:]
    assert {(w.starts.days, w.duration) for w in evenings} == {
        (("MON", "TUE", "WED", "THU"), "PT12H"),
        (("FRI",), "P2DT12H"),
    }
    assert morning.starts.five_field_cron() == "cron(0 6 * * MON,TUE,WED,THU,FRI)"
    assert morning.duration == "PT2H25M"


def test_awake_reads_the_zones_wall_clock() -> None:
    schedule = RunSchedule(time_zone="Asia/Tokyo")
    # Monday 2026-12-07 09:00 in Tokyo is Monday 00:00 UTC.
    assert schedule.is_awake(datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    assert not schedule.is_awake(datetime(2026, 12, 6, 22, 59, tzinfo=UTC))
    assert not schedule.is_awake(datetime(2026, 12, 5, 3, 0, tzinfo=UTC)), "a Saturday"
