"""One CloudWatch dashboard: the state of every alarm and the metric behind each."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct


class PlatformDashboard(Construct):
    """Built from the alarms, so every alarm the spec yields has its graph."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, alarms: list[cloudwatch.Alarm]) -> None:
        """``name``: the dashboard's (the stack prefix). ``alarms``: every alarm of ``PlatformAlarms``."""
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name)
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24))
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.AlarmWidget(alarm=alarm, title=alarm.node.id, width=8) for alarm in alarms
        ]
        for start in range(0, len(widgets), 3):
            self.dashboard.add_widgets(*widgets[start : start + 3])
