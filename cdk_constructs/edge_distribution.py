"""CloudFront in front of the internal load balancer, through a VPC origin."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.retention import log_retention
from spec.model import DomainSpec


class EdgeDistribution(Construct):
    """HTTPS-only distribution: the routes of dynamic services are never cached,
    the default route follows the origin's Cache-Control. A custom domain gets an
    ACM certificate and alias records; ``waf`` adds AWS's common rule set."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        origin_port: int,
        uncached_routes: list[str],
        access_logs: s3.IBucket,
        domain: DomainSpec | None,
        waf: bool,
        log_group_prefix: str,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        origin = origins.VpcOrigin.with_application_load_balancer(
            load_balancer, http_port=origin_port, protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY
        )

        def behaviour(cache_policy: cloudfront.ICachePolicy) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cache_policy,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                compress=True,
            )

        zone = self._hosted_zone(domain)
        certificate = self._certificate(domain, zone)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            default_behavior=behaviour(cloudfront.CachePolicy.USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS),
            additional_behaviors={
                route: behaviour(cloudfront.CachePolicy.CACHING_DISABLED) for route in uncached_routes
            },
            domain_names=[domain.name] if domain else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix="cloudfront/",
            web_acl_id=self._web_acl(log_group_prefix, logs_key, log_retention_days).attr_arn if waf else None,
        )
        if domain and zone:
            self._alias_records(domain, zone)
        self.public_host = domain.name if domain else self.distribution.distribution_domain_name
        """The host name viewers use: the custom domain, or the distribution's cloudfront.net name."""
        self.public_url = f"https://{self.public_host}"
        self._acknowledge(domain=domain, waf=waf)

    def _hosted_zone(self, domain: DomainSpec | None) -> route53.IHostedZone | None:
        if domain is None:
            return None
        return route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
        )

    def _certificate(self, domain: DomainSpec | None, zone: route53.IHostedZone | None) -> acm.ICertificate | None:
        if domain is None or zone is None:
            return None
        return acm.Certificate(
            self, "Certificate", domain_name=domain.name, validation=acm.CertificateValidation.from_dns(zone)
        )

    def _alias_records(self, domain: DomainSpec, zone: route53.IHostedZone) -> None:
        target = route53.RecordTarget.from_alias(route53_targets.CloudFrontTarget(self.distribution))
        route53.ARecord(self, "AliasIpv4", zone=zone, record_name=domain.name, target=target)
        route53.AaaaRecord(self, "AliasIpv6", zone=zone, record_name=domain.name, target=target)

    def _web_acl(self, log_group_prefix: str, logs_key: kms.IKey, log_retention_days: int) -> wafv2.CfnWebACL:
        rule_set = "AWSManagedRulesCommonRuleSet"
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name="edge", sampled_requests_enabled=True
            ),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name=rule_set,
                    priority=0,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=rule_set
                        )
                    ),
                    visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                        cloud_watch_metrics_enabled=True, metric_name=rule_set, sampled_requests_enabled=True
                    ),
                )
            ],
        )
        # WAF delivers only to log groups whose name starts with aws-waf-logs-.
        log_group = logs.LogGroup(
            self,
            "WebAclLogs",
            log_group_name=f"aws-waf-logs-{log_group_prefix}",
            encryption_key=logs_key,
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        wafv2.CfnLoggingConfiguration(
            self, "WebAclLogging", resource_arn=web_acl.attr_arn, log_destination_configs=[log_group.log_group_arn]
        )
        return web_acl

    def _acknowledge(self, *, domain: DomainSpec | None, waf: bool) -> None:
        distribution = Validations.of(self.distribution)
        distribution.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-CFR1",
                reason="A public website for viewers in every country; there is no region to restrict it to.",
            )
        )
        if not waf:
            distribution.acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-CFR2",
                    reason="This profile runs without a web ACL to save its fixed monthly cost; production "
                    "profiles attach one with AWS's common rule set.",
                )
            )
        if domain is None:
            distribution.acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-CFR4",
                    reason="Without a custom domain the distribution serves the default cloudfront.net "
                    "certificate, whose TLS policy CloudFront fixes; naming a domain in the spec brings "
                    "an ACM certificate and TLS 1.2 as the minimum.",
                )
            )
