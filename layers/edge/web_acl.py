"""The edge's web ACL: a rate limit per address, Grafana's allow-list and AWS's managed rule
groups, logged without session cookies or credentials."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from layers.shared.log_groups import Logging
from platform_spec import EdgeSpec, GrafanaSpec

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
"""Headers WAF's logs never hold: session cookies and credentials."""


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


def edge_web_acl(
    scope: Construct, *, edge: EdgeSpec, grafana: GrafanaSpec | None, log_group_prefix: str, logging: Logging
) -> wafv2.CfnWebACL:
    """The distribution's web ACL and its log group, in ``scope``: a rate limit per address,
    Grafana's allow-list, and AWS's managed rule groups where the spec asks."""
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
        rules.append(_blocking_rule(GRAFANA_RULE, _outside_grafana_allow_list(scope, grafana)))
    # Known bad inputs (Log4Shell and kin) on every profile: one managed group, about $1 a month.
    rules.append(_managed_rule(KNOWN_BAD_INPUTS))
    if edge.managed_rules:
        rules.extend(_managed_rule(name) for name in (IP_REPUTATION, COMMON_RULES))
    rules.sort(key=lambda rule: PRIORITIES[rule.name])
    web_acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="CLOUDFRONT",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility("edge"),
        rules=rules,
    )
    # WAF delivers only to log groups whose name starts with aws-waf-logs-.
    log_group = logging.log_group(
        scope,
        "WebAclLogs",
        name=f"aws-waf-logs-{log_group_prefix}",
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
    wafv2.CfnLoggingConfiguration(
        scope,
        "WebAclLogging",
        resource_arn=web_acl.attr_arn,
        log_destination_configs=[log_group.log_group_arn],
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
            for header in REDACTED_HEADERS
        ],
    )
    return web_acl


def _outside_grafana_allow_list(scope: Construct, grafana: GrafanaSpec) -> wafv2.CfnWebACL.StatementProperty:
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
        for ip_set in _grafana_ip_sets(scope, grafana.allowed_cidrs)
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
                wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=inside)),
            ]
        )
    )


def _grafana_ip_sets(scope: Construct, cidrs: Sequence[str]) -> list[wafv2.CfnIPSet]:
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
                    scope,
                    f"GrafanaAllowedIpv{version}",
                    scope="CLOUDFRONT",
                    ip_address_version=f"IPV{version}",
                    addresses=addresses,
                    description=f"Addresses that may reach Grafana, IPv{version}",
                )
            )
    return ip_sets
