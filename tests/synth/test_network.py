"""The network stack: VPC layout, NAT per profile, flow logs, and the rule matrix."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match

from compliance.security_group_rules import Rule, group_description, group_peers, outside_sources
from platform_spec import SUBNET_TIERS
from platform_spec.connections import (
    DATABASE,
    DATABASE_BOOTSTRAP,
    LOAD_BALANCER,
    PROMETHEUS,
    endpoint_services,
    peers,
    required_paths,
    service_peer,
)
from platform_spec.names import COMPUTE, LAYERS, NETWORK
from tests.platform_synth import Synthesized, synth_spec
from tests.templates import rules


def _nat_instance_groups(template: dict[str, Any]) -> set[str]:
    """The group CDK's NAT instance provider makes (not one of the platform's parties)."""
    return {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup"
        and resource["Properties"]["GroupDescription"] == "Security Group for NAT instances"
    }


def outside_ingress(synth: Synthesized) -> set[tuple[str, str, int | None]]:
    """(source, destination peer, port) for ingress from outside the platform's groups, read as
    the reachability check reads it (``compliance.security_group_rules``)."""
    template = synth.template_json(NETWORK)
    parties = {**dict.fromkeys(_nat_instance_groups(template), "nat-instance"), **group_peers(synth.spec, template)}
    return {
        (source, party, port)
        for logical_id, party in parties.items()
        for source, port, _ in outside_sources(template, logical_id)
    }


def expected_rules(synth: Synthesized) -> set[Rule]:
    return {(path.source, path.destination, path.port) for path in required_paths(synth.spec)}


def test_every_derived_path_is_open_on_both_sides_and_nothing_else(profile: Synthesized) -> None:
    ingress, egress = rules(profile)
    assert ingress == expected_rules(profile)
    assert egress == expected_rules(profile)


def test_nothing_but_cloudfront_reaches_the_load_balancer(profile: Synthesized) -> None:
    edge, network = profile.spec.edge, profile.spec.network
    nat = {(network.cidr, "nat-instance", 443)} if network.nat == "instance" else set()
    assert outside_ingress(profile) == {(profile.spec.origin_facing_prefix_list, LOAD_BALANCER, edge.origin_port)} | nat
    template = profile.template_json(COMPUTE)
    balancers = [r for r in template["Resources"].values() if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
    assert [b["Properties"]["Scheme"] for b in balancers] == ["internal"]


def test_each_rule_is_declared_once(profile: Synthesized) -> None:
    template = profile.template_json(NETWORK)
    seen: list[tuple[str, str]] = []
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            props = resource["Properties"]
            other = props.get("SourceSecurityGroupId") or props.get("DestinationSecurityGroupId")
            seen.append((resource["Type"], repr((props["GroupId"], other, props["FromPort"]))))
    assert len(seen) == len(set(seen))


def test_the_original_platforms_outage_cannot_recur(dev: Synthesized) -> None:
    """DNS discovery worked while Prometheus had no path to the services' ports."""
    ingress, egress = rules(dev)
    for service in dev.spec.services:
        scrape = (PROMETHEUS, service_peer(service), service.container_port)
        assert scrape in ingress
        assert scrape in egress


def test_only_services_that_use_the_database_reach_it(profile: Synthesized) -> None:
    ingress, _ = rules(profile)
    reaching = {source for source, destination, _ in ingress if destination == DATABASE}
    # The bootstrap task creates the users the services sign in as.
    users = {service_peer(s) for s in profile.spec.services if s.uses_database} | {DATABASE_BOOTSTRAP}
    assert reaching == users
    assert {port for _, destination, port in ingress if destination == DATABASE} == {profile.spec.database.port}


def test_frontend_reaches_backend_on_its_port(dev: Synthesized) -> None:
    ingress, _ = rules(dev)
    for service in dev.spec.services:
        for callee in service.calls:
            target = dev.spec.service(callee)
            assert (service_peer(service), service_peer(target), target.container_port) in ingress


def test_groups_have_no_open_egress_but_https(profile: Synthesized) -> None:
    template = profile.template_json(NETWORK)
    nat_groups = _nat_instance_groups(template)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::EC2::SecurityGroup" or logical_id in nat_groups:
            continue
        for rule in resource["Properties"].get("SecurityGroupEgress", []):
            if rule.get("CidrIp") == "0.0.0.0/0":
                assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
            else:  # CDK's placeholder that blocks all egress for groups with none.
                assert rule["CidrIp"] == "255.255.255.255/32"


def test_one_group_per_party(profile: Synthesized) -> None:
    template = profile.template_json(NETWORK)
    groups = group_peers(profile.spec, template)
    assert sorted(groups.values()) == sorted(peers(profile.spec))
    prefix = group_description(profile.spec, "")
    platform_groups = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup"
        and resource["Properties"]["GroupDescription"].startswith(prefix)
    }
    assert platform_groups == set(groups), "a group of the platform that is none of the spec's parties"
    assert LOAD_BALANCER in groups.values()


def test_nat_per_profile(profile: Synthesized) -> None:
    network, template = profile.spec.network, profile.template(NETWORK)
    gateways = network.nat_gateways if network.nat == "gateway" else 0
    template.resource_count_is("AWS::EC2::NatGateway", gateways)
    template.resource_count_is("AWS::EC2::Instance", network.nat_gateways - gateways)
    if network.nat == "instance":
        template.has_resource_properties(
            "AWS::EC2::Instance",
            {
                "InstanceType": network.nat_instance_type,
                "SourceDestCheck": False,
                "Monitoring": True,
                "BlockDeviceMappings": [Match.object_like({"Ebs": Match.object_like({"Encrypted": True})})],
            },
        )


def test_subnet_tiers(profile: Synthesized) -> None:
    template = profile.template(NETWORK)
    zones = profile.spec.network.max_azs
    template.resource_count_is("AWS::EC2::Subnet", 3 * zones)
    template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": profile.spec.network.cidr})
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert all(not s["Properties"].get("MapPublicIpOnLaunch", False) for s in subnets.values())


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(profile: Synthesized) -> None:
    template = profile.template(NETWORK)
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"KmsKeyId": Match.any_value(), "RetentionInDays": profile.spec.log_retention_days},
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_default_security_group_is_closed(profile: Synthesized) -> None:
    profile.template(NETWORK).resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_a_port_change_moves_every_rule_that_involves_it(dev: Synthesized, tmp_path: Path) -> None:
    backend = dev.spec.service("backend")
    new_port = 4001
    changed = replace(
        dev.spec,
        services=tuple(replace(s, container_port=new_port) if s == backend else s for s in dev.spec.services),
    )
    moved = synth_spec(tmp_path, changed)
    before_ingress, before_egress = rules(dev)
    after_ingress, after_egress = rules(moved)
    peer = service_peer(backend)

    def involving(rule_set: set[Rule]) -> set[tuple[str, str]]:
        return {(source, destination) for source, destination, port in rule_set if peer in (source, destination)}

    # Every rule into the backend moves to the new port; its own outbound rules keep theirs.
    for before, after in ((before_ingress, after_ingress), (before_egress, after_egress)):
        assert involving(after) == involving(before)
        assert {rule for rule in after if rule[1] == peer} == {
            (source, destination, new_port) for source, destination, port in before if destination == peer
        }
        assert not any(port == backend.container_port for _, destination, port in after if destination == peer)
        assert {rule for rule in after if peer not in rule[:2]} == {rule for rule in before if peer not in rule[:2]}


def test_subnets_are_placed_in_the_zones_the_spec_names_by_id(profile: Synthesized) -> None:
    """Without lookups CDK would place subnets in Fn::GetAZs' first zones, whose names map to a
    different zone in each account (EC2 user guide, "AZ IDs": https://docs.aws.amazon.com/ram/
    latest/userguide/working-with-az-ids.html); some zones lack CloudFront VPC origins (use1-az3;
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html).
    A subnet takes a zone id directly (AWS::EC2::Subnet AvailabilityZoneId)."""
    zone_ids = profile.spec.network.zone_ids
    assert zone_ids
    subnets = [r["Properties"] for r in profile.template_json(NETWORK)["Resources"].values()
               if r["Type"] == "AWS::EC2::Subnet"]  # fmt: skip
    assert sorted(s["AvailabilityZoneId"] for s in subnets) == sorted(zone_ids * len(SUBNET_TIERS))
    assert all("AvailabilityZone" not in s for s in subnets)
    for layer in LAYERS:
        assert "Fn::GetAZs" not in json.dumps(profile.template_json(layer)), layer


def test_every_interface_endpoint_admits_only_this_accounts_principals(profile: Synthesized) -> None:
    """The default endpoint policy admits anyone (AWS PrivateLink guide, "Control access to VPC
    endpoints using endpoint policies"); each of ours names this account in every statement. The
    access ledger shows what that lets through (tests/synth/test_access_ledger.py)."""
    names = endpoint_services(profile.spec)
    endpoints = {
        next(n for n in names if json.dumps(body["Properties"]["ServiceName"]).endswith(f'.{n}"')): body["Properties"]
        for body in profile.template_json(NETWORK)["Resources"].values()
        if body["Type"] == "AWS::EC2::VPCEndpoint" and body["Properties"].get("VpcEndpointType") == "Interface"
    }
    assert set(endpoints) == set(names)
    for name, properties in endpoints.items():
        statements = properties.get("PolicyDocument", {}).get("Statement", [])
        assert statements, f"the {name} endpoint has the default policy"
        for statement in statements:
            assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == {"Ref": "AWS::AccountId"}, name
