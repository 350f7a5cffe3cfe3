"""The VPC: three subnet tiers per zone, NAT for the application tier, flow logs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, Aws, CfnCreationPolicy, CfnResourceSignal, CfnTag, Fn, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from layers.shared.log_groups import Logging
from platform_spec import HTTPS_PORT, NetworkSpec

NAT_SCRIPT = Path(__file__).resolve().parents[2] / "assets" / "nat_instance" / "configure-nat.sh"
# Retries with back-off take at most about three minutes; the rest is margin.
NAT_SIGNAL_TIMEOUT = "PT15M"
# On the instance, from its launch template: a new generation is a new template version.
NAT_IMAGE_GENERATION_TAG = "nat-image-generation"


class PlatformVpc(Construct):
    """Public subnets hold only the NAT; tasks run in the application tier and
    the database in the isolated tier, which has no route out at all."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: NetworkSpec,
        flow_logs: Logging,
    ) -> None:
        """``network``: the spec's network. ``flow_logs``: the flow-log group's key and retention."""
        super().__init__(scope, construct_id)
        self.vpc = self._build_vpc(network)
        if network.zone_ids:
            self._place_in_zones(network.zone_ids)
        self._acknowledge_public_routes()
        if network.nat == "instance":
            self._harden_nat_instances(network)
        self.nat_instances = [
            child
            for subnet in self.vpc.public_subnets
            if isinstance(child := subnet.node.try_find_child("NatInstance"), ec2.Instance)
        ]
        """The NAT instances, where the network has instances rather than gateways."""
        self.flow_log_group = self._build_flow_logs(flow_logs)

    def _build_vpc(self, network: NetworkSpec) -> ec2.Vpc:
        nat_provider = self._nat_provider(network)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(network.cidr),
            max_azs=network.max_azs,
            nat_gateways=network.nat_gateways,
            nat_gateway_provider=nat_provider,
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
        if isinstance(nat_provider, ec2.NatInstanceProviderV2):
            # Tasks leave the VPC only for HTTPS (see security_groups.py), so that is
            # all the instance forwards; it admits nothing from outside the VPC.
            nat_provider.connections.allow_from(
                ec2.Peer.ipv4(network.cidr), ec2.Port.tcp(HTTPS_PORT), "forward the VPC's HTTPS traffic"
            )
        return vpc

    def _place_in_zones(self, zone_ids: tuple[str, ...]) -> None:
        """Each tier's i-th subnet in the i-th zone the spec names, by zone id.

        Without lookups CDK can only place subnets in ``Fn::GetAZs``' first zones, whose
        names map to a different zone in each account; a subnet takes a zone id directly
        (``AWS::EC2::Subnet.AvailabilityZoneId``), and the NAT instance follows its subnet."""
        tiers = (self.vpc.public_subnets, self.vpc.private_subnets, self.vpc.isolated_subnets)
        for subnets in tiers:
            for subnet, zone_id in zip(subnets, zone_ids, strict=True):
                cfn = subnet.node.default_child
                assert isinstance(cfn, ec2.CfnSubnet)
                cfn.add_property_deletion_override("AvailabilityZone")
                cfn.add_property_override("AvailabilityZoneId", zone_id)
        for subnet in self.vpc.public_subnets:
            instance = subnet.node.try_find_child("NatInstance")
            if instance is not None:
                cfn_instance = instance.node.default_child
                assert isinstance(cfn_instance, ec2.CfnInstance)
                cfn_instance.add_property_deletion_override("AvailabilityZone")

    @staticmethod
    def _nat_provider(network: NetworkSpec) -> ec2.NatProvider:
        if network.nat == "gateway":
            return ec2.NatProvider.gateway()
        return ec2.NatProvider.instance_v2(
            instance_type=ec2.InstanceType(network.nat_instance_type),
            # "resolve:ssm:<name>": EC2 reads the parameter at launch (it takes public parameters:
            # EC2 API reference, RequestLaunchTemplateData ImageId), so the template holds a name, the
            # same in every region, and a newly published image replaces nothing, as the parameter
            # CloudFormation re-read at every deploy for latest_amazon_linux2023 did. CloudFormation's
            # dynamic references take no public parameters (user guide, "Using dynamic references").
            machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(
                network.nat_image, os=ec2.OperatingSystemType.LINUX
            ),
            associate_public_ip_address=True,
            default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
        )

    def _harden_nat_instances(self, network: NetworkSpec) -> None:
        for index, subnet in enumerate(self.vpc.public_subnets):
            instance = subnet.node.try_find_child("NatInstance")
            if instance is None:
                continue
            assert isinstance(instance, ec2.Instance)
            cfn = instance.node.default_child
            assert isinstance(cfn, ec2.CfnInstance)
            self._configure_nat_and_signal(instance, cfn)
            cfn.monitoring = True
            cfn.block_device_mappings = [
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name="/dev/xvda",
                    ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_type="gp3", volume_size=8),
                )
            ]
            # What Instance(require_imdsv2=True) does, which the NAT provider does not expose; and
            # the image, which a launch template may name as "resolve:ssm:" (cfn-lint accepts it
            # only there). A new generation's tag is a new version of the template, and a new
            # version replaces the instance (AWS::EC2::Instance LaunchTemplate: update requires
            # replacement), which launches the image the parameter names by then.
            image = cfn.image_id
            cfn.add_property_deletion_override("ImageId")
            template = ec2.CfnLaunchTemplate(
                self,
                f"NatInstanceImdsV2{index}",
                launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
                    image_id=image,
                    metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(http_tokens="required"),
                    tag_specifications=[
                        ec2.CfnLaunchTemplate.TagSpecificationProperty(
                            resource_type="instance",
                            tags=[CfnTag(key=NAT_IMAGE_GENERATION_TAG, value=str(network.nat_image_generation))],
                        )
                    ],
                ),
            )
            cfn.launch_template = ec2.CfnInstance.LaunchTemplateSpecificationProperty(
                launch_template_id=template.ref, version=template.attr_latest_version_number
            )
            checks = Validations.of(instance)
            for rule_id, reason in (
                (
                    "AwsSolutions::AwsSolutions-EC29",
                    "The NAT instance holds no data and CloudFormation replaces it when its image or type "
                    "changes; termination protection would block that replacement.",
                ),
                (
                    "NIST.800.53.R5::NIST.800.53.R5-EC2InstanceNoPublicIp",
                    "A NAT instance needs a public address to forward the application tier's traffic; it "
                    "admits no inbound connection from outside the VPC.",
                ),
                (
                    "NIST.800.53.R5::NIST.800.53.R5-EC2InstancesInVPC",
                    "It is in a public subnet of this VPC through its network interface "
                    "(NetworkInterfaces[0].SubnetId); the rule reads only the top-level SubnetId.",
                ),
            ):
                checks.acknowledge(Acknowledgment(id=rule_id, reason=reason))

    def _configure_nat_and_signal(self, instance: ec2.Instance, cfn: ec2.CfnInstance) -> None:
        """Our own NAT set-up script instead of CDK's default, and a CreationPolicy that
        makes CloudFormation wait for its signal: an instance that cannot forward fails
        the deploy instead of leaving the VPC without a way out."""
        stack = Stack.of(self)
        header = Fn.join(
            "",
            [
                "#!/bin/bash\n",
                f"STACK_NAME={stack.stack_name}\n",
                "REGION=",
                Aws.REGION,
                "\n",
                f"RESOURCE={stack.get_logical_id(cfn)}\n",
            ],
        )
        cfn.user_data = Fn.base64(Fn.join("", [header, NAT_SCRIPT.read_text()]))
        cfn.cfn_options.creation_policy = CfnCreationPolicy(
            resource_signal=CfnResourceSignal(count=1, timeout=NAT_SIGNAL_TIMEOUT)
        )
        instance.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudformation:SignalResource"], resources=[Aws.STACK_ID])
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

    def _build_flow_logs(self, flow_logs: Logging) -> logs.LogGroup:
        group = flow_logs.log_group(self, "FlowLogs")
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return group
