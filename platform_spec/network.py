"""The VPC: its address range, zones, NAT and endpoints."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from platform_spec.checks import (
    PREFIX_LIST_PATTERN,
    ZONE_ID_PATTERN,
)
from platform_spec.errors import SpecError

# Zones whose load balancers CloudFront VPC origins cannot reach ("Restrict access with VPC
# origins", supported Regions and Availability Zones:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html).
VPC_ORIGIN_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3"})

# Public (load balancer, NAT), private (application tasks), isolated (database).
SUBNET_TIERS = ("public", "application", "database")


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """The VPC: address range, zones and the way out to the internet."""

    cidr: str
    """VPC address range (``10.0.0.0/16``)."""
    max_azs: int
    """Availability zones the subnets span."""
    nat_gateways: int
    """NAT devices for the application subnets' egress (1 .. max_azs)."""
    nat: Literal["gateway", "instance"] = "gateway"
    """Managed NAT gateways, or a small NAT instance (a fraction of the cost, no high availability)."""
    nat_instance_type: str = "t4g.nano"
    """Instance type of the NAT instance (Graviton)."""
    nat_image: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64"
    """The SSM parameter EC2 reads the NAT instance's image from when it launches the instance
    (``resolve:ssm:``; the same name in every region). The template holds the name, not the
    image, so a newly published image replaces nothing (docs/operations.md, "The NAT instance's
    image"). An arm64 image, for the Graviton type."""
    nat_image_generation: int = 1
    """Raise it to replace the NAT instance at the next deploy, launching the newest image
    ``nat_image`` names then: the only way the image moves (dev's egress pauses while it does)."""
    zone_ids: tuple[str, ...] = ()
    """Availability Zone ids (``use1-az1``) of the subnets, one per zone; ``()`` takes the first
    ``max_azs`` zones the account lists. Ids, not names: names map to different zones in each
    account, and CloudFront VPC origins and Graviton NAT instances are missing from some zones."""
    subnet_prefix_length: int = 24
    """Prefix length of each subnet; three tiers per zone must fit the VPC."""
    interface_endpoints: bool = False
    """Interface VPC endpoints for what application tasks need to start (ECR, CloudWatch Logs,
    and SSM messages where ECS Exec is on), in every zone, so those tasks' HTTPS egress can be
    narrowed to the endpoints and S3. Each endpoint costs about $7.30 a month per zone."""
    s3_prefix_list: str | None = None
    """The AWS-managed prefix list of S3 in the region (``com.amazonaws.<region>.s3``): the
    destination of enclosed tasks' S3 traffic through the gateway endpoint, in security-group
    rules. ``None``: the id ``platform_spec.regions`` knows for the region."""

    def __post_init__(self) -> None:
        try:
            network = ipaddress.IPv4Network(self.cidr, strict=True)
        except (ValueError, TypeError) as error:
            raise SpecError("network.cidr", self.cidr, f"not an IPv4 network in CIDR form ({error})") from None
        if not 16 <= network.prefixlen <= 28:
            raise SpecError("network.cidr", self.cidr, "a VPC's prefix length must be from /16 to /28")
        # Without a synth-time lookup (which we never do) CDK can place subnets in
        # the first two zones of the region only, resolved at deploy time.
        if not 1 <= self.max_azs <= 2:
            raise SpecError("network.max_azs", self.max_azs, "must be 1 or 2 (zones are resolved at deploy time)")
        if not 1 <= self.nat_gateways <= self.max_azs:
            raise SpecError(
                "network.nat_gateways",
                self.nat_gateways,
                f"must be from 1 to max_azs ({self.max_azs})",
            )
        self._check_zone_ids()
        if not isinstance(self.interface_endpoints, bool):
            raise SpecError("network.interface_endpoints", self.interface_endpoints, "must be true or false")
        if self.s3_prefix_list is not None and (
            not isinstance(self.s3_prefix_list, str) or not PREFIX_LIST_PATTERN.match(self.s3_prefix_list)
        ):
            raise SpecError("network.s3_prefix_list", self.s3_prefix_list, "not a prefix list id such as 'pl-63a5400a'")
        if self.nat not in ("gateway", "instance"):
            raise SpecError("network.nat", self.nat, "must be 'gateway' or 'instance'")
        if not re.match(r"^[a-z][a-z0-9]*[0-9][a-z]*\.[a-z0-9]+$", self.nat_instance_type):
            raise SpecError("network.nat_instance_type", self.nat_instance_type, "not an EC2 instance type")
        if not isinstance(self.nat_image, str) or not re.match(r"^/[a-zA-Z0-9_.\-/]+$", self.nat_image):
            raise SpecError(
                "network.nat_image",
                self.nat_image,
                "not an SSM parameter name such as '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64'",
            )
        if (
            not isinstance(self.nat_image_generation, int)
            or isinstance(self.nat_image_generation, bool)
            or self.nat_image_generation < 1
        ):
            raise SpecError("network.nat_image_generation", self.nat_image_generation, "must be a whole number from 1")
        if not network.prefixlen < self.subnet_prefix_length <= 28:
            raise SpecError(
                "network.subnet_prefix_length",
                self.subnet_prefix_length,
                f"must be longer than the VPC's /{network.prefixlen} and at most /28",
            )
        subnets_needed = len(SUBNET_TIERS) * self.max_azs
        subnets_available = 2 ** (self.subnet_prefix_length - network.prefixlen)
        if subnets_needed > subnets_available:
            raise SpecError(
                "network.cidr",
                self.cidr,
                f"too small for {subnets_needed} /{self.subnet_prefix_length} subnets "
                f"({len(SUBNET_TIERS)} tiers x {self.max_azs} zones)",
            )

    def _check_zone_ids(self) -> None:
        if not self.zone_ids:
            return
        for zone_id in self.zone_ids:
            if not isinstance(zone_id, str) or not ZONE_ID_PATTERN.match(zone_id):
                raise SpecError("network.zone_ids", zone_id, "not an Availability Zone id such as 'use1-az1'")
            if zone_id in VPC_ORIGIN_UNSUPPORTED_ZONE_IDS:
                raise SpecError("network.zone_ids", zone_id, "CloudFront VPC origins are not available in this zone")
        if len(set(self.zone_ids)) != len(self.zone_ids):
            raise SpecError("network.zone_ids", self.zone_ids, "a zone is named twice")
        if len(self.zone_ids) != self.max_azs:
            raise SpecError("network.zone_ids", self.zone_ids, f"name exactly max_azs ({self.max_azs}) zones")
