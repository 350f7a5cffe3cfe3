"""CloudFront in front of the internal load balancer, through a VPC origin."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from layers.edge.edge_guards import internal_paths_function
from layers.edge.handles import EdgeGuardsHandle
from layers.edge.site_domain import SiteDomain
from layers.edge.web_acl import edge_web_acl
from layers.shared.log_groups import Logging
from platform_spec import PlatformSpec

# TLS 1.2 or newer with forward-secret ciphers, for viewers of the platform's own domain
# (CloudFront developer guide, "Supported protocols and ciphers between viewers and CloudFront").
VIEWER_TLS_POLICY = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
# What a service's answer may load when its origin names nothing itself: nothing. A page that needs
# more (the reference frontend's inline stylesheet) sends its own, narrower policy, which the edge
# keeps (MDN, "Content-Security-Policy"; CloudFront developer guide, "Understand response headers
# policies": override off keeps the origin's header).
DEFAULT_CONTENT_SECURITY_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# The services answer GET and HEAD only (services/*/src/skeleton.js answers 405 to the rest), so the
# edge refuses every other method before it reaches them; Grafana, signed in, posts and deletes.


class EdgeDistribution(Construct):
    """The distribution viewers reach, over HTTPS only (plain HTTP is redirected): the routes of
    dynamic services are never cached, the default route follows the origin's Cache-Control,
    every response carries AWS's managed security headers, and a viewer-request function
    answers 404 to the internal paths. A web ACL limits each address's request rate, admits
    only the spec's addresses to Grafana, and adds AWS's managed rule groups where the spec
    asks. With the platform's own domain (``site``), CloudFront serves its certificate with
    TLS 1.2 or newer and reaches the load balancer over HTTPS (TLS 1.2) by the origin name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PlatformSpec,
        load_balancer: elbv2.IApplicationLoadBalancer,
        site: SiteDomain | None,
        access_logs: s3.IBucket,
        logging: Logging,
        guards: EdgeGuardsHandle | None = None,
    ) -> None:
        """``spec``: the edge's settings, the routes it never caches, the paths it hides and
        Grafana's allow-list. ``load_balancer``: the internal origin. ``site``: the platform's own
        domain, if it has one. ``access_logs``: the bucket for CloudFront's logs. ``logging``:
        the web ACL's log group. ``guards``: the web ACL and function made in us-east-1 for a
        platform elsewhere; ``None`` (default) makes them here (the platform is in us-east-1)."""
        super().__init__(scope, construct_id)
        edge = spec.edge
        uncached_routes = [s.route for s in spec.public_services if s.route is not None]
        grafana_route = spec.grafana.route_pattern if spec.grafana else None
        if (site is None) == edge.origin_https:
            raise ValueError("the edge reaches its origin over HTTPS exactly when the platform has its own domain")
        if site is None:
            origin = origins.VpcOrigin.with_application_load_balancer(
                load_balancer, http_port=edge.origin_port, protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY
            )
        else:
            # CloudFront sends the origin name as Host and SNI (the behaviours forward every viewer
            # header but Host) and checks the load balancer's certificate against it.
            origin = origins.VpcOrigin.with_application_load_balancer(
                load_balancer,
                domain_name=site.domain.origin_name,
                https_port=edge.origin_port,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            )
        if guards is None:
            web_acl_arn = edge_web_acl(
                self, edge=edge, grafana=spec.grafana, log_group_prefix=spec.stack_prefix, logging=logging
            ).attr_arn
            viewer_request: cloudfront.IFunction = internal_paths_function(self, spec=spec)
        else:
            web_acl_arn, viewer_request = guards.web_acl_arn, guards.viewer_request_function
        self.web_acl_arn = web_acl_arn

        service_headers = self._service_headers_policy()

        def behaviour(cache_policy: cloudfront.ICachePolicy, *, grafana: bool = False) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL
                if grafana
                else cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cache_policy,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                # Grafana's pages run its own scripts and set their own policy (its security settings).
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS
                if grafana
                else service_headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
                compress=True,
            )

        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            default_behavior=behaviour(cloudfront.CachePolicy.USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS),
            additional_behaviors={
                **{route: behaviour(cloudfront.CachePolicy.CACHING_DISABLED) for route in uncached_routes},
                **(
                    {grafana_route: behaviour(cloudfront.CachePolicy.CACHING_DISABLED, grafana=True)}
                    if grafana_route
                    else {}
                ),
            },
            domain_names=list(site.domain.site_names) if site else None,
            certificate=site.viewer_certificate if site else None,
            minimum_protocol_version=VIEWER_TLS_POLICY if site else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix="cloudfront/",
            web_acl_id=web_acl_arn,
        )
        if site is not None:
            site.point_at_distribution(self.distribution)
            site.point_at_load_balancer(load_balancer)
        self.public_hosts: tuple[str, ...] = (
            site.domain.site_names if site else (self.distribution.distribution_domain_name,)
        )
        """The host names viewers use: the domain (and www.), or the distribution's cloudfront.net name."""
        self.public_url = f"https://{self.public_hosts[0]}"
        self._acknowledge(own_domain=site is not None)

    def _service_headers_policy(self) -> cloudfront.ResponseHeadersPolicy:
        """AWS's managed SecurityHeadersPolicy, header for header, and a Content-Security-Policy
        that lets a page load nothing unless its origin says otherwise."""
        return cloudfront.ResponseHeadersPolicy(
            self,
            "ServiceHeaders",
            comment="Security headers, and a CSP that loads nothing unless the service names more",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=DEFAULT_CONTENT_SECURITY_POLICY, override=False
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.SAMEORIGIN, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True),
            ),
        )

    def _acknowledge(self, *, own_domain: bool) -> None:
        distribution = Validations.of(self.distribution)
        distribution.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-CFR1",
                reason="A public website for viewers in every country; there is no region to restrict it to.",
            )
        )
        if not own_domain:
            distribution.acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-CFR4",
                    reason="Without a custom domain the distribution serves the default cloudfront.net "
                    "certificate, whose TLS policy CloudFront fixes; naming a domain in the spec brings "
                    "an ACM certificate and TLS 1.2 as the minimum.",
                )
            )
