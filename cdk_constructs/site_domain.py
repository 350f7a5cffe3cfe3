"""The platform's own domain: its certificates and DNS records in the Route 53 zone that serves it."""

from __future__ import annotations

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from platform_spec import DomainSpec


class SiteDomain(Construct):
    """Two ACM certificates, each validated by DNS records CloudFormation writes into the zone
    (the stack waits until ACM issues them): one for viewers (the domain, and ``www.`` where the
    spec asks), which CloudFront serves, and one for the origin name, which the internal load
    balancer serves to CloudFront. CloudFront checks that the origin's certificate carries the
    origin's domain name ("Requiring HTTPS for communication between CloudFront and your custom
    origin", CloudFront developer guide), which the load balancer's own ``elb.amazonaws.com``
    name cannot be. The stack must be in us-east-1, where CloudFront reads certificates."""

    def __init__(self, scope: Construct, construct_id: str, *, domain: DomainSpec) -> None:
        """``domain`` must carry its hosted zone's id (``platform_spec.context.require_hosted_zone``)."""
        super().__init__(scope, construct_id)
        if domain.hosted_zone_id is None:
            raise ValueError(f"{domain.name}: the hosted zone id is needed to synthesize the domain")
        self.domain = domain
        # By id and name: synth makes no lookups.
        self.zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
        )
        validation = acm.CertificateValidation.from_dns(self.zone)
        self.viewer_certificate = acm.Certificate(
            self,
            "ViewerCertificate",
            domain_name=domain.name,
            subject_alternative_names=list(domain.site_names[1:]) or None,
            validation=validation,
        )
        self.origin_certificate = acm.Certificate(
            self, "OriginCertificate", domain_name=domain.origin_name, validation=validation
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
