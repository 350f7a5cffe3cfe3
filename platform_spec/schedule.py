"""When a profile runs: its working window, and what sleeps outside it.

A ``RunSchedule`` names the days and the hours, in a named time zone, when an environment is
used (``dev``: weekdays 08:00-19:00). Outside the window every ECS service is at zero tasks, the
database is stopped, and a NAT instance is stopped; the load balancer, the distribution and the
state stay. The pieces return in dependency order: the database and the NAT instance
``wake_lead_minutes`` before the window, Prometheus, Alertmanager and Grafana half that, the
application services at its start; they go the other way round, the database and the NAT
instance ``sleep_lag_minutes`` after it.

Every time here is wall-clock time in ``time_zone``: the scaling actions, the stop and start
schedules and the alarms' mute rules all carry the zone, so daylight saving moves them together.
The alarms that sleep trips are muted from the end of the window until ``settle_minutes`` into
the next (``AlarmQuietHours``); RDS restarts a stopped database by itself after seven days,
which no weekly window reaches (``longest_sleep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platform_spec.errors import SpecError

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
"""The days of the week as AWS's cron expressions name them, Monday first (``datetime.weekday``)."""
WEEKDAYS = DAYS[:5]
RDS_LONGEST_STOP = timedelta(days=7)
"""RDS starts a stopped instance by itself after seven days (RDS user guide, "Stopping an Amazon
RDS DB instance temporarily")."""
DST_SLACK = timedelta(hours=1)
"""The most a daylight-saving change moves wall-clock time: a mute rule lasts a fixed time, so
the rules overlap by this much (``mute_windows``)."""
WEEK_MINUTES = 7 * 24 * 60


def _clock(where: str, value: object) -> time:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise SpecError(where, value, "must be a 24-hour time written HH:MM")
    try:
        parsed = time(int(value[:2]), int(value[3:]))
    except ValueError:
        raise SpecError(where, value, "must be a 24-hour time written HH:MM") from None
    if parsed.minute % 5:
        raise SpecError(where, value, "must fall on a multiple of 5 minutes")
    return parsed


def _minutes_of(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _at(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@dataclass(frozen=True, kw_only=True)
class Moment:
    """A time of day on some days of the week, as a cron expression names it."""

    days: tuple[str, ...]
    at: time

    def cron(self) -> str:
        """Application Auto Scaling's and EventBridge Scheduler's six fields:
        ``cron(0 8 ? * MON,TUE *)``."""
        return f"cron({self.at.minute} {self.at.hour} ? * {','.join(self.days)} *)"

    def five_field_cron(self) -> str:
        """A CloudWatch alarm mute rule's five fields: ``cron(0 8 * * MON,TUE)``."""
        return f"cron({self.at.minute} {self.at.hour} * * {','.join(self.days)})"


@dataclass(frozen=True, kw_only=True)
class MuteWindow:
    """One recurring mute: from ``starts`` on its days for ``minutes``."""

    starts: Moment
    minutes: int

    @property
    def duration(self) -> str:
        """ISO 8601, as a mute rule takes it: ``P2DT13H15M``."""
        days, rest = divmod(self.minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


@dataclass(frozen=True, kw_only=True)
class RunSchedule:
    """When an environment runs; outside the window it sleeps (module docstring)."""

    days: tuple[str, ...] = WEEKDAYS
    """The days the window opens, as ``MON`` ... ``SUN``."""
    starts: str = "08:00"
    """When the window opens, HH:MM in ``time_zone``: the application services start."""
    ends: str = "19:00"
    """When it closes, HH:MM, later the same day: every service goes to zero tasks."""
    time_zone: str = "UTC"
    """An IANA time zone name (``America/New_York``); daylight saving follows it."""
    wake_lead_minutes: int = 20
    """How long before the window the database and the NAT instance start (RDS takes a few
    minutes to start); Prometheus, Alertmanager and Grafana start at half of it."""
    sleep_lag_minutes: int = 10
    """How long after the window the database and the NAT instance stop, once the tasks are gone."""
    settle_minutes: int = 20
    """How long into the window the alarms stay muted while everything returns and their
    periods fill with healthy data; an outage still there when it ends is notified then."""

    def __post_init__(self) -> None:
        where = "schedule"
        if (
            not isinstance(self.days, tuple)
            or not self.days
            or any(d not in DAYS for d in self.days)
            or len(set(self.days)) != len(self.days)
        ):
            raise SpecError(f"{where}.days", self.days, f"must name each day once, from {', '.join(DAYS)}")
        starts, ends = _clock(f"{where}.starts", self.starts), _clock(f"{where}.ends", self.ends)
        if ends <= starts:
            raise SpecError(f"{where}.ends", self.ends, f"must be later the same day than starts ({self.starts})")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise SpecError(f"{where}.time_zone", self.time_zone, "not an IANA time zone name") from None
        for name, lowest in (("wake_lead_minutes", 10), ("sleep_lag_minutes", 5), ("settle_minutes", 10)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 120 or value % 5:
                raise SpecError(f"{where}.{name}", value, f"must be from {lowest} to 120 minutes, a multiple of 5")
        if _minutes_of(starts) < self.wake_lead_minutes:
            raise SpecError(
                f"{where}.starts", self.starts, f"must leave {self.wake_lead_minutes} minutes after midnight"
            )
        if _minutes_of(ends) + self.sleep_lag_minutes >= 24 * 60:
            raise SpecError(f"{where}.ends", self.ends, f"must leave {self.sleep_lag_minutes} minutes before midnight")
        if self.shortest_sleep < 3 * DST_SLACK:
            raise SpecError(f"{where}.ends", self.ends, "must leave at least 3 hours asleep before the next window")

    # The moments each piece wakes and sleeps; everything on the window's own days.
    def _moment(self, minutes: int) -> Moment:
        return Moment(days=self.days, at=_at(minutes))

    @property
    def _start(self) -> int:
        return _minutes_of(_clock("schedule.starts", self.starts))

    @property
    def _end(self) -> int:
        return _minutes_of(_clock("schedule.ends", self.ends))

    @property
    def services_wake(self) -> Moment:
        return self._moment(self._start)

    @property
    def observability_wakes(self) -> Moment:
        return self._moment(self._start - self.wake_lead_minutes // 2)

    @property
    def foundations_wake(self) -> Moment:
        """The database and the NAT instance."""
        return self._moment(self._start - self.wake_lead_minutes)

    @property
    def services_sleep(self) -> Moment:
        """Every ECS service, observability included."""
        return self._moment(self._end)

    @property
    def foundations_sleep(self) -> Moment:
        return self._moment(self._end + self.sleep_lag_minutes)

    def sleeps(self) -> tuple[tuple[int, int], ...]:
        """Each sleep as (minute of the week it starts, its length in minutes), Monday 00:00 first."""
        opens = sorted(DAYS.index(d) * 24 * 60 + self._start for d in self.days)
        closes = sorted(DAYS.index(d) * 24 * 60 + self._end for d in self.days)
        return tuple(
            (close, (opens[(i + 1) % len(opens)] - close) % WEEK_MINUTES or WEEK_MINUTES)
            for i, close in enumerate(closes)
        )

    @property
    def shortest_sleep(self) -> timedelta:
        return timedelta(minutes=min(length for _, length in self.sleeps()))

    @property
    def longest_sleep(self) -> timedelta:
        return timedelta(minutes=max(length for _, length in self.sleeps()))

    def awake_fraction(self, *, lead_minutes: int = 0, lag_minutes: int = 0) -> float:
        """The share of a week something is up that starts ``lead_minutes`` before the window and
        stops ``lag_minutes`` after it."""
        return len(self.days) * (self._end - self._start + lead_minutes + lag_minutes) / WEEK_MINUTES

    def mute_windows(self) -> tuple[MuteWindow, ...]:
        """From each window's end until ``settle_minutes`` into the next, as two rules each: a
        mute rule lasts a fixed time while the clock may move an hour overnight, so the first
        lasts until an hour before the window and the second starts two hours before it."""
        ends: dict[int, list[str]] = {}
        for close, length in self.sleeps():
            ends.setdefault(length, []).append(DAYS[close // (24 * 60)])
        wake = Moment(days=tuple(self.days), at=_at(self._start - 2 * 60 if self._start >= 120 else 0))
        evening = [
            MuteWindow(
                starts=Moment(days=tuple(days), at=_at(self._end)),
                minutes=length - int(DST_SLACK.total_seconds() // 60),
            )
            for length, days in sorted(ends.items())
        ]
        before_wake = min(120, self._start)
        return (*evening, MuteWindow(starts=wake, minutes=before_wake + self.settle_minutes))

    @property
    def backups_start(self) -> Moment:
        """When AWS Backup starts its daily job: an hour into the window, on its days (a stopped
        database takes no backup: RDS backs up only an available instance)."""
        return self._moment(self._start + 60)

    def database_windows(self) -> tuple[str, str]:
        """RDS's automated-backup and maintenance windows, which RDS takes in UTC: each 30 minutes,
        inside the window whatever the zone's offset that year (1h30 and 3h in on summer time,
        an hour earlier on winter time); maintenance on the window's first day."""
        offsets = self._utc_offsets()
        if self._end - self._start < 240 + max(offsets) - min(offsets):
            raise SpecError("schedule.ends", self.ends, "must leave at least 4 hours a day for backups and maintenance")

        def utc(local_minute_of_week: int) -> tuple[str, str]:
            start = (local_minute_of_week - max(offsets)) % WEEK_MINUTES
            end = (start + 30) % WEEK_MINUTES
            day, clock = f"{DAYS[start // 1440].capitalize()}:", f"{start % 1440 // 60:02d}:{start % 60:02d}"
            return f"{day}{clock}", f"{DAYS[end // 1440].capitalize()}:{end % 1440 // 60:02d}:{end % 60:02d}"

        backup = utc(self._start + 90)
        maintenance = utc(DAYS.index(self.days[0]) * 1440 + self._start + 180)
        return f"{backup[0][4:]}-{backup[1][4:]}", f"{maintenance[0]}-{maintenance[1]}"

    def _utc_offsets(self) -> set[int]:
        """The zone's offsets from UTC in minutes over a year."""
        zone, noon = ZoneInfo(self.time_zone), datetime(2026, 1, 1, 12)
        return {
            int(offset.total_seconds() // 60)
            for day in range(366)
            if (offset := (noon + timedelta(days=day)).replace(tzinfo=zone).utcoffset()) is not None
        }

    def is_awake(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls inside a window, on the zone's wall clock."""
        local = at.astimezone(ZoneInfo(self.time_zone))
        minutes = _minutes_of(local.time())
        return DAYS[local.weekday()] in self.days and self._start <= minutes < self._end

    def describe(self) -> str:
        """``MON-FRI 08:00-19:00 America/New_York``: how messages name the window."""
        days = "MON-FRI" if self.days == WEEKDAYS else ",".join(self.days)
        return f"{days} {self.starts}-{self.ends} {self.time_zone}"
