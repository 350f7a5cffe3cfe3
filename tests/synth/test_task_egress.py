"""Egress: every task reaches what it needs to start and run, and in prod the application
tasks reach nothing else: their HTTPS leaves through the interface endpoints and S3.

On Fargate the image pull, the awslogs driver and secrets travel through the task's own
network interface, so its security groups decide them, and each needs its interface
endpoint where egress is narrowed (Amazon ECS developer guide, "Migrating to Linux platform
version 1.4.0": https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-version-migration.html).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aws_model.cloudformation import Deployment
from aws_model.task_egress import egress_problems
from platform_spec import ParameterStoreSecret, PlatformSpec, SecretsManagerSecret
from platform_spec.connections import (
    DATABASE,
    DATABASE_BOOTSTRAP,
    ENDPOINTS,
    enclosed_peers,
    enclosed_platform_tasks,
    enclosed_services,
    endpoint_services,
    internet_peers,
    service_peer,
    task_peers,
)
from platform_spec.errors import SpecError
from platform_spec.names import COMPUTE, DELIVERY, NETWORK, PROBE_TASK_DEFINITION
from platform_spec.profiles import PROFILES
from tests.picking import first, first_or_skip
from tests.platform_synth import Synthesized, profile_spec, synth_spec
from tests.templates import Templates, deployment_of, templates_of

ANYWHERE = "0.0.0.0/0"


def _problems(synth: Synthesized, templates: Templates | None = None) -> list[str]:
    deployment: Deployment = deployment_of(synth, templates)
    return [
        str(p)
        for p in egress_problems(deployment, s3_prefix_list=synth.spec.s3_prefix_list, namespace=synth.spec.namespace)
    ]


def test_every_task_reaches_what_it_needs(profile: Synthesized) -> None:
    assert _problems(profile) == []


def _groups(template: dict[str, Any]) -> dict[str, str]:
    """Party of the spec -> logical id of its security group."""
    return {
        str(body["Properties"]["GroupDescription"]).split(" ", 1)[1]: logical_id
        for logical_id, body in template["Resources"].items()
        if body["Type"] == "AWS::EC2::SecurityGroup"
    }


def _egress(template: dict[str, Any], group: str) -> list[dict[str, Any]]:
    inline = template["Resources"][group]["Properties"].get("SecurityGroupEgress", [])
    separate = [
        body["Properties"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::EC2::SecurityGroupEgress" and body["Properties"]["GroupId"]["Fn::GetAtt"][0] == group
    ]
    return [*inline, *separate]


def test_prod_application_tasks_leave_the_vpc_only_through_the_endpoints(prod: Synthesized) -> None:
    template = prod.template_json(NETWORK)
    groups = _groups(template)
    for service in prod.spec.services:
        rules = _egress(template, groups[service_peer(service)])
        assert not [r for r in rules if r.get("CidrIp") == ANYWHERE], f"{service.name} still reaches any address"
        https = [r for r in rules if r.get("FromPort") == 443]
        assert {r.get("DestinationPrefixListId") for r in https} >= {prod.spec.s3_prefix_list}
        assert {
            r["DestinationSecurityGroupId"]["Fn::GetAtt"][0] for r in https if "DestinationSecurityGroupId" in r
        } == {groups[ENDPOINTS]}
    services = {
        str(body["Properties"]["ServiceName"]).removeprefix(f"com.amazonaws.{prod.spec.region}."): body["Properties"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::EC2::VPCEndpoint" and body["Properties"].get("VpcEndpointType") == "Interface"
    }
    assert sorted(services) == sorted(endpoint_services(prod.spec))
    assert {"ecr.api", "ecr.dkr", "logs"} <= set(services)
    for props in services.values():
        assert props["PrivateDnsEnabled"] is True
        assert len(props["SubnetIds"]) == prod.spec.network.max_azs
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": [groups[ENDPOINTS], "GroupId"]}]


def test_prod_platform_tasks_on_cached_images_leave_the_vpc_only_through_the_endpoints(prod: Synthesized) -> None:
    """The bootstrap, the targets probe and Prometheus run only images ECR caches (their pull ends at
    the ECR endpoints and S3): no HTTPS to any address, and the bootstrap, the one reader of the
    master secret, reaches nothing but the database, the endpoints and S3."""
    template = prod.template_json(NETWORK)
    groups = _groups(template)
    reached = {
        (
            rule.get("DestinationPrefixListId")
            or rule.get("CidrIp")
            or rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0],
            rule["IpProtocol"],
            rule.get("FromPort"),
            rule.get("ToPort"),
        )
        for rule in _egress(template, groups[DATABASE_BOOTSTRAP])
    }
    port = prod.spec.database.port
    assert reached == {
        (groups[DATABASE], "tcp", port, port),
        (groups[ENDPOINTS], "tcp", 443, 443),
        (prod.spec.s3_prefix_list, "tcp", 443, 443),
    }
    # The master secret is read as the task starts, through its endpoint.
    assert "secretsmanager" in endpoint_services(prod.spec)
    platform_tasks = enclosed_platform_tasks(prod.spec)
    assert DATABASE_BOOTSTRAP in platform_tasks
    for peer in platform_tasks:
        rules = _egress(template, groups[peer])
        assert not [r for r in rules if r.get("CidrIp") == ANYWHERE], f"{peer} still reaches any address"


def test_dev_keeps_the_nat_for_everything(dev: Synthesized) -> None:
    """No interface endpoints in dev (their price would double the network bill): every task
    group keeps HTTPS to any address, and the free S3 gateway endpoint still carries S3."""
    template = dev.template_json(NETWORK)
    kinds = [
        body["Properties"].get("VpcEndpointType", "Gateway")
        for body in template["Resources"].values()
        if body["Type"] == "AWS::EC2::VPCEndpoint"
    ]
    assert kinds == ["Gateway"]
    groups = _groups(template)
    for peer in task_peers(dev.spec):
        assert any(r.get("CidrIp") == ANYWHERE for r in _egress(template, groups[peer])), peer


# --- the check fails where AWS would ----------------------------------------------------------


def _mutated(prod: Synthesized) -> Templates:
    return copy.deepcopy(templates_of(prod))


def test_an_endpoint_that_does_not_admit_a_task_is_found(prod: Synthesized) -> None:
    """Private DNS sends Prometheus's log calls to the endpoint although its group may go anywhere."""
    templates = _mutated(prod)
    network = templates[prod.stack_name(NETWORK)]
    groups = _groups(network)
    prometheus, endpoints = groups["prometheus"], groups[ENDPOINTS]
    for logical_id, body in list(network["Resources"].items()):
        props = body.get("Properties", {})
        if (
            body["Type"] == "AWS::EC2::SecurityGroupIngress"
            and props["GroupId"]["Fn::GetAtt"][0] == endpoints
            and props["SourceSecurityGroupId"]["Fn::GetAtt"][0] == prometheus
        ):
            del network["Resources"][logical_id]
    problems = _problems(prod, templates)
    assert problems
    assert all("prometheus" in p and "does not admit" in p for p in problems), problems
    assert any("cannot reach logs" in p for p in problems)


def test_a_public_image_in_an_enclosed_task_is_found(prod: Synthesized) -> None:
    """The volume owner once pulled busybox from a public registry: in prod's backend group
    that pull has nowhere to go."""
    templates = _mutated(prod)
    compute = templates[prod.stack_name(COMPUTE)]
    enclosed = first_or_skip(
        (s for s in enclosed_services(prod.spec) if s.writable_paths), "enclosed service with writable paths"
    )
    (task,) = [
        body
        for body in compute["Resources"].values()
        if body["Type"] == "AWS::ECS::TaskDefinition"
        and any(c["Name"] == enclosed.container_name for c in body["Properties"]["ContainerDefinitions"])
    ]
    owner = first(
        (c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "volume-owner"), "volume owner"
    )
    owner["Image"] = prod.spec.helper_images.volume_owner
    problems = _problems(prod, templates)
    assert len(problems) == 1, problems
    assert f"{enclosed.container_name} task" in problems[0]
    assert "cannot reach internet" in problems[0]


def test_s3_without_its_prefix_list_is_found(prod: Synthesized) -> None:
    templates = _mutated(prod)
    network = templates[prod.stack_name(NETWORK)]
    for logical_id, body in list(network["Resources"].items()):
        if body["Type"] == "AWS::EC2::SecurityGroupEgress" and "DestinationPrefixListId" in body["Properties"]:
            del network["Resources"][logical_id]
    problems = _problems(prod, templates)
    assert problems
    assert all("cannot reach s3" in p for p in problems), problems
    assert {p.split(" in ")[1].split(":")[0] for p in problems} == {
        f"{prod.spec.stack_prefix} {peer}" for peer in enclosed_peers(prod.spec)
    }


def test_the_smoke_tests_reach_the_public_url(prod: Synthesized) -> None:
    """Their WEB_URL is CloudFront's public name: in a group whose way out ends at the endpoints
    (the frontend's, where they once ran) that call would have nowhere to go."""
    templates = _mutated(prod)
    network = templates[prod.stack_name(NETWORK)]
    smoke = _groups(network)["smoke-tests"]
    network["Resources"][smoke]["Properties"]["SecurityGroupEgress"] = [
        rule
        for rule in network["Resources"][smoke]["Properties"].get("SecurityGroupEgress", [])
        if rule.get("CidrIp") != ANYWHERE
    ]
    for logical_id, body in list(network["Resources"].items()):
        props = body.get("Properties", {})
        if (
            body["Type"] == "AWS::EC2::SecurityGroupEgress"
            and props.get("CidrIp") == ANYWHERE
            and props["GroupId"]["Fn::GetAtt"][0] == smoke
        ):
            del network["Resources"][logical_id]
    problems = _problems(prod, templates)
    assert problems
    assert all("smoke-tests task" in p for p in problems), problems
    assert any("cannot reach internet" in p and "WEB_URL=https://" in p for p in problems), problems


def test_a_task_nothing_runs_is_named(prod: Synthesized) -> None:
    templates = _mutated(prod)
    del templates[prod.stack_name(DELIVERY)]["Outputs"][PROBE_TASK_DEFINITION]
    assert any(
        "targets-probe task" in p and "nothing in the deployment says where it runs" in p
        for p in _problems(prod, templates)
    )


# --- the spec decides -------------------------------------------------------------------------


def _production() -> PlatformSpec:
    with_endpoints = (name for name, build in PROFILES.items() if build().network.interface_endpoints)
    return profile_spec(first_or_skip(with_endpoints, "profile with interface endpoints"))


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The profile with interface endpoints, its first service calling the internet, ECS Exec on its
    second, and secrets of both stores on that second (tests/variants.py)."""
    spec = _production()
    first, second = spec.services[0], spec.services[1]
    changes = {first.name: {"reaches_internet": True}, second.name: {"ecs_exec": True}}
    opened = replace(spec, services=tuple(replace(s, **changes.get(s.name, {})) for s in spec.services))  # type: ignore[arg-type]
    secrets: dict[str, SecretsManagerSecret | ParameterStoreSecret] = {
        "TOKEN": SecretsManagerSecret(name="octo/token"),
        "SESSION": ParameterStoreSecret(name="/octo/session"),
    }
    opened = replace(
        opened,
        services=tuple(replace(s, secrets=secrets) if s.name == second.name else s for s in opened.services),
    )
    return synth_spec(Path(tmp_path_factory.mktemp("opened")), opened)


def test_a_service_that_reaches_the_internet_keeps_its_way_out(opened: Synthesized) -> None:
    template = opened.template_json(NETWORK)
    groups = _groups(template)
    first, second = opened.spec.services[0], opened.spec.services[1]
    assert any(r.get("CidrIp") == ANYWHERE for r in _egress(template, groups[service_peer(first)]))
    assert not any(r.get("CidrIp") == ANYWHERE for r in _egress(template, groups[service_peer(second)]))
    # ECS Exec and the secrets of an enclosed service bring their endpoints (SSM messages and KMS
    # for the session, Secrets Manager and SSM for the secrets ECS reads as the task starts); the
    # check proves each can be reached.
    services = sorted(
        str(body["Properties"]["ServiceName"]).removeprefix(f"com.amazonaws.{opened.spec.region}.")
        for body in template["Resources"].values()
        if body["Type"] == "AWS::EC2::VPCEndpoint" and body["Properties"].get("VpcEndpointType") == "Interface"
    )
    assert {"kms", "ssmmessages", "secretsmanager", "ssm"} <= set(services)
    assert services == sorted(endpoint_services(opened.spec))
    assert _problems(opened) == []


def test_without_the_secrets_endpoints_an_enclosed_task_cannot_start(opened: Synthesized) -> None:
    templates = _mutated(opened)
    network = templates[opened.stack_name(NETWORK)]
    for logical_id, body in list(network["Resources"].items()):
        if body["Type"] == "AWS::EC2::VPCEndpoint" and str(body["Properties"]["ServiceName"]).endswith(
            (".secretsmanager", ".ssm")
        ):
            del network["Resources"][logical_id]
    problems = _problems(opened, templates)
    assert any("cannot reach secretsmanager" in p and "reads TOKEN" in p for p in problems), problems
    assert any("cannot reach ssm" in p and "reads SESSION" in p for p in problems), problems


def test_who_is_enclosed_follows_the_spec() -> None:
    for build in PROFILES.values():
        spec = build()
        if not spec.network.interface_endpoints:
            assert enclosed_services(spec) == ()
            assert endpoint_services(spec) == ()
            assert internet_peers(spec) == task_peers(spec)
            continue
        enclosed = [s for s in spec.services if not s.reaches_internet]
        assert list(enclosed_services(spec)) == enclosed
        assert endpoint_services(spec)[:3] == ("ecr.api", "ecr.dkr", "logs")
        assert set(internet_peers(spec)) == set(task_peers(spec)) - set(enclosed_peers(spec))
        assert set(enclosed_peers(spec)) == {service_peer(s) for s in enclosed} | set(enclosed_platform_tasks(spec))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"s3_prefix_list": "s3"}, "network.s3_prefix_list"),
        ({"interface_endpoints": "yes"}, "network.interface_endpoints"),
    ],
)
def test_bad_network_fields_are_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        replace(_production().network, **changes)
