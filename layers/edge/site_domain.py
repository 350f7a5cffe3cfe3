"""The platform's own domain: its certificates and DNS records in the Route 53 zone that serves it."""

from __future__ import annotations

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from layers.edge.edge_guards import hosted_zone, viewer_certificate
from platform_spec import DomainSpec


class SiteDomain(Construct):
    """Two ACM certificates, each validated by DNS records CloudFormation writes into the zone
    (the stack waits until ACM issues them): one for viewers (the domain, and ``www.`` where the
    spec asks), which CloudFront serves, and one for the origin name, which the internal load
    balancer serves to CloudFront. CloudFront checks that the origin's certificate carries the
    origin's domain name ("Requiring HTTPS for communication between CloudFront and your custom
    origin", CloudFront developer guide), which the load balancer's own ``elb.amazonaws.com``
    name cannot be. The load balancer's certificate lives in its region; CloudFront reads the
    viewer certificate from us-east-1 only, so a platform elsewhere brings it from its edge stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain: DomainSpec,
        viewer: acm.ICertificate | None = None,
    ) -> None:
        """``domain``: the spec's domain (``EdgeSpec.domain``): the names viewers use, the origin name
        and the hosted zone, whose id it must carry (``platform_spec.context.require_hosted_zone``).
        ``viewer``: the viewer certificate made in us-east-1 (``EdgeGuards``); ``None`` (default)
        makes it here, for a platform in us-east-1."""
        super().__init__(scope, construct_id)
        self.domain = domain
        self.zone = hosted_zone(self, "Zone", domain=domain)
        self.viewer_certificate = viewer or viewer_certificate(self, domain=domain, zone=self.zone)
        self.origin_certificate = acm.Certificate(
            self,
            "OriginCertificate",
            domain_name=domain.origin_name,
            validation=acm.CertificateValidation.from_dns(self.zone),
        )

    def point_at_distribution(self, distribution: cloudfront.IDistribution) -> None:
        """A and AAAA alias records for each name viewers use (the distribution serves IPv6)."""
        target = route53.RecordTarget.from_alias(route53_targets.CloudFrontTarget(distribution))
        for index, name in enumerate(self.domain.site_names):
            suffix = "" if index == 0 else "Www"
            route53.ARecord(self, f"Site{suffix}Ipv4", zone=self.zone, record_name=name, target=target)
            route53.AaaaRecord(self, f"Site{suffix}Ipv6", zone=self.zone, record_name=name, target=target)

    def point_at_load_balancer(self, load_balancer: elbv2.IApplicationLoadBalancer) -> None:
        """The origin name, as an alias of the internal load balancer (its private addresses):
        the name CloudFront asks for and checks the certificate against."""
        route53.ARecord(
            self,
            "OriginIpv4",
            zone=self.zone,
            record_name=self.domain.origin_name,
            target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(load_balancer)),
        )
