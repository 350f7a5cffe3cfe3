"""The platform's own domain: TLS 1.2 or newer from the viewer to the load balancer.

Rules the AWS services enforce at deploy or run time, each beside the test that holds it:

- CloudFront serves only an ACM certificate from us-east-1 for its alternate domain names, and
  each alias must be on it (CloudFront developer guide, "Requirements for using SSL/TLS
  certificates with CloudFront": "Amazon Web Services Region for Amazon Certificate Manager",
  "Domain names in the CloudFront distribution and in the certificate").
- Over HTTPS to a custom origin, CloudFront checks that the origin's certificate carries the
  origin's domain name (or the Host header, when viewers' Host is forwarded, which here it is
  not); a mismatch answers 502 ("Requiring HTTPS for communication between CloudFront and your
  custom origin"). The load balancer's own ``*.elb.amazonaws.com`` name cannot be on an ACM
  certificate, so the origin is reached by a name under the domain.
- ``TLSv1.2_2021`` is CloudFront's policy with TLS 1.2 as the minimum and forward-secret ciphers
  ("Supported protocols and ciphers between viewers and CloudFront"); checkov's CKV_AWS_174.
- ``ELBSecurityPolicy-TLS13-1-2-2021-06`` admits TLS 1.3 and 1.2 only (Elastic Load Balancing
  guide, "Security policies for your Application Load Balancer"); checkov's CKV_AWS_103.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compliance.reachability_check import reachability_problems
from platform_spec import DomainSpec, GrafanaSpec, SpecError
from platform_spec.connections import LOAD_BALANCER
from platform_spec.context import spec_from_context
from platform_spec.names import COMPUTE, DELIVERY, EDGE, NETWORK, OBSERVABILITY, PUBLIC_URL
from platform_spec.profiles import PROFILES
from platform_spec.regions import CLOUDFRONT_REGION
from tests.picking import first_or_skip
from tests.platform_synth import TEST_HOSTED_ZONE_ID, Synthesized, synth_spec
from tests.templates import deployment_of

# A production profile must serve its own domain; the suite checks the first one (prod, as shipped).
PRODUCTION = first_or_skip((name for name, build in PROFILES.items() if build().production), "production profile")


def _production_domain() -> DomainSpec:
    domain = PROFILES[PRODUCTION]().edge.domain
    assert domain is not None, f"profile {PRODUCTION} serves a domain of its own"
    return domain


_DOMAIN = _production_domain()
DOMAIN = _DOMAIN.name
# The cdk-nag rules a domain makes pass instead of acknowledged.
TLS_RULES = (
    "NIST.800.53.R5-ALBHttpToHttpsRedirection",
    "NIST.800.53.R5-ELBv2ACMCertificateRequired",
    "AwsSolutions-CFR4",
)


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = _resources(template, kind).values()
    props: dict[str, Any] = resource["Properties"]
    return props


@pytest.fixture(scope="module")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    """The production profile: the one the suite holds to its domain."""
    return synthesized[PRODUCTION]


@pytest.fixture(scope="module")
def without_domain(synthesized: dict[str, Synthesized], tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A profile that names no domain (dev, as shipped), or dev made so."""
    plain = [s for s in synthesized.values() if s.spec.edge.domain is None]
    if plain:
        return plain[0]
    dev = synthesized["dev"].spec
    return synth_spec(
        tmp_path_factory.mktemp("no-domain"), replace(dev, edge=replace(dev.edge, domain=None)), checks=True
    )


def _distribution(synth: Synthesized) -> dict[str, Any]:
    config: dict[str, Any] = _one(synth.template_json(COMPUTE), "AWS::CloudFront::Distribution")["DistributionConfig"]
    return config


def _certificate_layers(synth: Synthesized) -> tuple[str, ...]:
    return tuple(layer for layer in (COMPUTE, EDGE) if layer in synth.spec.layers)


def _certificates(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Certificate logical id -> properties, beside the distribution or in the us-east-1 edge stack."""
    return {
        k: v["Properties"]
        for layer in _certificate_layers(synth)
        for k, v in _resources(synth.template_json(layer), "AWS::CertificateManager::Certificate").items()
    }


def _certificate_stack(synth: Synthesized, logical_id: str) -> str:
    (layer,) = [
        layer
        for layer in _certificate_layers(synth)
        if logical_id in _resources(synth.template_json(layer), "AWS::CertificateManager::Certificate")
    ]
    return layer


def _is_certificate(synth: Synthesized, value: Any, logical_id: str) -> bool:
    """The distribution's or listener's ``value`` is that certificate, read in its stack or across regions."""
    layer = _certificate_stack(synth, logical_id)
    if layer == COMPUTE:
        return bool(value == {"Ref": logical_id})
    deployment = deployment_of(synth)
    return bool(
        deployment.resolve(synth.stack_name(COMPUTE), value) == deployment.ref(synth.stack_name(layer), logical_id)
    )


def _records(synth: Synthesized) -> set[tuple[str, str, str]]:
    """(name, type, what the alias points at) of every record the stack writes into the zone."""
    found = set()
    for props in (
        r["Properties"] for r in _resources(synth.template_json(COMPUTE), "AWS::Route53::RecordSet").values()
    ):
        assert props["HostedZoneId"] == synth.spec.edge.domain.hosted_zone_id  # type: ignore[union-attr]
        target = str(props["AliasTarget"]["DNSName"])
        kind = (
            "distribution" if "EdgeDistribution" in target else "load balancer" if "LoadBalancer" in target else target
        )
        found.add((props["Name"], props["Type"], kind))
    return found


def _acknowledged_rules(synth: Synthesized) -> set[str]:
    return {
        finding["ruleName"].split("::")[-1].split("[")[0]
        for plugin in synth.validation_report()["pluginReports"]
        for finding in plugin.get("suppressedViolations", [])
    }


# --- the spec ---------------------------------------------------------------------------------


def test_production_needs_its_own_domain() -> None:
    production = PROFILES[PRODUCTION]()
    with pytest.raises(SpecError, match=r"^edge.domain: production serves its own domain"):
        replace(production, edge=replace(production.edge, domain=None))


def test_production_takes_its_zone_from_context() -> None:
    spec = spec_from_context({"env": PRODUCTION, "hosted_zone_id": TEST_HOSTED_ZONE_ID})
    assert spec.edge.domain is not None
    assert spec.edge.domain.name == DOMAIN
    assert spec.edge.domain.hosted_zone_id == (_DOMAIN.hosted_zone_id or TEST_HOSTED_ZONE_ID)
    # The tools (release, images, verify) read names only, and need no zone.
    assert spec_from_context({"env": PRODUCTION}).edge.domain == PROFILES[PRODUCTION]().edge.domain


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "example.com", "hosted_zone_name": "example.org"}, "not inside the hosted zone"),
        ({"name": "www.example.com", "hosted_zone_name": "example.com", "www": True}, "already starts with www."),
        ({"name": "example.com", "hosted_zone_name": "example.com", "hosted_zone_id": "example"}, "not a Route 53"),
        ({"name": "exa mple.com", "hosted_zone_name": "example.com"}, "not a DNS name"),
    ],
)
def test_a_bad_domain_is_refused_in_one_line(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message) as raised:
        DomainSpec(**fields)
    assert "\n" not in str(raised.value)


def test_the_origin_port_follows_the_domain(without_domain: Synthesized, prod: Synthesized) -> None:
    assert (without_domain.spec.edge.origin_port, prod.spec.edge.origin_port) == (80, 443)


# --- viewers ----------------------------------------------------------------------------------


def test_viewers_get_the_domains_certificate_with_tls_1_2_or_newer(prod: Synthesized) -> None:
    domain = prod.spec.edge.domain
    assert domain is not None
    zone = domain.hosted_zone_id or TEST_HOSTED_ZONE_ID
    config = _distribution(prod)
    assert config["Aliases"] == list(domain.site_names)
    certificate = config["ViewerCertificate"]
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["SslSupportMethod"] == "sni-only"
    (viewer,) = [k for k, v in _certificates(prod).items() if v["DomainName"] == DOMAIN]
    assert _is_certificate(prod, certificate["AcmCertificateArn"], viewer)
    props = _certificates(prod)[viewer]
    assert props.get("SubjectAlternativeNames", []) == list(domain.site_names[1:])
    # Validated by DNS in the zone: CloudFormation writes the records and waits for ACM.
    assert props["ValidationMethod"] == "DNS"
    assert props["DomainValidationOptions"] == [
        {"DomainName": name, "HostedZoneId": zone} for name in domain.site_names
    ]
    # The stack that holds it is in us-east-1, where CloudFront reads certificates.
    stack = getattr(prod.stacks, _certificate_stack(prod, viewer))
    assert stack.region == CLOUDFRONT_REGION


def test_plain_http_is_redirected(profile: Synthesized) -> None:
    config = _distribution(profile)
    for behaviour in [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


def test_each_name_has_ipv4_and_ipv6_alias_records(prod: Synthesized) -> None:
    assert prod.spec.edge.domain is not None
    names = prod.spec.edge.domain.site_names
    assert _records(prod) == {
        *((f"{name}.", kind, "distribution") for name in names for kind in ("A", "AAAA")),
        (f"{prod.spec.edge.domain.origin_name}.", "A", "load balancer"),
    }
    assert _distribution(prod).get("IPV6Enabled", True) is True


# --- origin -----------------------------------------------------------------------------------


def test_cloudfront_reaches_the_load_balancer_over_tls_1_2_by_a_name_on_its_certificate(prod: Synthesized) -> None:
    template = prod.template_json(COMPUTE)
    listener = _one(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    ((certificate_ref,),) = [[c["CertificateArn"]["Ref"] for c in listener["Certificates"]]]
    origin_name = _certificates(prod)[certificate_ref]["DomainName"]
    assert prod.spec.edge.domain is not None
    assert origin_name == prod.spec.edge.domain.origin_name
    zone = prod.spec.edge.domain.hosted_zone_id or TEST_HOSTED_ZONE_ID
    assert _certificates(prod)[certificate_ref]["DomainValidationOptions"] == [
        {"DomainName": origin_name, "HostedZoneId": zone}
    ]
    # The load balancer's certificate is in its own region, beside it.
    assert _certificate_stack(prod, certificate_ref) == COMPUTE
    vpc_origin = _one(template, "AWS::CloudFront::VpcOrigin")["VpcOriginEndpointConfig"]
    assert vpc_origin["OriginProtocolPolicy"] == "https-only"
    assert vpc_origin["OriginSSLProtocols"] == ["TLSv1.2"]
    assert vpc_origin["HTTPSPort"] == 443
    # The name CloudFront asks the origin for, and checks its certificate against.
    (origin,) = _distribution(prod)["Origins"]
    assert origin["DomainName"] == origin_name


def test_without_a_domain_the_origin_stays_http_inside_the_vpc(without_domain: Synthesized) -> None:
    template = without_domain.template_json(COMPUTE)
    listener = _one(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    vpc_origin = _one(template, "AWS::CloudFront::VpcOrigin")["VpcOriginEndpointConfig"]
    assert (vpc_origin["OriginProtocolPolicy"], vpc_origin["HTTPPort"]) == ("http-only", 80)
    assert _certificates(without_domain) == {}
    assert "ViewerCertificate" not in _distribution(without_domain)


def test_the_domain_leaves_no_tls_acknowledgment(without_domain: Synthesized, prod: Synthesized) -> None:
    """The HTTP listener's and the default certificate's acknowledgments stay where they are
    still true (no domain), and are gone where the domain makes the rules pass."""
    assert set(TLS_RULES) <= _acknowledged_rules(without_domain)
    assert set(TLS_RULES) & _acknowledged_rules(prod) == set()
    for plugin in prod.validation_report()["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]


# --- the load balancer's group, from the spec -------------------------------------------------


def _load_balancer_ingress(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and "SourcePrefixListId" in r["Properties"]
    ]


def test_only_cloudfront_reaches_the_load_balancer_and_only_on_443(prod: Synthesized) -> None:
    (rule,) = _load_balancer_ingress(prod.template_json(NETWORK))
    assert rule["SourcePrefixListId"] == prod.spec.origin_facing_prefix_list
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)


def test_the_reachability_check_names_a_stale_origin_port(prod: Synthesized) -> None:
    """Port 80 left open (and 443 missing) fails every synth, naming both."""
    template = copy.deepcopy(prod.template_json(NETWORK))
    (rule,) = _load_balancer_ingress(template)
    rule["FromPort"] = rule["ToPort"] = 80
    prefix_list = prod.spec.origin_facing_prefix_list
    messages = [p.message for p in reachability_problems(prod.spec, template)]
    assert messages == [
        f"{prefix_list} -> {LOAD_BALANCER}:80: reaches the load balancer, which only cloudfront ({prefix_list}) "
        "may, on 443",
        f"cloudfront ({prefix_list}) -> {LOAD_BALANCER}:443 (CloudFront's VPC origin): missing the ingress rule on "
        f"{LOAD_BALANCER}'s group",
    ]


# --- what follows the domain ------------------------------------------------------------------


def test_the_public_url_and_the_smoke_tests_follow_the_domain(prod: Synthesized) -> None:
    assert prod.template_json(COMPUTE)["Outputs"][PUBLIC_URL]["Value"] == f"https://{DOMAIN}"
    environment = {
        e["Name"]: e["Value"]
        for r in _resources(prod.template_json(DELIVERY), "AWS::ECS::TaskDefinition").values()
        for c in r["Properties"]["ContainerDefinitions"]
        if c["Name"] == "smoke-tests"
        for e in c.get("Environment", [])
    }
    assert environment["WEB_URL"] == f"https://{DOMAIN}"


def test_dev_with_a_named_domain_serves_it_and_grafana_follows(dev: Synthesized, tmp_path: Path) -> None:
    """A user who names a domain for dev gets what prod gets; Grafana's root URL and trusted
    origins are the names a browser sends through CloudFront (grafana/grafana#46321)."""
    domain = DomainSpec(
        name="dev.example.com", hosted_zone_name="example.com", hosted_zone_id="Z0123456789ABC", www=True
    )
    grafana = dev.spec.grafana or GrafanaSpec()
    spec = replace(dev.spec, grafana=grafana, edge=replace(dev.spec.edge, domain=domain))
    synth = synth_spec(tmp_path, spec, checks=True)
    assert _distribution(synth)["Aliases"] == ["dev.example.com", "www.dev.example.com"]
    listener = _one(synth.template_json(COMPUTE), "AWS::ElasticLoadBalancingV2::Listener")
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    container = next(
        c
        for r in _resources(synth.template_json(OBSERVABILITY), "AWS::ECS::TaskDefinition").values()
        for c in r["Properties"]["ContainerDefinitions"]
        if c["Name"] == grafana.name
    )
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["GF_SERVER_ROOT_URL"] == f"https://dev.example.com{grafana.route}/"
    assert environment["GF_SECURITY_CSRF_TRUSTED_ORIGINS"] == "dev.example.com www.dev.example.com"
    assert set(TLS_RULES) & _acknowledged_rules(synth) == set()
    assert all(plugin["violations"] == [] for plugin in synth.validation_report()["pluginReports"])
