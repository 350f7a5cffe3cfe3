"""The heartbeat of the alert path: a topic Alertmanager publishes the always-firing ``Watchdog``
alert to, and a CloudWatch alarm that fires when those publishes stop."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from layers.observability.platform_alarms import PlatformAlarms

SNS_METRICS_MINUTES = 5
"""SNS pushes its topic metrics to CloudWatch every five minutes (SNS developer guide,
"Monitoring Amazon SNS with CloudWatch"): no period of the alarm can be shorter."""
SILENT_PERIODS = 3


class AlertHeartbeat(Construct):
    """A topic nobody subscribes to (its publishes are what counts) and an alarm, notifying the alarm
    topic, when ``SILENT_PERIODS`` periods in a row saw no publish: Prometheus stopped evaluating,
    Alertmanager stopped sending, or its calls to SNS fail. Missing data is such a silence (a topic
    without publishes reports nothing); so the alarm fires once after the first deploy, until
    Alertmanager runs."""

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, every_minutes: int, alarms: PlatformAlarms
    ) -> None:
        """``key``: the alarm topic's key, which encrypts this topic too. ``every_minutes``: how often
        Alertmanager publishes. ``alarms``: the platform's alarms, whose topic the alarm notifies."""
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True, display_name="Alert path heartbeat")
        period = Duration.minutes(max(SNS_METRICS_MINUTES, every_minutes))
        self.alarm = self.topic.metric_number_of_messages_published(statistic="Sum", period=period).create_alarm(
            self,
            "Silent",
            alarm_description="The alert path is silent: no heartbeat from Alertmanager (Prometheus, Alertmanager "
            "or their publishing to SNS is down)",
            threshold=1,
            evaluation_periods=SILENT_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarms.notify(self.alarm)
