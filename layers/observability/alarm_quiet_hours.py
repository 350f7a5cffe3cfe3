"""The alarms a scheduled environment's sleep would trip, muted while it sleeps.

CloudWatch alarm mute rules mute an alarm's actions on a schedule while the alarm goes on
evaluating; when a mute ends with the alarm still in the state it was muted in, its actions run
then ("How alarm mute rules work":
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-mute-rules-behaviour.html).
So a sleep notifies nobody, and an outage still there ``settle_minutes`` into the window is
notified when the mute ends. A rule mutes at most 100 alarms by name
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutAlarmMuteRule.html).

Only the alarms under ``watched`` are muted: those on what sleeps (tasks, targets, the database,
the heartbeat). The audit alarms watch people, who do not sleep with the platform.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from platform_spec.schedule import RunSchedule

MAX_ALARMS_PER_RULE = 100


def actioned_alarms(scopes: Sequence[Construct]) -> list[cloudwatch.CfnAlarm]:
    """Every alarm under ``scopes`` that notifies or acts: the ones a mute changes."""
    return [
        node
        for scope in scopes
        for node in scope.node.find_all()
        if isinstance(node, cloudwatch.CfnAlarm) and (node.alarm_actions or node.ok_actions)
    ]


class AlarmQuietHours(Construct):
    """Mute rules over every actioned alarm under ``watched``, one per mute window of the schedule."""

    def __init__(
        self, scope: Construct, construct_id: str, *, schedule: RunSchedule, watched: Sequence[Construct]
    ) -> None:
        """``schedule``: the profile's window; the rules cover each sleep from the window's end to
        ``settle_minutes`` into the next (``RunSchedule.mute_windows``). ``watched``: the constructs
        whose alarms sleep trips; call this after they have made their alarms."""
        super().__init__(scope, construct_id)
        alarms = actioned_alarms(watched)
        chunks = [alarms[i : i + MAX_ALARMS_PER_RULE] for i in range(0, len(alarms), MAX_ALARMS_PER_RULE)]
        self.rules: list[cloudwatch.CfnAlarmMuteRule] = []
        for index, window in enumerate(schedule.mute_windows()):
            for part, chunk in enumerate(chunks):
                self.rules.append(
                    cloudwatch.CfnAlarmMuteRule(
                        self,
                        f"Window{index}" + (f"Part{part}" if part else ""),
                        description=f"Asleep outside {schedule.describe()}: from "
                        f"{window.starts.at:%H:%M} on {','.join(window.starts.days)} for {window.duration}",
                        rule=cloudwatch.CfnAlarmMuteRule.RuleProperty(
                            schedule=cloudwatch.CfnAlarmMuteRule.ScheduleProperty(
                                expression=window.starts.five_field_cron(),
                                duration=window.duration,
                                timezone=schedule.time_zone,
                            )
                        ),
                        mute_targets=cloudwatch.CfnAlarmMuteRule.MuteTargetsProperty(
                            alarm_names=[alarm.ref for alarm in chunk]
                        ),
                    )
                )
