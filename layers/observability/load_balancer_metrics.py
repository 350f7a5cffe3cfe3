"""A target group's Application Load Balancer metrics, as the alarms read them."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2


def target_group_metric(
    target_group: elbv2.ApplicationTargetGroup,
    load_balancer: elbv2.ApplicationLoadBalancer,
    name: str,
    *,
    statistic: str,
    period: Duration,
) -> cloudwatch.Metric:
    """``name`` of ``target_group`` behind ``load_balancer``. The dimensions come from the resources'
    own FullName attributes: CDK's ``target_group.metrics`` derives the load balancer's by splitting
    an ARN, and CloudFormation accepts no stack-output reference inside ``Fn::Split``."""
    return cloudwatch.Metric(
        namespace="AWS/ApplicationELB",
        metric_name=name,
        dimensions_map={
            "TargetGroup": target_group.target_group_full_name,
            "LoadBalancer": load_balancer.load_balancer_full_name,
        },
        statistic=statistic,
        period=period,
    )
