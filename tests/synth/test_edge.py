"""The edge on every profile: the web ACL, the function that hides internal paths, the
security headers and methods of every behaviour, and Grafana's own hardening.

The viewer-request function is executed, not read: its code is taken from each synthesized
compute template and run with the pinned Node on events shaped as CloudFront's viewer-request
event ("CloudFront Functions event structure",
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html),
in strict mode as CloudFront runs it, every case of every profile in one Node process. A
function is at most 10 KB ("Quotas on CloudFront Functions",
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from layers.edge.edge_distribution import EdgeDistribution
from layers.edge.edge_function import normalised_path
from layers.shared.log_groups import Logging
from platform_spec import GrafanaSpec, PlatformSpec, ServiceSpec
from platform_spec.names import COMPUTE, EDGE, OBSERVABILITY
from platform_spec.profiles import PROFILES
from platform_spec.regions import CLOUDFRONT_REGION
from tests.platform_synth import PROFILE_NAMES, ROOT, Synthesized, synth_spec
from tests.templates import deployment_of

NODE = ROOT / "node_modules" / ".bin" / "node"
SECURITY_HEADERS_POLICY = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # AWS's managed SecurityHeadersPolicy
FUNCTION_SIZE_LIMIT = 10 * 1024
VARIANT = "variant"
ALWAYS_MANAGED = {"AWSManagedRulesKnownBadInputsRuleSet": 4}
MANAGED_GROUPS = {
    "AWSManagedRulesAmazonIpReputationList": 0,
    "AWSManagedRulesCommonRuleSet": 3,
    **ALWAYS_MANAGED,
}

Outcome = Literal["404", "400", "unchanged"]


def variant_spec() -> PlatformSpec:
    """dev with what no profile ships: Grafana (whether dev runs it or not) open to an IPv4 and an
    IPv6 network, on its first public service an internal path written with a trailing slash and
    one hiding everything under it, and a rate limit other than the default."""
    dev = PROFILES["dev"]()
    first = dev.public_services[0]
    hidden = replace(first, internal_paths=("/internal/jobs/", "/internal/admin/*"))
    return replace(
        dev,
        services=tuple(hidden if s.name == first.name else s for s in dev.services),
        grafana=replace(dev.grafana or GrafanaSpec(), allowed_cidrs=("203.0.113.0/24", "2001:db8::/32")),
        edge=replace(dev.edge, requests_per_5_minutes=500),
    )


SPECS: dict[str, PlatformSpec] = {**{name: PROFILES[name]() for name in PROFILE_NAMES}, VARIANT: variant_spec()}


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth_spec(tmp_path_factory.mktemp("cdk-edge-variant"), SPECS[VARIANT], checks=True)


@pytest.fixture(scope="module")
def synths(synthesized: dict[str, Synthesized], variant: Synthesized) -> dict[str, Synthesized]:
    return {**synthesized, VARIANT: variant}


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    """Every resource of ``kind`` in the compute stack or, outside us-east-1, the edge stack."""
    return {
        k: v
        for layer in (COMPUTE, EDGE)
        if layer in synth.spec.layers
        for k, v in synth.template_json(layer)["Resources"].items()
        if v["Type"] == kind
    }


def _names(synth: Synthesized, value: Any, logical_id: str, attribute: str) -> bool:
    """Whether the distribution's ``value`` is that attribute of that edge resource: read in its own
    stack, or from the us-east-1 edge stack (tests/synth/test_region.py)."""
    if EDGE not in synth.spec.layers:
        return bool(value == {"Fn::GetAtt": [logical_id, attribute]})
    reference = value.get("Fn::GetStackOutput", {}) if isinstance(value, dict) else {}
    if (reference.get("StackName"), reference.get("Region")) != (synth.stack_name(EDGE), CLOUDFRONT_REGION):
        return False
    deployment = deployment_of(synth)
    return bool(
        deployment.resolve(synth.stack_name(COMPUTE), value)
        == deployment.get_att(synth.stack_name(EDGE), logical_id, attribute)
    )


def _function(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, function),) = _resources(synth, "AWS::CloudFront::Function").items()
    return logical_id, function["Properties"]


def _behaviours(synth: Synthesized) -> list[dict[str, Any]]:
    ((_, distribution),) = _resources(synth, "AWS::CloudFront::Distribution").items()
    config = distribution["Properties"]["DistributionConfig"]
    return [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]


def _web_acl(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, web_acl),) = _resources(synth, "AWS::WAFv2::WebACL").items()
    return logical_id, web_acl["Properties"]


# --- The internal-paths function, executed -----------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    uri: str
    expect: Outcome
    querystring: dict[str, Any] | None = None

    def event(self) -> dict[str, Any]:
        """A viewer-request event as CloudFront builds it (headers lower-case, query string apart)."""
        return {
            "version": "1.0",
            "context": {
                "distributionDomainName": "d111111abcdef8.cloudfront.net",
                "distributionId": "EDFDVBD6EXAMPLE",
                "eventType": "viewer-request",
                "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
            },
            "viewer": {"ip": "198.51.100.11"},
            "request": {
                "method": "GET",
                "uri": self.uri,
                "querystring": self.querystring or {},
                "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}, "accept": {"value": "*/*"}},
                "cookies": {"session": {"value": "abc"}},
            },
        }


def _encode_letters(path: str) -> str:
    return "".join(f"%{ord(c):02X}" if c.isalpha() else c for c in path)


def _route_path(service: ServiceSpec) -> str:
    """An ordinary path the service answers through its route (the default route: the home page)."""
    return "/" if service.route is None else service.route.replace("*", "items/42")


def cases(service: ServiceSpec) -> list[Case]:
    """What the edge does with paths of a public service (nothing else is at the edge)."""
    metrics = str(service.metrics_path)
    health = str(service.health_check_path)
    exact = [p for p in service.internal_paths if not p.endswith("/*")]
    prefixes = [p.removesuffix("/*") for p in service.internal_paths if p.endswith("/*")]
    return [
        Case("metrics path", metrics, "404"),
        Case("trailing slash", metrics + "/", "404"),
        Case("doubled slashes", metrics.replace("/", "//"), "404"),
        Case("percent-encoded letters", _encode_letters(metrics), "404"),
        Case("percent-encoded slash", metrics[:1] + metrics[1:].replace("/", "%2F"), "404"),
        Case("with a query string", metrics, "404", {"format": {"value": "prometheus"}}),
        *(Case(f"internal path {p}", p, "404") for p in exact),
        *(Case(f"internal path {p}, encoded, doubled", "/" + _encode_letters(p), "404") for p in exact),
        *(Case(f"a path below {p}", p + "/x", "unchanged") for p in exact),
        *(Case(f"everything under {p}", p + "/users/7", "404") for p in prefixes),
        *(Case(f"{p} itself", p, "404") for p in prefixes),
        *(Case(f"under {p}, encoded", "/" + _encode_letters(p.strip("/")) + "/x", "404") for p in prefixes),
        *(Case(f"a sibling of {p}", p + "-other", "unchanged") for p in prefixes),
        Case("health path", health, "unchanged"),
        Case("route path", _route_path(service), "unchanged", {"page": {"value": "2"}}),
        Case("another case (Express matches routes regardless of case)", metrics.upper(), "404"),
        Case("a dot segment", metrics.replace("/", "/./", 1), "404"),
        Case("a dot-dot segment", "/x/.." + metrics, "404"),
        Case("a dot-dot segment above the root", "/.." + metrics, "404"),
        Case("a longer path", metrics + "/extra", "unchanged"),
        Case("malformed percent-encoding", health + "%zz", "400"),
        Case("truncated percent-encoding", metrics + "%E0%A4%A", "400"),
    ]


# One case list per public service of each profile (and of the variant).
SERVICES = [(name, service.name) for name, spec in SPECS.items() for service in spec.public_services]

# Loads each function as CloudFront does (a script, strict mode) and calls handler(event).
_RUNNER = """
'use strict';
const vm = require('vm');
const batch = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const results = {};
  for (const fn of batch) {
    const handler = vm.runInNewContext('"use strict";\\n' + fn.code + '\\n;handler', {}, { filename: fn.name });
    for (const [id, event] of Object.entries(fn.events)) {
      results[id] = await handler(event);
    }
  }
  process.stdout.write(JSON.stringify(results));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="module")
def function_results(synths: dict[str, Synthesized]) -> dict[str, Any]:
    """Every case of every profile, run in one Node process: case id -> what handler returned."""
    batch = []
    for name, synth in synths.items():
        _, function = _function(synth)
        events = {
            f"{name}/{service.name}/{case.label}": case.event()
            for service in synth.spec.public_services
            for case in cases(service)
        }
        batch.append({"name": f"{name}-internal-paths.js", "code": function["FunctionCode"], "events": events})
    run = subprocess.run(
        [str(NODE), "-e", _RUNNER], input=json.dumps(batch), capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stderr
    results: dict[str, Any] = json.loads(run.stdout)
    return results


def _outcome(result: dict[str, Any], case: Case) -> str:
    """``unchanged`` (the request, as it came), the status of a generated response, or what came back."""
    if result == case.event()["request"]:
        return "unchanged"
    if result.get("statusCode") in (404, 400) and set(result) <= {"statusCode", "statusDescription"}:
        return str(result["statusCode"])
    return json.dumps(result)


@pytest.mark.parametrize(("profile_name", "service_name"), SERVICES, ids=[f"{p}-{s}" for p, s in SERVICES])
def test_the_edge_answers_404_to_internal_paths_and_passes_the_rest(
    function_results: dict[str, Any], profile_name: str, service_name: str
) -> None:
    service = SPECS[profile_name].service(service_name)
    wrong = [
        (case.label, case.uri, case.expect, outcome)
        for case in cases(service)
        if (outcome := _outcome(function_results[f"{profile_name}/{service_name}/{case.label}"], case)) != case.expect
    ]
    assert wrong == []


def test_every_behaviour_runs_the_function_on_viewer_request_with_security_headers(profile: Synthesized) -> None:
    logical_id, function = _function(profile)
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["AutoPublish"] is True
    assert len(function["FunctionCode"].encode()) <= FUNCTION_SIZE_LIMIT
    behaviours = _behaviours(profile)
    routes = sum(1 for s in profile.spec.public_services if s.route)
    assert len(behaviours) == 1 + routes + (profile.spec.grafana is not None)
    for behaviour in behaviours:
        where = behaviour.get("PathPattern", "default")
        (association,) = behaviour["FunctionAssociations"]
        assert association["EventType"] == "viewer-request", where
        assert _names(profile, association["FunctionARN"], logical_id, "FunctionARN"), where


def _is_grafana(synth: Synthesized, behaviour: dict[str, Any]) -> bool:
    return synth.spec.grafana is not None and behaviour.get("PathPattern") == synth.spec.grafana.route_pattern


def _csp_directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def test_the_services_answers_carry_the_security_headers_and_a_csp_that_loads_nothing(profile: Synthesized) -> None:
    """AWS's managed SecurityHeadersPolicy sends no Content-Security-Policy; the services' behaviours
    send one that lets a page load nothing unless its origin names more (a response headers policy
    whose CSP does not override the origin's: CloudFront developer guide, "Understand response
    headers policies", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-response-headers-policies.html).
    Grafana's pages run Grafana's scripts: its route keeps the managed policy."""
    policies = _resources(profile, "AWS::CloudFront::ResponseHeadersPolicy")
    for behaviour in _behaviours(profile):
        where = behaviour.get("PathPattern", "default")
        if _is_grafana(profile, behaviour):
            assert behaviour["ResponseHeadersPolicyId"] == SECURITY_HEADERS_POLICY, where
            continue
        (logical_id,) = [k for k in policies if behaviour["ResponseHeadersPolicyId"] == {"Ref": k}]
        headers = policies[logical_id]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        csp = headers["ContentSecurityPolicy"]
        directives = _csp_directives(csp["ContentSecurityPolicy"])
        for directive in ("default-src", "base-uri", "form-action", "frame-ancestors"):
            assert directives.get(directive) == ["'none'"], (where, directive)
        assert csp["Override"] is False, "a page that names what it loads keeps its own policy"
        assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000, where
        assert headers["ContentTypeOptions"]["Override"] is True, where
        assert headers["FrameOptions"]["FrameOption"] in ("DENY", "SAMEORIGIN"), where
        assert "ReferrerPolicy" in headers, where
        assert "XSSProtection" in headers, where


def test_the_edge_passes_the_services_only_get_and_head(profile: Synthesized) -> None:
    """The services answer GET and HEAD (405 otherwise); CloudFront refuses the other methods
    itself (AllowedMethods, CloudFront API reference, "CacheBehavior"). Grafana's route, where a
    signed-in user saves dashboards, takes them all."""
    every = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    for behaviour in _behaviours(profile):
        wanted = every if _is_grafana(profile, behaviour) else {"GET", "HEAD"}
        assert set(behaviour["AllowedMethods"]) == wanted, behaviour.get("PathPattern", "default")


def test_the_function_lists_each_internal_path_once_normalised(variant: Synthesized) -> None:
    _, function = _function(variant)
    paths = [p for s in variant.spec.public_services for p in (str(s.metrics_path), *s.internal_paths)]
    exact = list(dict.fromkeys(normalised_path(p) for p in paths if not p.endswith("/*")))
    prefixes = list(dict.fromkeys(normalised_path(p.removesuffix("/*")) for p in paths if p.endswith("/*")))
    assert f"var INTERNAL_PATHS = {json.dumps(exact)};" in function["FunctionCode"]
    assert f"var INTERNAL_PREFIXES = {json.dumps(prefixes)};" in function["FunctionCode"]
    assert "/internal/jobs" in exact, "the trailing slash is normalised away"


# --- The web ACL -----------------------------------------------------------------------------


def _expected_priorities(spec: PlatformSpec) -> dict[str, int]:
    expected = {"RateLimitPerAddress": 1, **ALWAYS_MANAGED}
    if spec.grafana is not None:
        expected["GrafanaAllowList"] = 2
    if spec.edge.managed_rules:
        expected.update(MANAGED_GROUPS)
    return expected


@pytest.mark.parametrize("name", [*PROFILE_NAMES, VARIANT])
def test_the_web_acl_rules_follow_the_spec(synths: dict[str, Synthesized], name: str) -> None:
    synth = synths[name]
    spec = synth.spec
    logical_id, web_acl = _web_acl(synth)
    assert web_acl["Scope"] == "CLOUDFRONT"
    assert web_acl["DefaultAction"] == {"Allow": {}}
    assert web_acl["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    rules = {rule["Name"]: rule for rule in web_acl["Rules"]}
    assert {n: r["Priority"] for n, r in rules.items()} == _expected_priorities(spec)
    for rule_name, rule in rules.items():
        assert rule["VisibilityConfig"] == {
            "CloudWatchMetricsEnabled": True,
            "MetricName": rule_name,
            "SampledRequestsEnabled": True,
        }
    rate = rules["RateLimitPerAddress"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"] == {
        "RateBasedStatement": {
            "AggregateKeyType": "IP",
            "EvaluationWindowSec": 300,
            "Limit": spec.edge.requests_per_5_minutes,
        }
    }
    for group in set(MANAGED_GROUPS) & set(rules):
        assert rules[group]["Statement"] == {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}}
        assert rules[group]["OverrideAction"] == {"None": {}}
    (distribution,) = _resources(synth, "AWS::CloudFront::Distribution").values()
    assert _names(synth, distribution["Properties"]["DistributionConfig"]["WebACLId"], logical_id, "Arn")


def _grafana_route_match(route: str) -> dict[str, Any]:
    return {
        "ByteMatchStatement": {
            "FieldToMatch": {"UriPath": {}},
            "PositionalConstraint": "STARTS_WITH",
            "SearchString": route,
            "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "NORMALIZE_PATH"}],
        }
    }


def test_grafana_is_closed_to_everyone_when_the_spec_names_no_address(tmp_path: Path) -> None:
    resources = _edge_alone(tmp_path, ())["Resources"]
    (web_acl,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACL"]
    (rule,) = [r for r in web_acl["Rules"] if r["Name"] == "GrafanaAllowList"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"] == _grafana_route_match((PROFILES["dev"]().grafana or GrafanaSpec()).route)
    assert not [r for r in resources.values() if r["Type"] == "AWS::WAFv2::IPSet"], "WAF refuses an empty IP set"


def test_grafana_admits_exactly_the_spec_networks_per_address_family(variant: Synthesized) -> None:
    grafana = variant.spec.grafana
    assert grafana is not None
    ip_sets = _resources(variant, "AWS::WAFv2::IPSet")
    by_version = {r["Properties"]["IPAddressVersion"]: (k, r["Properties"]) for k, r in ip_sets.items()}
    assert sorted(by_version) == ["IPV4", "IPV6"]
    assert by_version["IPV4"][1]["Addresses"] == [c for c in grafana.allowed_cidrs if ":" not in c]
    assert by_version["IPV6"][1]["Addresses"] == [c for c in grafana.allowed_cidrs if ":" in c]
    assert all(p["Scope"] == "CLOUDFRONT" for _, p in by_version.values())
    _, web_acl = _web_acl(variant)
    (rule,) = [r for r in web_acl["Rules"] if r["Name"] == "GrafanaAllowList"]
    references = [
        {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [by_version[v][0], "Arn"]}}} for v in ("IPV4", "IPV6")
    ]
    assert rule["Statement"] == {
        "AndStatement": {
            "Statements": [
                _grafana_route_match(grafana.route),
                {"NotStatement": {"Statement": {"OrStatement": {"Statements": references}}}},
            ]
        }
    }
    assert all(plugin["violations"] == [] for plugin in variant.validation_report()["pluginReports"])


def test_a_profile_without_grafana_has_no_allow_list(profile: Synthesized) -> None:
    _, web_acl = _web_acl(profile)
    names = {rule["Name"] for rule in web_acl["Rules"]}
    assert ("GrafanaAllowList" in names) == (profile.spec.grafana is not None)
    assert (set(MANAGED_GROUPS) <= names) == profile.spec.edge.managed_rules
    if profile.spec.grafana is None or not profile.spec.grafana.allowed_cidrs:
        assert _resources(profile, "AWS::WAFv2::IPSet") == {}


def _edge_alone(tmp_path: Path, allowed_cidrs: tuple[str, ...]) -> dict[str, Any]:
    """Only the edge construct, in a stack of its own, for the cases no profile holds."""
    dev = PROFILES["dev"]()
    app = App(outdir=str(tmp_path))
    region = CLOUDFRONT_REGION  # where an edge built beside its distribution lives
    stack = Stack(app, "Edge", env=Environment(account="111111111111", region=region))
    load_balancer = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
        stack,
        "Lb",
        load_balancer_arn=f"arn:aws:elasticloadbalancing:{region}:111111111111:loadbalancer/app/lb/0123456789abcdef",
        security_group_id="sg-0123456789abcdef0",
        load_balancer_dns_name=f"internal-lb-1.{region}.elb.amazonaws.com",
    )
    EdgeDistribution(
        stack,
        "Edge",
        spec=replace(
            dev,
            region=region,
            network=replace(dev.network, zone_ids=()),
            grafana=replace(dev.grafana or GrafanaSpec(), allowed_cidrs=allowed_cidrs),
        ),
        load_balancer=load_balancer,
        site=None,
        access_logs=s3.Bucket.from_bucket_name(stack, "Logs", "access-logs"),
        logging=Logging(
            key=kms.Key.from_key_arn(
                stack, "Key", f"arn:aws:kms:{region}:111111111111:key/11111111-2222-3333-4444-555555555555"
            ),
            retention_days=30,
        ),
    )
    template: dict[str, Any] = app.synth().get_stack_by_name("Edge").template
    return template


def test_one_address_family_needs_no_or_statement(tmp_path: Path) -> None:
    resources = _edge_alone(tmp_path, ("2001:db8::/32",))["Resources"]
    ((ip_set_id, ip_set),) = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::WAFv2::IPSet"]
    assert ip_set["Properties"]["Addresses"] == ["2001:db8::/32"]
    (web_acl,) = [r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACL"]
    (rule,) = [r for r in web_acl["Properties"]["Rules"] if r["Name"] == "GrafanaAllowList"]
    reference = {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [ip_set_id, "Arn"]}}}
    assert rule["Statement"]["AndStatement"]["Statements"][1] == {"NotStatement": {"Statement": reference}}


def test_an_allow_list_of_slash_zero_is_refused_at_synth(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"refuse /0"):
        _edge_alone(tmp_path, ("0.0.0.0/0",))


def test_waf_logs_leave_out_cookies_and_credentials(profile: Synthesized) -> None:
    (logging,) = _resources(profile, "AWS::WAFv2::LoggingConfiguration").values()
    props = logging["Properties"]
    assert props["RedactedFields"] == [
        {"SingleHeader": {"Name": "cookie"}},
        {"SingleHeader": {"Name": "authorization"}},
    ]
    web_acl_id, _ = _web_acl(profile)
    assert props["ResourceArn"] == {"Fn::GetAtt": [web_acl_id, "Arn"]}
    ((group_id, group),) = [
        (k, r)
        for k, r in _resources(profile, "AWS::Logs::LogGroup").items()
        if r["Properties"].get("LogGroupName", "").startswith("aws-waf-logs-")
    ]
    assert props["LogDestinationConfigs"] == [{"Fn::GetAtt": [group_id, "Arn"]}]
    assert group["Properties"]["LogGroupName"] == f"aws-waf-logs-{profile.spec.stack_prefix}"
    assert group["Properties"]["RetentionInDays"] == profile.spec.log_retention_days
    assert "KmsKeyId" in group["Properties"]
    # Kept as before: a failed first create leaves no name behind; otherwise the logs stay.
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


# --- Grafana's own settings --------------------------------------------------------------


def test_grafana_sets_secure_cookies_no_gravatar_and_keeps_login_protection(variant: Synthesized) -> None:
    grafana_spec = variant.spec.grafana
    assert grafana_spec is not None
    (grafana,) = [
        container
        for resource in variant.template_json(OBSERVABILITY)["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
        if container["Name"] == grafana_spec.name
    ]
    environment = {e["Name"]: e["Value"] for e in grafana["Environment"]}
    assert {
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_SECURITY_COOKIE_SAMESITE": "strict",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_SECURITY_DISABLE_BRUTE_FORCE_LOGIN_PROTECTION": "false",
        "GF_SECURITY_DISABLE_USERNAME_LOGIN_PROTECTION": "false",
    }.items() <= environment.items()
