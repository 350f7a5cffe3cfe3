"""What CloudFront reads from us-east-1: the web ACL, the viewer-request function and, with the
platform's own domain, the viewer certificate."""

from __future__ import annotations

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_route53 as route53
from constructs import Construct

from layers.edge.edge_function import render_internal_paths_function
from layers.edge.handles import EdgeGuardsHandle
from layers.edge.web_acl import edge_web_acl
from layers.shared.log_groups import Logging
from platform_spec import DomainSpec, PlatformSpec


def hosted_zone(scope: Construct, construct_id: str, *, domain: DomainSpec) -> route53.IHostedZone:
    """The domain's public hosted zone by id and name: synth makes no lookups."""
    if domain.hosted_zone_id is None:
        raise ValueError(f"{domain.name}: the hosted zone id is needed to synthesize the domain")
    return route53.PublicHostedZone.from_public_hosted_zone_attributes(
        scope, construct_id, hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
    )


def viewer_certificate(scope: Construct, *, domain: DomainSpec, zone: route53.IHostedZone) -> acm.Certificate:
    """The certificate viewers get (the domain, and ``www.`` where the spec asks), validated by DNS
    records CloudFormation writes into the zone; the stack waits until ACM issues it."""
    return acm.Certificate(
        scope,
        "ViewerCertificate",
        domain_name=domain.name,
        subject_alternative_names=list(domain.site_names[1:]) or None,
        validation=acm.CertificateValidation.from_dns(zone),
    )


def internal_paths_function(scope: Construct, *, spec: PlatformSpec) -> cloudfront.Function:
    """The viewer-request function: 404 for every public service's metrics and internal paths.
    Prometheus scrapes the tasks inside the VPC; from outside, these paths do not exist."""
    return cloudfront.Function(
        scope,
        "InternalPaths",
        code=cloudfront.FunctionCode.from_inline(render_internal_paths_function(spec.edge_internal_paths())),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
        comment="Answers 404 to the services' metrics and internal paths",
    )


class EdgeGuards(Construct):
    """The web ACL, the viewer-request function and the viewer certificate, in us-east-1, for a
    platform whose stacks are in another region (``PlatformSpec.edge_in_own_stack``): CloudFront
    reads certificates and web ACLs of scope CLOUDFRONT only there, and WAF delivers such a web
    ACL's logs only to a log group there. A platform in us-east-1 keeps them beside its
    distribution (``EdgeDistribution``) instead."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: PlatformSpec, logging: Logging) -> None:
        """``spec``: the edge's settings, Grafana's allow-list, the paths to hide and the domain.
        ``logging``: the web ACL's log group, encrypted with a key of this region."""
        super().__init__(scope, construct_id)
        self.web_acl = edge_web_acl(
            self, edge=spec.edge, grafana=spec.grafana, log_group_prefix=spec.stack_prefix, logging=logging
        )
        self.function = internal_paths_function(self, spec=spec)
        self.viewer_certificate: acm.ICertificate | None = None
        if spec.edge.domain is not None:
            zone = hosted_zone(self, "Zone", domain=spec.edge.domain)
            self.viewer_certificate = viewer_certificate(self, domain=spec.edge.domain, zone=zone)

    @property
    def handle(self) -> EdgeGuardsHandle:
        return EdgeGuardsHandle(
            web_acl_arn=self.web_acl.attr_arn,
            viewer_request_function=self.function,
            viewer_certificate=self.viewer_certificate,
        )
