"""The alarms that judge a service's deployment, from its objectives: an alarm while ECS still
holds the previous tasks rolls the deployment back (ECS developer guide, "How the Amazon ECS
deployment alarms work": the service's ``DeploymentAlarms`` with ``Rollback`` on).

Each alarm fires when the service burns its error budget at the SRE workbook's fastest paging
rate (``platform_spec.objectives.BURN_WINDOWS[0]``: 14.4 times what the objective allows at 30
days), over one-minute periods, 2 of 3 breaching:

- ``Errors``: the share of 5xx answers of each of the service's own target groups, the larger;
- ``Latency``: the time to answer, at the percentile that leaves that share of slow requests
  (95 % within 0.5 s at 14.4 times the budget: more than 72 % slower than 0.5 s, so p28);
- ``<caller>Errors``: the same share for each public service that calls this one through Cloud
  Map, whose failed calls the load balancer never sees (a caller answers 5xx when a callee fails:
  docs/image-contract.md); its own objective's threshold.

A target group is judged per group, not the load balancer's whole: during a canary the new
tasks' group carries a tenth of the traffic, and its failures would vanish in the total. Each
judges only a minute with at least ``MIN_REQUESTS`` requests: one failed request of two is no
verdict, and a quiet environment never rolls back for want of traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from layers.observability.load_balancer_metrics import target_group_metric
from platform_spec import ServiceSpec
from platform_spec.objectives import BURN_WINDOWS, ObjectivesSpec

PERIOD_MINUTES = 1
EVALUATION_PERIODS = 3
DATAPOINTS_TO_ALARM = 2
MIN_REQUESTS = 10
"""Requests a target group must answer in a minute for that minute to count."""


def deployment_burn_rate(objectives: ObjectivesSpec) -> float:
    """How much faster than its objectives allow a deployment may spend the budget: the fastest page's."""
    return BURN_WINDOWS[0].burn_rate(objectives.window_days)


def error_threshold(objectives: ObjectivesSpec) -> float:
    """The share of 5xx answers that rolls a deployment back (0.072 at 99.5 %)."""
    return round(min(1.0, deployment_burn_rate(objectives) * objectives.error_budget), 6)


def latency_percentile(objectives: ObjectivesSpec) -> float:
    """The percentile whose time above the threshold means too many slow requests: with a share
    ``s`` allowed slow, more than ``s`` are slow exactly when p(100 (1 - s)) exceeds it."""
    slow = min(0.99, deployment_burn_rate(objectives) * objectives.latency_budget)
    return round(100 * (1 - slow), 1)


@dataclass(frozen=True)
class Caller:
    """A public service that calls the judged one, and its own target groups."""

    service: ServiceSpec
    target_groups: Sequence[elbv2.ApplicationTargetGroup]


class DeploymentAlarms(Construct):
    """The alarms that roll a deployment of ``service`` back (this module's docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ServiceSpec,
        objectives: ObjectivesSpec,
        target_groups: Sequence[elbv2.ApplicationTargetGroup],
        load_balancer: elbv2.ApplicationLoadBalancer,
        callers: Sequence[Caller] = (),
    ) -> None:
        """``service``: the judged service, which names the alarms. ``objectives``: the service's, which
        set the thresholds. ``target_groups``: its own
        (none for a service the load balancer does not route to). ``load_balancer``: whose
        metrics they are. ``callers``: the public services that call it inside the VPC, whose errors also
        roll it back (default none)."""
        super().__init__(scope, construct_id)
        self._service = service.name
        self._names: list[str] = []
        self._load_balancer = load_balancer
        self.alarms: list[cloudwatch.Alarm] = []
        if target_groups:
            self._errors("errors", service.name, target_groups, objectives)
            self._latency(service.name, target_groups, objectives)
        for caller in callers:
            if caller.service.objectives is not None and caller.target_groups:
                self._errors(
                    f"{caller.service.name}-errors",
                    caller.service.name,
                    caller.target_groups,
                    caller.service.objectives,
                )

    @property
    def alarm_names(self) -> list[str]:
        """Their names as written, not as references (the ECS module's README, "Deployment alarms")."""
        return list(self._names)

    def _metric(self, target_group: elbv2.ApplicationTargetGroup, name: str, statistic: str) -> cloudwatch.Metric:
        return target_group_metric(
            target_group, self._load_balancer, name, statistic=statistic, period=Duration.minutes(PERIOD_MINUTES)
        )

    def _judged(
        self, target_groups: Sequence[elbv2.ApplicationTargetGroup], name: str, statistic: str, value: str
    ) -> cloudwatch.MathExpression:
        """The larger of each group's ``value`` (of ``{m}``, its metric, and ``{r}``, its requests),
        counting a group only in a minute with ``MIN_REQUESTS``."""
        metrics: dict[str, cloudwatch.IMetric] = {}
        judged = []
        for index, target_group in enumerate(target_groups):
            metrics[f"r{index}"] = self._metric(target_group, "RequestCount", "Sum")
            metrics[f"m{index}"] = self._metric(target_group, name, statistic)
            judged.append(f"IF(r{index} >= {MIN_REQUESTS}, {value.format(m=f'm{index}', r=f'r{index}')}, 0)")
        return cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(judged)}])", using_metrics=metrics, period=Duration.minutes(PERIOD_MINUTES)
        )

    def _errors(
        self,
        construct_id: str,
        name: str,
        target_groups: Sequence[elbv2.ApplicationTargetGroup],
        objectives: ObjectivesSpec,
    ) -> None:
        threshold = error_threshold(objectives)
        self._add(
            construct_id,
            self._judged(target_groups, "HTTPCode_Target_5XX_Count", "Sum", "FILL({m}, 0) / {r}"),
            threshold,
            f"{name}: more than {threshold:.2%} of requests answered 5xx (its objective, "
            f"{objectives.availability_percent:g}%, burning {deployment_burn_rate(objectives):g} times too fast)",
        )

    def _latency(
        self, name: str, target_groups: Sequence[elbv2.ApplicationTargetGroup], objectives: ObjectivesSpec
    ) -> None:
        percentile = latency_percentile(objectives)
        self._add(
            "latency",
            self._judged(target_groups, "TargetResponseTime", f"p{percentile:g}", "{m}"),
            objectives.latency_threshold_seconds,
            f"{name}: p{percentile:g} slower than {objectives.latency_threshold_seconds:g}s (its objective, "
            f"{objectives.latency_percent:g}% within it, burning {deployment_burn_rate(objectives):g} times too fast)",
        )

    def _add(self, construct_id: str, metric: cloudwatch.MathExpression, threshold: float, description: str) -> None:
        # Named, so the service can name it without a reference to the alarm (the ECS module's
        # README, "Deployment alarms": a reference may close a dependency cycle).
        name = f"{Stack.of(self).stack_name}-{self._service}-deployment-{construct_id}"
        self._names.append(name)
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=EVALUATION_PERIODS,
            datapoints_to_alarm=DATAPOINTS_TO_ALARM,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Rolls a deployment back: {description}",
        )
        Validations.of(alarm).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5::NIST.800.53.R5-CloudWatchAlarmAction",
                reason="Its action is ECS's: the service's deployment alarms roll a deployment back while this "
                "one fires, and the release that started the deployment reports the failure to the alarm topic.",
            )
        )
        self.alarms.append(alarm)
