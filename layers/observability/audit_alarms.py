"""Alarms on the audit trail's counts of changes made outside the deploy path (``AuditTrail``, in
the data stack), each notifying the alarm topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from layers.observability.audit_trail import AUDIT_METRICS
from layers.observability.platform_alarms import PlatformAlarms


class AuditAlarms(Construct):
    """One alarm per audit metric: any change in five minutes fires it."""

    def __init__(self, scope: Construct, construct_id: str, *, namespace: str, alarms: PlatformAlarms) -> None:
        """``namespace``: where the data stack's audit trail writes its metrics (``audit_namespace``).
        ``alarms``: the platform's alarms, whose topic each alarm notifies."""
        super().__init__(scope, construct_id)
        for metric in AUDIT_METRICS:
            alarm = cloudwatch.Metric(
                namespace=namespace, metric_name=metric.name, statistic="Sum", period=Duration.minutes(5)
            ).create_alarm(
                self,
                metric.name,
                alarm_description=f"{metric.description}: read the audit trail's events",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # No change, no data point.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarms.notify(alarm)
