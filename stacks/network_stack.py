"""Network stack: the VPC, its flow logs and endpoints, and every security group and rule."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Stack
from constructs import Construct

from layers.network.interface_endpoints import InterfaceEndpoints
from layers.network.platform_vpc import PlatformVpc
from layers.network.s3_gateway_endpoint import S3GatewayEndpoint
from layers.network.security_groups import PlatformSecurityGroups, sealed
from layers.shared.log_groups import Logging
from layers.shared.logs_key import LogsKey
from layers.shared.scheduled_stop import ScheduledStop, StopStart
from platform_spec import PlatformSpec
from platform_spec.connections import endpoint_services


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, spec: PlatformSpec, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        flow_log_key = LogsKey(self, "FlowLogKey", description=f"{spec.stack_prefix} VPC flow logs")
        network = PlatformVpc(
            self,
            "Network",
            network=spec.network,
            flow_logs=Logging(key=flow_log_key.key, retention_days=spec.log_retention_days),
        )
        self.vpc = network.vpc
        if spec.schedule is not None:
            # Nothing needs a way out while the platform sleeps: no function runs in the VPC, and
            # every task (services, release, bootstrap) sleeps with the database.
            for index, instance in enumerate(network.nat_instances):
                ScheduledStop(
                    self,
                    f"NatSleep{index}",
                    name=f"{spec.stack_prefix}-nat-{index}",
                    schedule=spec.schedule,
                    calls=StopStart(
                        service="ec2",
                        stop="stopInstances",
                        start="startInstances",
                        arguments={"InstanceIds": [instance.instance_id]},
                        resource_arn=self.format_arn(
                            service="ec2", resource="instance", resource_name=instance.instance_id
                        ),
                    ),
                )
        self.s3_endpoint = S3GatewayEndpoint(
            self, "S3", vpc=self.vpc, bucket_names=[spec.config_bucket_name(Aws.ACCOUNT_ID)]
        ).endpoint
        self.security_groups = PlatformSecurityGroups(self, "SecurityGroups", vpc=self.vpc, spec=spec)
        if spec.network.interface_endpoints:
            InterfaceEndpoints(
                self,
                "Endpoints",
                vpc=self.vpc,
                services=endpoint_services(spec),
                security_group=sealed(self, "EndpointsGroup", self.security_groups.endpoints),
            )
