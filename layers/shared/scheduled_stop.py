"""A resource stopped outside its profile's window and started before it: the database, the NAT
instance. EventBridge Scheduler calls the service's own stop and start actions (universal
targets: https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html)
at wall-clock times in the window's time zone, as a role that may call exactly those two actions
on exactly this resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from platform_spec.schedule import RunSchedule

# A stop refused because the resource is busy (a backup, a modification) is tried again for an
# hour; after that the next window's stop is the next chance.
RETRY_FOR_HOURS = 1


@dataclass(frozen=True, kw_only=True)
class StopStart:
    """The API calls that stop and start one resource, as EventBridge Scheduler names them."""

    service: str
    """The service's SDK name in lowercase (``rds``, ``ec2``)."""
    stop: str
    """The stop call in camelCase (``stopDBInstance``)."""
    start: str
    """The start call in camelCase (``startDBInstance``)."""
    arguments: Mapping[str, Any]
    """The calls' parameters, naming the resource."""
    resource_arn: str
    """What IAM authorizes the calls on."""

    def action(self, call: str) -> str:
        """The IAM action of ``call``: ``rds:StopDBInstance``."""
        return f"{self.service}:{call[0].upper()}{call[1:]}"


class ScheduledStop(Construct):
    """Two schedules and their role: stop at the schedule's ``foundations_sleep``, start at its
    ``foundations_wake``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, schedule: RunSchedule, calls: StopStart
    ) -> None:
        """``name``: the schedules' names start with it (``dev-davidshaevel-database``: another
        environment's deploy identity may not touch them). ``schedule``: the profile's window.
        ``calls``: how to stop and start the resource."""
        super().__init__(scope, construct_id)
        # Only this account's schedules may use it (the confused-deputy guard).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description=f"Stops and starts {calls.resource_arn} outside and inside {schedule.describe()}",
        )
        zone = TimeZone.of(schedule.time_zone)
        self.schedules: dict[str, scheduler.Schedule] = {}
        for action, call, moment in (
            ("Stop", calls.stop, schedule.foundations_sleep),
            ("Start", calls.start, schedule.foundations_wake),
        ):
            self.schedules[action] = scheduler.Schedule(
                self,
                action,
                schedule_name=f"{name}-{action.lower()}",
                description=f"{call} for {schedule.describe()}",
                schedule=scheduler.ScheduleExpression.expression(moment.cron(), zone),
                target=targets.Universal(
                    service=calls.service,
                    action=call,
                    input=scheduler.ScheduleTargetInput.from_object(dict(calls.arguments)),
                    role=self.role,
                    policy_statements=[
                        iam.PolicyStatement(actions=[calls.action(call)], resources=[calls.resource_arn])
                    ],
                    max_event_age=Duration.hours(RETRY_FOR_HOURS),
                ),
            )
