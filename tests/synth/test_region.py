"""A platform outside us-east-1: its stacks in its own region, and what CloudFront reads from
us-east-1 in a small edge stack there.

CloudFront uses a viewer certificate only from ACM in us-east-1 ("Requirements for using SSL/TLS
certificates with CloudFront", certificate Region:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html);
a web ACL of scope CLOUDFRONT is created in us-east-1 (AWS WAF developer guide), and its logs go to
a log group there ("Sending web ACL traffic logs to an Amazon CloudWatch Logs log group": for
CloudFront, in us-east-1). The distribution in the platform's region reads their ARNs with
Fn::GetStackOutput naming the region, which "supports cross-account and cross-region references"
(CloudFormation template reference, "Fn::GetStackOutput"); Fn::ImportValue cannot cross regions."""

from __future__ import annotations

import json
from typing import Any

from aws_model.ledger import Entry, assembly_regions, check_ledger
from platform_spec.names import COMPUTE, EDGE, LAYERS, NETWORK
from platform_spec.regions import CLOUDFRONT_REGION, ORIGIN_FACING_PREFIX_LISTS
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, ledger_of

# What must live in us-east-1, and so in the edge stack of a platform elsewhere.
EDGE_TYPES = ("AWS::WAFv2::WebACL", "AWS::WAFv2::LoggingConfiguration", "AWS::CloudFront::Function")


def _types(synth: Synthesized, layer: str) -> list[str]:
    return [body["Type"] for body in synth.template_json(layer)["Resources"].values()]


def _distribution(synth: Synthesized) -> dict[str, Any]:
    (distribution,) = [
        body
        for body in synth.template_json(COMPUTE)["Resources"].values()
        if body["Type"] == "AWS::CloudFront::Distribution"
    ]
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def test_the_stacks_are_in_the_spec_region_and_the_edge_stack_in_us_east_1(outside: Synthesized) -> None:
    spec = outside.spec
    assert spec.region != CLOUDFRONT_REGION
    regions = assembly_regions(outside.outdir)
    assert {layer: regions[spec.stack_name(layer)] for layer in spec.layers} == {
        **{layer: spec.region for layer in LAYERS},
        EDGE: CLOUDFRONT_REGION,
    }
    manifest = json.loads((outside.outdir / "manifest.json").read_text())
    # The edge stack deploys first: the compute stack reads its outputs.
    assert spec.stack_name(EDGE) in manifest["artifacts"][spec.stack_name(COMPUTE)]["dependencies"]


def test_the_edge_stack_holds_what_cloudfront_reads_from_us_east_1_and_compute_none_of_it(outside: Synthesized) -> None:
    edge, compute = _types(outside, EDGE), _types(outside, COMPUTE)
    for kind in EDGE_TYPES:
        assert kind in edge, kind
        assert kind not in compute, kind
    # The viewer certificate in us-east-1; the load balancer's own (origin) certificate beside it.
    assert edge.count("AWS::CertificateManager::Certificate") == 1
    assert compute.count("AWS::CertificateManager::Certificate") == 1
    # Only what us-east-1 needs: no workload, no network there.
    assert not {"AWS::ECS::Service", "AWS::EC2::VPC", "AWS::ElasticLoadBalancingV2::LoadBalancer"} & set(edge)


def test_the_distribution_reads_the_edge_stacks_outputs_across_regions(outside: Synthesized) -> None:
    config = _distribution(outside)
    reads = [
        config["WebACLId"],
        config["DefaultCacheBehavior"]["FunctionAssociations"][0]["FunctionARN"],
        config["ViewerCertificate"]["AcmCertificateArn"],
    ]
    edge = outside.stack_name(EDGE)
    for value in reads:
        reference = value["Fn::GetStackOutput"]
        assert (reference["StackName"], reference["Region"]) == (edge, CLOUDFRONT_REGION)
    # As deployed: each names the resource of the edge stack it stands for.
    deployment = deployment_of(outside)
    resolved = [deployment.resolve(outside.stack_name(COMPUTE), value) for value in reads]

    def edge_resource(kind: str, attribute: str) -> str:
        (logical_id,) = deployment.resources(edge, kind)
        return (
            deployment.ref(edge, logical_id) if attribute == "Ref" else deployment.get_att(edge, logical_id, attribute)
        )

    assert resolved == [
        edge_resource("AWS::WAFv2::WebACL", "Arn"),
        edge_resource("AWS::CloudFront::Function", "FunctionARN"),
        edge_resource("AWS::CertificateManager::Certificate", "Ref"),
    ]
    assert resolved[0].startswith(f"arn:aws:wafv2:{CLOUDFRONT_REGION}:")
    assert resolved[2].startswith(f"arn:aws:acm:{CLOUDFRONT_REGION}:")


def test_the_web_acl_logs_in_us_east_1_under_a_key_of_its_own_region(outside: Synthesized) -> None:
    """Every run-time call holds, the WAF log group's encryption through us-east-1's CloudWatch Logs."""
    deployment = deployment_of(outside)
    entries = ledger_of(outside, deployment)
    assert [str(f) for f in check_ledger(deployment, entries)] == []
    encrypted = [
        e
        for e in entries
        if isinstance(e, Entry) and e.action == "kms:GenerateDataKey" and "aws-waf-logs-" in e.purpose
    ]
    assert [e.caller.label for e in encrypted] == [f"logs.{CLOUDFRONT_REGION}.amazonaws.com"]


def test_the_load_balancer_admits_the_origin_facing_list_of_its_own_region(outside: Synthesized) -> None:
    ingress = [
        body["Properties"]
        for body in outside.template_json(NETWORK)["Resources"].values()
        if body["Type"] == "AWS::EC2::SecurityGroupIngress" and "SourcePrefixListId" in body["Properties"]
    ]
    assert [rule["SourcePrefixListId"] for rule in ingress] == [outside.spec.origin_facing_prefix_list]
    if outside.spec.edge.origin_facing_prefix_list is None:
        assert outside.spec.origin_facing_prefix_list == ORIGIN_FACING_PREFIX_LISTS[outside.spec.region]


def test_the_compliance_checks_pass_in_both_regions(outside: Synthesized) -> None:
    report = outside.validation_report()
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])
    # The checks walked the edge stack: the whole app is validated, whichever region a stack is in.
    tree = json.loads((outside.outdir / "tree.json").read_text())
    assert outside.stack_name(EDGE) in tree["tree"]["children"]
