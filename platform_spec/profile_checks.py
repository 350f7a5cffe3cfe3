"""The checks of a whole profile that read several of its parts: where it is placed, and what
production must have."""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_spec.checks import region_zone_prefix
from platform_spec.errors import SpecError
from platform_spec.regions import ORIGIN_FACING_PREFIX_LISTS, S3_PREFIX_LISTS, origin_facing_lookup, s3_lookup

if TYPE_CHECKING:
    from platform_spec.platform import PlatformSpec


def check_placement(spec: PlatformSpec) -> None:
    """The zones are the region's; the prefix lists the region needs are known or named."""
    for zone_id in spec.network.zone_ids:
        if not zone_id.startswith(region_zone_prefix(spec.region) + "-"):
            raise SpecError(
                "network.zone_ids",
                zone_id,
                f"not a zone of {spec.region} (its zone ids start with {region_zone_prefix(spec.region)}-)",
            )
    if spec.edge.origin_facing_prefix_list is None and spec.region not in ORIGIN_FACING_PREFIX_LISTS:
        raise SpecError(
            "edge.origin_facing_prefix_list",
            None,
            f"name CloudFront's origin-facing prefix list of {spec.region}: {origin_facing_lookup(spec.region)}",
        )
    if spec.network.interface_endpoints and spec.network.s3_prefix_list is None and spec.region not in S3_PREFIX_LISTS:
        raise SpecError(
            "network.s3_prefix_list",
            None,
            f"name the S3 prefix list of {spec.region} (interface endpoints need it): {s3_lookup(spec.region)}",
        )


def check_production(spec: PlatformSpec) -> None:
    """What production must have: its own domain, a Multi-AZ protected database, NAT per zone,
    every hour of the week."""
    if spec.schedule is not None:
        raise SpecError("schedule", spec.schedule.describe(), "production runs all week: leave its schedule None")
    if spec.edge.domain is None:
        raise SpecError(
            "edge.domain",
            None,
            "production serves its own domain over TLS 1.2 or newer: name it and its Route 53 hosted zone (DomainSpec)",
        )
    if not spec.database.multi_az:
        raise SpecError("database.multi_az", spec.database.multi_az, "production needs a Multi-AZ database")
    if not spec.database.deletion_protection:
        raise SpecError(
            "database.deletion_protection",
            spec.database.deletion_protection,
            "production needs deletion protection",
        )
    if spec.network.nat != "gateway":
        raise SpecError("network.nat", spec.network.nat, "production needs managed NAT gateways")
    if spec.network.nat_gateways != spec.network.max_azs:
        raise SpecError(
            "network.nat_gateways",
            spec.network.nat_gateways,
            f"production needs a NAT gateway in each of its {spec.network.max_azs} zones",
        )
