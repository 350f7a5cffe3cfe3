"""Alertmanager's configuration, rendered from the spec: where alerts go, grouped how, and what quiets what.

- Every alert goes to the alarm topic, the SNS topic CloudWatch's alarms publish to, so operators
  have one place to subscribe. The task's role signs the ``Publish`` calls (SigV4).
- Alerts of an environment and severity are one group: what fires together (every service behind
  a fallen database) is one message, not one per alert. A group waits ``group_wait_seconds`` for
  more before its first message, and is sent again when it changes or, for pages,
  every ``repeat_hours``; tickets once a day.
- A page quiets the ticket of the same service and objective: the same burn, told once. A ticket's
  group waits twice as long as a page's before its first message: Alertmanager's inhibitor learns
  of a new page apart from the dispatcher, and a ticket sent before it has would not be quieted.
- In a profile with a schedule, pages and tickets are muted while it sleeps, from the window's end
  to ``settle_minutes`` into the next, in its time zone (``mute_time_intervals``): what sleep stops
  is not an outage. The heartbeat is not muted; it stops with Alertmanager.
- ``Watchdog`` (always firing, layers/observability/alert_rules.py) goes to the heartbeat topic every
  ``heartbeat_minutes`` instead, and only there: a CloudWatch alarm fires when its publishes stop,
  which tells that Prometheus, Alertmanager or the path between them and SNS is down.

Built as data and written with PyYAML.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from layers.observability.alert_rules import HEARTBEAT_SEVERITY, WATCHDOG
from platform_spec import PlatformSpec
from platform_spec.objectives import PAGE, TICKET
from platform_spec.schedule import DAYS, RunSchedule

ALARM_RECEIVER = "alarm-topic"
HEARTBEAT_RECEIVER = "heartbeat-topic"
ASLEEP = "asleep"
"""The time interval a scheduled profile sleeps in."""
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GROUP_BY = ("project", "environment", "severity")
"""Prometheus's external labels, and the severity: one group per environment and severity."""

SUBJECT = (
    "[{{ .Status | toUpper }}] {{ .CommonLabels.project }} {{ .CommonLabels.environment }}: "
    "{{ .CommonLabels.severity }}"
)
"""SNS takes at most 100 characters of subject; the alerts themselves are in the message."""
_WHEN = '"2006-01-02 15:04:05 MST"'
MESSAGE = "".join(
    (
        "{{ range .Alerts -}}\n",
        "{{ .Status | toUpper }} {{ .Labels.alertname }}: service {{ .Labels.service }}",
        "{{ if .Labels.objective }}, objective {{ .Labels.objective }}{{ end }} ({{ .Labels.severity }})\n",
        "{{ .Annotations.summary }}\n",
        "{{ .Annotations.description }}\n",
        f"Since {{{{ .StartsAt.Format {_WHEN} }}}}",
        f'{{{{ if eq .Status "resolved" }}}}, resolved {{{{ .EndsAt.Format {_WHEN} }}}}{{{{ end }}}}\n',
        "\n{{ end -}}\n",
    )
)
"""One paragraph per alert: what, which service and objective, and since when."""


def _sns(topic_arn: str, *, region: str, api_url: str | None, send_resolved: bool, **texts: str) -> dict[str, Any]:
    config: dict[str, Any] = {"topic_arn": topic_arn, "sigv4": {"region": region}, "send_resolved": send_resolved}
    if api_url is not None:
        config["api_url"] = api_url
    return {**config, **texts}


def asleep_intervals(schedule: RunSchedule) -> list[dict[str, Any]]:
    """Alertmanager's time intervals of a sleep: the window's days before it opens (and settles)
    and after it closes, and every other day whole, on the zone's wall clock."""
    opens = schedule.services_wake.at
    settled = opens.hour * 60 + opens.minute + schedule.settle_minutes
    window_days = [WEEKDAY_NAMES[DAYS.index(d)] for d in schedule.days]
    other_days = [name for day, name in zip(DAYS, WEEKDAY_NAMES, strict=True) if day not in schedule.days]
    intervals: list[dict[str, Any]] = [
        {
            "weekdays": window_days,
            "times": [
                {"start_time": "00:00", "end_time": f"{settled // 60:02d}:{settled % 60:02d}"},
                {"start_time": schedule.ends, "end_time": "24:00"},
            ],
            "location": schedule.time_zone,
        }
    ]
    if other_days:
        intervals.append({"weekdays": other_days, "location": schedule.time_zone})
    return intervals


def ticket_wait_seconds(spec: PlatformSpec) -> int:
    """How long a ticket's group waits before its first message: twice a page's."""
    return 2 * spec.alertmanager.group_wait_seconds


def alertmanager_config(
    spec: PlatformSpec, *, alarm_topic_arn: str, heartbeat_topic_arn: str, api_url: str | None = None
) -> dict[str, Any]:
    """The configuration's content. ``api_url``: another SNS endpoint (the tests' stand-in); by
    default the region's own."""
    alertmanager = spec.alertmanager
    heartbeat = f"{alertmanager.heartbeat_minutes}m"
    # The root route takes no mute times: pages get a route of their own to carry them.
    muted: dict[str, Any] = {"mute_time_intervals": [ASLEEP]} if spec.schedule else {}
    config: dict[str, Any] = {
        "route": {
            "receiver": ALARM_RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": f"{alertmanager.group_wait_seconds}s",
            "group_interval": f"{alertmanager.group_interval_seconds}s",
            "repeat_interval": f"{alertmanager.repeat_hours}h",
            "routes": [
                {
                    "matchers": [f'alertname="{WATCHDOG}"'],
                    "receiver": HEARTBEAT_RECEIVER,
                    "group_wait": "0s",
                    "group_interval": heartbeat,
                    "repeat_interval": heartbeat,
                },
                {
                    "matchers": [f'severity="{TICKET}"'],
                    "receiver": ALARM_RECEIVER,
                    "group_wait": f"{ticket_wait_seconds(spec)}s",
                    "repeat_interval": "24h",
                    **copy.deepcopy(muted),
                },
                *([{"matchers": [f'severity="{PAGE}"'], "receiver": ALARM_RECEIVER, **muted}] if muted else []),
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'severity="{PAGE}"'],
                "target_matchers": [f'severity="{TICKET}"'],
                "equal": ["service", "objective"],
            }
        ],
        "receivers": [
            {
                "name": ALARM_RECEIVER,
                "sns_configs": [
                    _sns(
                        alarm_topic_arn,
                        region=spec.region,
                        api_url=api_url,
                        send_resolved=True,
                        subject=SUBJECT,
                        message=MESSAGE,
                    )
                ],
            },
            {
                "name": HEARTBEAT_RECEIVER,
                "sns_configs": [
                    _sns(
                        heartbeat_topic_arn,
                        region=spec.region,
                        api_url=api_url,
                        send_resolved=False,
                        subject=f"{spec.stack_prefix} {HEARTBEAT_SEVERITY}",
                        message=f"{WATCHDOG}: the alert path of {spec.stack_prefix} works.",
                    )
                ],
            },
        ],
    }
    if spec.schedule is not None:
        config["time_intervals"] = [{"name": ASLEEP, "time_intervals": asleep_intervals(spec.schedule)}]
    return config


def render_alertmanager_config(
    spec: PlatformSpec, *, alarm_topic_arn: str, heartbeat_topic_arn: str, api_url: str | None = None
) -> str:
    """``alertmanager.yml``."""
    header = (
        "# Rendered at synth from the platform spec (layers/observability/alertmanager_config.py); edit the spec.\n"
    )
    config = alertmanager_config(
        spec, alarm_topic_arn=alarm_topic_arn, heartbeat_topic_arn=heartbeat_topic_arn, api_url=api_url
    )
    body: str = yaml.safe_dump(config, sort_keys=False, width=4096)
    return header + body
