"""Scaling a public service on its load-balancer requests per task, whichever target group its
tasks are in.

A service whose roll-out shifts traffic has two target groups, and its tasks move from one to
the other at each deployment; ``ALBRequestCountPerTarget`` names one group, so after a deployment
it would count nothing and scale the service in. Target tracking takes a metric-math expression
instead (Application Auto Scaling user guide, "Create a target tracking scaling policy using
metric math"): the larger of the two groups' requests per target, which is the live group's, and
either during a shift (each group's tasks take their share). CDK's ``scale_to_track_custom_metric``
takes a single metric only, so the expression is written into the policy it creates.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

COOLDOWN_SECONDS = 60


def scale_on_requests(
    scaling: ecs.ScalableTaskCount,
    target_groups: Sequence[elbv2.ApplicationTargetGroup],
    *,
    requests_per_task: int,
) -> None:
    """Hold each task at ``requests_per_task`` requests a minute, read from ``target_groups``."""
    if len(target_groups) == 1:
        scaling.scale_on_request_count("Requests", requests_per_target=requests_per_task, target_group=target_groups[0])
        return
    per_target = [
        cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name="RequestCountPerTarget",
            dimensions_map={"TargetGroup": group.target_group_full_name},
            statistic="Sum",
            period=Duration.minutes(1),
        )
        for group in target_groups
    ]
    scaling.scale_to_track_custom_metric(
        "Requests",
        metric=per_target[0],
        target_value=requests_per_task,
        scale_in_cooldown=Duration.seconds(COOLDOWN_SECONDS),
        scale_out_cooldown=Duration.seconds(COOLDOWN_SECONDS),
    )
    (resource,) = [
        c
        for c in scaling.node.find_all()
        if isinstance(c, appscaling.CfnScalingPolicy)
        and c.node.scope is not None
        and c.node.scope.node.id == "Requests"
    ]
    queries = [
        {
            "Id": f"group{index}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": metric.namespace,
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": "TargetGroup", "Value": group.target_group_full_name}],
                },
                "Stat": "Sum",
            },
        }
        for index, (metric, group) in enumerate(zip(per_target, target_groups, strict=True))
    ]
    expression = f"MAX([{', '.join(f'group{index}' for index in range(len(queries)))}])"
    prefix = "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification"
    for replaced in ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit"):
        resource.add_property_deletion_override(f"{prefix}.{replaced}")
    resource.add_property_override(
        f"{prefix}.Metrics",
        [*queries, {"Id": "requests", "Expression": expression, "Label": "requests per task", "ReturnData": True}],
    )
