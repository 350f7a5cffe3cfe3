"""The VPC: three subnet tiers per zone, NAT for the application tier, flow logs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.retention import log_retention
from spec.model import NetworkSpec


class PlatformVpc(Construct):
    """Public subnets hold only the NAT; tasks run in the application tier and
    the database in the isolated tier, which has no route out at all."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: NetworkSpec,
        flow_log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._build_vpc(network)
        self._acknowledge_public_routes()
        self.flow_log_group = self._build_flow_logs(flow_log_key, log_retention_days)

    def _build_vpc(self, network: NetworkSpec) -> ec2.Vpc:
        return ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(network.cidr),
            max_azs=network.max_azs,
            nat_gateways=network.nat_gateways,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=network.subnet_prefix_length,
                    # Nothing we run takes a public address; NAT gateways bring their own.
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name="application",
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=network.subnet_prefix_length,
                ),
                ec2.SubnetConfiguration(
                    name="database",
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                    cidr_mask=network.subnet_prefix_length,
                ),
            ],
        )

    def _acknowledge_public_routes(self) -> None:
        for subnet in self.vpc.public_subnets:
            Validations.of(subnet).acknowledge(
                Acknowledgment(
                    id="NIST.800.53.R5::NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                    reason="A public subnet's route to the internet gateway is what makes it public; "
                    "these hold only the NAT that gives the application tier its way out, "
                    "and assign no public addresses on launch.",
                )
            )

    def _build_flow_logs(self, key: kms.IKey, retention_days: int) -> logs.LogGroup:
        group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=key,
            retention=log_retention(retention_days),
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return group
