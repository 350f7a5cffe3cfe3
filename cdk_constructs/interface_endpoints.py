"""Interface VPC endpoints for what the application tasks need to start, so their HTTPS
egress can end inside the VPC."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


class InterfaceEndpoints(Construct):
    """One interface endpoint per name of ``services`` (``ecr.api``, ``logs``, …) in the
    application subnets of every zone, with private DNS: every task in the VPC that calls one
    of these services reaches it here. ``security_group`` admits only the task groups the spec
    declares (``open=False``: no rule from the whole VPC)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        services: tuple[str, ...],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoints = {
            name: vpc.add_interface_endpoint(
                name.replace(".", "-"),
                service=ec2.InterfaceVpcEndpointAwsService(name),
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_groups=[security_group],
                private_dns_enabled=True,
                open=False,
            )
            for name in services
        }
