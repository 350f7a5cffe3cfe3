"""Network stack: the VPC, its flow logs, and every security group and rule."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from cdk_constructs.logs_key import LogsKey
from cdk_constructs.platform_vpc import PlatformVpc
from cdk_constructs.security_groups import PlatformSecurityGroups
from spec.model import PlatformSpec


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, spec: PlatformSpec, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        flow_log_key = LogsKey(self, "FlowLogKey", description=f"{spec.stack_prefix} VPC flow logs")
        network = PlatformVpc(
            self,
            "Network",
            network=spec.network,
            flow_log_key=flow_log_key.key,
            log_retention_days=spec.log_retention_days,
        )
        self.vpc = network.vpc
        self.security_groups = PlatformSecurityGroups(self, "SecurityGroups", vpc=self.vpc, spec=spec)
