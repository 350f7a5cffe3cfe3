"""An Amazon Managed Service for Prometheus workspace, for remote write."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_aps as aps
from constructs import Construct


class MetricsWorkspace(Construct):
    """Where Prometheus also writes its samples when one server is not enough:
    queries then go to the workspace, which keeps 150 days. Retained on deletion."""

    def __init__(self, scope: Construct, construct_id: str, *, alias: str) -> None:
        """``alias``: the workspace's name (the stack prefix)."""
        super().__init__(scope, construct_id)
        self.workspace = aps.CfnWorkspace(self, "Workspace", alias=alias)
        self.workspace.apply_removal_policy(RemovalPolicy.RETAIN)
