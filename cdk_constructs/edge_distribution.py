"""CloudFront in front of the internal load balancer, through a VPC origin."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from urllib.parse import unquote

import jinja2
from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.site_domain import SiteDomain
from cdk_helpers.log_groups import log_retention
from cdk_helpers.rendered_config import ASSETS
from spec.model import EdgeSpec, GrafanaSpec

INTERNAL_PATHS_TEMPLATE = "internal-paths.js.j2"
# Rule names and priorities are fixed, so a profile that drops a rule leaves the others'
# metrics and order as they were. Known bad addresses go first and never count against
# the rate rule; the rate rule guards Grafana's sign-in as well.
RATE_RULE = "RateLimitPerAddress"
GRAFANA_RULE = "GrafanaAllowList"
IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
COMMON_RULES = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
PRIORITIES = {IP_REPUTATION: 0, RATE_RULE: 1, GRAFANA_RULE: 2, COMMON_RULES: 3, KNOWN_BAD_INPUTS: 4}
RATE_WINDOW_SECONDS = 300
REDACTED_HEADERS = ("cookie", "authorization")
# TLS 1.2 or newer with forward-secret ciphers, for viewers of the platform's own domain
# (CloudFront developer guide, "Supported protocols and ciphers between viewers and CloudFront").
VIEWER_TLS_POLICY = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
"""Headers WAF's logs never hold: session cookies and credentials."""


def normalised_path(path: str) -> str:
    """What the edge function compares: decoded, empty and ``.`` segments dropped, ``..``
    resolved, lower-cased. Node servers resolve dot segments, and Express matches routes
    without regard to case, so each of those spellings would reach the same handler."""
    kept: list[str] = []
    for segment in unquote(path, errors="strict").split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return "/" + "/".join(kept).lower()


def render_internal_paths_function(internal_paths: Sequence[str]) -> str:
    """The viewer-request function's code, answering 404 to exactly these paths."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ASSETS / "edge")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # JavaScript, with the paths as a JSON literal
    )
    paths = list(dict.fromkeys(normalised_path(p) for p in internal_paths))
    return templates.get_template(INTERNAL_PATHS_TEMPLATE).render(internal_paths=json.dumps(paths))


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(name: str) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=PRIORITIES[name],
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=name)
        ),
        visibility_config=_visibility(name),
    )


def _blocking_rule(name: str, statement: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=PRIORITIES[name],
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=statement,
        visibility_config=_visibility(name),
    )


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
        load_balancer: elbv2.IApplicationLoadBalancer,
        edge: EdgeSpec,
        uncached_routes: list[str],
        internal_paths: Sequence[str],
        grafana: GrafanaSpec | None,
        site: SiteDomain | None,
        access_logs: s3.IBucket,
        log_group_prefix: str,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
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
        # Prometheus scrapes the tasks inside the VPC; from outside, these paths do not exist.
        internal_paths_function = cloudfront.Function(
            self,
            "InternalPaths",
            code=cloudfront.FunctionCode.from_inline(render_internal_paths_function(internal_paths)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Answers 404 to the services' metrics and internal paths",
        )

        def behaviour(cache_policy: cloudfront.ICachePolicy) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cache_policy,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=internal_paths_function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
                compress=True,
            )

        self.web_acl = self._web_acl(
            edge,
            grafana,
            log_group_prefix=log_group_prefix,
            logs_key=logs_key,
            log_retention_days=log_retention_days,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            default_behavior=behaviour(cloudfront.CachePolicy.USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS),
            additional_behaviors={
                route: behaviour(cloudfront.CachePolicy.CACHING_DISABLED) for route in uncached_routes
            },
            domain_names=list(site.domain.site_names) if site else None,
            certificate=site.viewer_certificate if site else None,
            minimum_protocol_version=VIEWER_TLS_POLICY if site else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix="cloudfront/",
            web_acl_id=self.web_acl.attr_arn,
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

    def _web_acl(
        self,
        edge: EdgeSpec,
        grafana: GrafanaSpec | None,
        *,
        log_group_prefix: str,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> wafv2.CfnWebACL:
        rules = [
            _blocking_rule(
                RATE_RULE,
                wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=edge.requests_per_5_minutes,
                        evaluation_window_sec=RATE_WINDOW_SECONDS,
                    )
                ),
            )
        ]
        if grafana is not None:
            rules.append(_blocking_rule(GRAFANA_RULE, self._outside_grafana_allow_list(grafana)))
        # Known bad inputs (Log4Shell and kin) on every profile: one managed group, about $1 a month.
        rules.append(_managed_rule(KNOWN_BAD_INPUTS))
        if edge.managed_rules:
            rules.extend(_managed_rule(name) for name in (IP_REPUTATION, COMMON_RULES))
        rules.sort(key=lambda rule: PRIORITIES[rule.name])
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("edge"),
            rules=rules,
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
            self,
            "WebAclLogging",
            resource_arn=web_acl.attr_arn,
            log_destination_configs=[log_group.log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )
        return web_acl

    def _outside_grafana_allow_list(self, grafana: GrafanaSpec) -> wafv2.CfnWebACL.StatementProperty:
        """Grafana's route (as the origin would read it: decoded, slashes collapsed) from an
        address outside ``allowed_cidrs``; with none, the route itself, so nobody reaches it."""
        route = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="STARTS_WITH",
                search_string=grafana.route,
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                    wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
                ],
            )
        )
        allowed = [
            wafv2.CfnWebACL.StatementProperty(
                ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(arn=ip_set.attr_arn)
            )
            for ip_set in self._grafana_ip_sets(grafana.allowed_cidrs)
        ]
        if not allowed:
            return route  # an IP set must hold an address, and an allow-list of none admits nobody
        inside = (
            allowed[0]
            if len(allowed) == 1
            else wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=allowed))
        )
        return wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    route,
                    wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=inside)
                    ),
                ]
            )
        )

    def _grafana_ip_sets(self, cidrs: Sequence[str]) -> list[wafv2.CfnIPSet]:
        """One IP set per address family the CIDRs use (an IP set holds one family)."""
        ip_sets = []
        for version in (4, 6):
            addresses = [c for c in cidrs if ipaddress.ip_network(c).version == version]
            if any(ipaddress.ip_network(c).prefixlen == 0 for c in addresses):
                # "AWS WAF supports all IPv4 and IPv6 CIDR ranges except for /0" (developer guide,
                # IP set match rule statement): refuse it here rather than in the deploy.
                raise ValueError(f"grafana.allowed_cidrs: WAF's IP sets refuse /0 (got {addresses}); name two /1s")
            if addresses:
                ip_sets.append(
                    wafv2.CfnIPSet(
                        self,
                        f"GrafanaAllowedIpv{version}",
                        scope="CLOUDFRONT",
                        ip_address_version=f"IPV{version}",
                        addresses=addresses,
                        description=f"Addresses that may reach Grafana, IPv{version}",
                    )
                )
        return ip_sets

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
