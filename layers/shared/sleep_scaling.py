"""An ECS service asleep outside its profile's window: scheduled scaling to zero and back.

Application Auto Scaling's scheduled actions carry the window's time zone, so daylight saving
moves them with the wall clock ("Scheduled scaling for Application Auto Scaling", time zones:
https://docs.aws.amazon.com/autoscaling/application/userguide/scheduled-scaling-using-cron-expressions.html).
A service that sleeps has no ``DesiredCount`` in its template: CloudFormation would set it back
on every deploy, waking a sleeping service (or, as in the original platform, resetting a scaled
one); autoscaling owns the count instead.
"""

from __future__ import annotations

from aws_cdk import TimeZone
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecs as ecs

from platform_spec.schedule import Moment, RunSchedule


def sleep_outside_window(
    service: ecs.FargateService,
    *,
    schedule: RunSchedule,
    wakes: Moment,
    min_tasks: int,
    max_tasks: int,
    scaling: ecs.ScalableTaskCount | None = None,
) -> ecs.ScalableTaskCount:
    """Scale ``service`` to ``min_tasks``..``max_tasks`` at ``wakes`` and to zero when the window
    closes (``schedule.services_sleep``). ``scaling``: the service's own scalable task count,
    where it autoscales; without one, it gets a fixed ``min_tasks``..``max_tasks`` one."""
    if scaling is None:
        cfn = service.node.default_child
        assert isinstance(cfn, ecs.CfnService)
        cfn.add_property_deletion_override("DesiredCount")
        scaling = service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
    zone = TimeZone.of(schedule.time_zone)
    scaling.scale_on_schedule(
        "Wake",
        schedule=appscaling.Schedule.expression(wakes.cron()),
        time_zone=zone,
        min_capacity=min_tasks,
        max_capacity=max_tasks,
    )
    scaling.scale_on_schedule(
        "Sleep",
        schedule=appscaling.Schedule.expression(schedule.services_sleep.cron()),
        time_zone=zone,
        min_capacity=0,
        max_capacity=0,
    )
    return scaling
