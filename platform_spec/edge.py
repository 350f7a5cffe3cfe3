"""How viewers reach the platform: CloudFront, its domain and certificates, the web ACL."""

from __future__ import annotations

from dataclasses import dataclass

from platform_spec.checks import (
    HTTP_PORT,
    HTTPS_PORT,
    NAMESPACE_PATTERN,
    PREFIX_LIST_PATTERN,
    check_hosted_zone_id,
)
from platform_spec.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class DomainSpec:
    """The platform's own domain, served by CloudFront from a Route 53 public hosted zone you own.

    Viewers get an ACM certificate for it (TLS 1.2 or newer); CloudFront reaches the internal
    load balancer over HTTPS as ``origin.<name>``, with a certificate of its own."""

    name: str
    """The site's name (``davidshaevel.com``)."""
    hosted_zone_name: str
    """Name of the public hosted zone that holds ``name`` (``davidshaevel.com``)."""
    hosted_zone_id: str | None = None
    """Id of that zone (``Z0123456789ABC``). Synth makes no lookups, so it is given here or with
    ``-c hosted_zone_id=...``; a synth without either stops with one line."""
    www: bool = False
    """Serve ``www.<name>`` too: on the certificate, the distribution and alias records."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAMESPACE_PATTERN.match(self.name):
            raise SpecError("edge.domain.name", self.name, "not a DNS name")
        if not isinstance(self.hosted_zone_name, str) or not NAMESPACE_PATTERN.match(self.hosted_zone_name):
            raise SpecError("edge.domain.hosted_zone_name", self.hosted_zone_name, "not a DNS name")
        if self.hosted_zone_id is not None:
            check_hosted_zone_id("edge.domain.hosted_zone_id", self.hosted_zone_id)
        if not (self.name == self.hosted_zone_name or self.name.endswith("." + self.hosted_zone_name)):
            raise SpecError("edge.domain.name", self.name, f"not inside the hosted zone {self.hosted_zone_name!r}")
        if self.www and self.name.startswith("www."):
            raise SpecError("edge.domain.www", self.www, f"{self.name} already starts with www.")

    @property
    def site_names(self) -> tuple[str, ...]:
        """The names viewers use: the domain, and ``www.`` where asked."""
        return (self.name, f"www.{self.name}") if self.www else (self.name,)

    @property
    def origin_name(self) -> str:
        """The name CloudFront reaches the load balancer by, which its certificate carries."""
        return f"{ORIGIN_LABEL}.{self.name}"


ORIGIN_LABEL = "origin"


@dataclass(frozen=True, kw_only=True)
class EdgeSpec:
    """How viewers reach the platform: CloudFront, through a VPC origin, to the internal load balancer."""

    origin_facing_prefix_list: str | None = None
    """Id of ``com.amazonaws.global.cloudfront.origin-facing`` in the platform's region: the only
    source the load balancer admits. ``None``: the id ``platform_spec.regions`` knows for the
    region; ``aws ec2 describe-managed-prefix-lists`` shows it where it knows none."""
    domain: DomainSpec | None = None
    """The platform's own domain; ``None`` serves on the distribution's cloudfront.net name, with
    CloudFront's default certificate and plain HTTP from CloudFront to the load balancer inside
    the VPC. Production profiles must name one."""
    managed_rules: bool = False
    """Add AWS's common rule set and IP reputation list to the web ACL. Every profile has the
    web ACL, with a rate rule, the known-bad-inputs group (Log4j) and, where Grafana runs,
    Grafana's allow-list."""
    requests_per_5_minutes: int = 2000
    """Requests one address may make in five minutes before the rate rule blocks it."""

    @property
    def origin_https(self) -> bool:
        """CloudFront reaches the load balancer over HTTPS: only with a domain, whose name the
        load balancer's certificate can carry."""
        return self.domain is not None

    @property
    def origin_port(self) -> int:
        """The load balancer's listener for CloudFront: 443 with a domain, 80 without."""
        return HTTPS_PORT if self.origin_https else HTTP_PORT

    def __post_init__(self) -> None:
        if not 10 <= self.requests_per_5_minutes <= 2_000_000_000:
            raise SpecError(
                "edge.requests_per_5_minutes",
                self.requests_per_5_minutes,
                "must be from 10 to 2000000000 (WAF's bounds)",
            )
        if self.origin_facing_prefix_list is not None and (
            not isinstance(self.origin_facing_prefix_list, str)
            or not PREFIX_LIST_PATTERN.match(self.origin_facing_prefix_list)
        ):
            raise SpecError("edge.origin_facing_prefix_list", self.origin_facing_prefix_list, "not a prefix list id")
