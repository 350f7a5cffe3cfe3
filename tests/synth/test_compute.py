"""The compute stack, checked by walking the spec: every name, port and path in
the template is the spec's, for whatever services the spec holds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from layers.compute.service_route import DEFAULT_ROUTE, LAST_PRIORITY
from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.connections import LOAD_BALANCER, PROMETHEUS, service_peer
from platform_spec.health_checks import health_check_command
from platform_spec.names import COMPUTE, image_tag_parameter
from platform_spec.profiles import dev as dev_profile
from platform_spec.prometheus import CLOUD_MAP_TTL_SECONDS
from tests.platform_synth import Synthesized, synth_profile, synth_spec
from tests.templates import ecs_service, rules, task_definition
from tests.variants import new_service

Resources = dict[str, dict[str, Any]]
TRACKING = "TargetTrackingScalingPolicyConfiguration"


def _resources(synth: Synthesized, kind: str) -> Resources:
    return {k: v for k, v in synth.template_json(COMPUTE)["Resources"].items() if v["Type"] == kind}


def _by_ref(resources: Resources, value: Any) -> dict[str, Any]:
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    properties: dict[str, Any] = resources[logical_id]["Properties"]
    return properties


def test_containers_follow_the_spec(profile: Synthesized) -> None:
    for service in profile.spec.services:
        _, task, container = task_definition(profile, service)
        environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
        if service.container_port is None:
            assert "PortMappings" not in container
            assert "PORT" not in environment
        else:
            assert container["PortMappings"] == [{"ContainerPort": service.container_port, "Protocol": "tcp"}]
            assert environment["PORT"] == str(service.container_port)
        # The tag is the service's stack parameter: what the last release set, kept by deploys.
        assert container["Image"]["Fn::Join"][1][-1] == {"Ref": image_tag_parameter(service.name)}
        assert {k: environment.get(k) for k in service.settings} == dict(service.settings)
        assert container["ReadonlyRootFilesystem"] is not service.ecs_exec
        assert container["User"] == service.run_as.ecs_user
        assert [m["ContainerPath"] for m in container["MountPoints"]] == list(service.writable_paths)
        assert task["Cpu"] == str(service.cpu)
        assert task["Memory"] == str(service.memory_mib)
        assert task["RuntimePlatform"] == {"CpuArchitecture": service.architecture, "OperatingSystemFamily": "LINUX"}
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def test_health_checks_run_what_the_spec_says_the_image_has(profile: Synthesized) -> None:
    """The tool the spec names (Node's http module by default), asking the spec's path on the loopback
    address, or the image's own command; nothing where nothing can be asked. A tool the image lacks
    fails every check (the original platform's ``wget: not found``)."""
    for service in profile.spec.services:
        _, _, container = task_definition(profile, service)
        command = health_check_command(service)
        if command is None:
            assert "HealthCheck" not in container, service.name
            continue
        assert container["HealthCheck"]["Command"] == ["CMD", *command]
        if isinstance(service.health_check, tuple):
            assert command == service.health_check
        else:
            assert command[0] == service.health_check
            assert any(f"http://127.0.0.1:{service.container_port}{service.health_check_path}" in c for c in command)


def test_a_node_image_is_never_asked_for_curl_or_wget(profile: Synthesized) -> None:
    for service in profile.spec.services:
        if service.health_check != "node":
            continue
        _, _, container = task_definition(profile, service)
        text = json.dumps(container.get("HealthCheck", {}))
        assert "curl" not in text
        assert "wget" not in text


@pytest.mark.parametrize(
    ("tool", "first"), [("node", ["node", "-e"]), ("wget", ["wget", "-q"]), ("curl", ["curl", "-fsS"])]
)
def test_each_tool_asks_the_health_path_on_the_loopback_address(tool: str, first: list[str]) -> None:
    service = replace(dev_profile().services[0], health_check=tool)  # type: ignore[arg-type]
    command = health_check_command(service)
    assert command is not None
    assert list(command[: len(first)]) == first
    assert f"http://127.0.0.1:{service.container_port}{service.health_check_path}" in " ".join(command)
    assert health_check_command(replace(service, health_check=("/app/healthcheck", "--quick"))) == (
        "/app/healthcheck",
        "--quick",
    )


def test_no_service_sets_a_desired_count(profile: Synthesized) -> None:
    services = _resources(profile, "AWS::ECS::Service")
    assert len(services) == len(profile.spec.services)
    for logical_id, resource in services.items():
        assert "DesiredCount" not in resource["Properties"], logical_id
        assert "ServiceName" not in resource["Properties"], "a fixed name blocks replacement"


def test_rolling_deploys_with_circuit_breaker_and_rollback(profile: Synthesized) -> None:
    for service in profile.spec.services:
        deployment = ecs_service(profile, service)["DeploymentConfiguration"]
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)


def test_cloud_map_registers_a_and_srv_on_the_spec_container_and_port(profile: Synthesized) -> None:
    registries = _resources(profile, "AWS::ServiceDiscovery::Service")
    assert len(registries) == len(profile.spec.registered_services)
    for service in profile.spec.services:
        if not service.has_port:
            assert "ServiceRegistries" not in ecs_service(profile, service), "nothing can find a service with no port"
            continue
        (registry,) = ecs_service(profile, service)["ServiceRegistries"]
        assert registry["ContainerName"] == service.container_name
        assert registry["ContainerPort"] == service.container_port
        cloud_map = _by_ref(registries, registry["RegistryArn"])
        assert cloud_map["Name"] == service.name
        assert cloud_map["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
        assert cloud_map["DnsConfig"]["DnsRecords"] == [
            {"Type": "A", "TTL": CLOUD_MAP_TTL_SECONDS},
            {"Type": "SRV", "TTL": CLOUD_MAP_TTL_SECONDS},
        ]
    (namespace,) = _resources(profile, "AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    assert namespace["Properties"]["Name"] == profile.spec.namespace


def test_callers_get_the_cloud_map_url_of_what_they_call(profile: Synthesized) -> None:
    for service in profile.spec.services:
        _, _, container = task_definition(profile, service)
        for callee_name in service.calls:
            callee = profile.spec.service(callee_name)
            url = f"http://{callee.name}.{profile.spec.namespace}:{callee.container_port}"
            assert {"Name": callee.url_variable, "Value": url} in container["Environment"]


def test_services_hold_no_credentials_but_their_own_secrets(profile: Synthesized) -> None:
    """The database takes an IAM token each service signs itself: no password in the environment,
    and no secret but those the spec gives the service, as ECS secrets (test_service_secrets;
    test_database_bootstrap: only the bootstrap task reads the master secret)."""
    for service in profile.spec.services:
        _, _, container = task_definition(profile, service)
        for variable in container.get("Environment", []):
            if variable["Name"] not in service.settings:
                assert not any(word in variable["Name"] for word in ("PASSWORD", "SECRET", "TOKEN")), variable
        assert sorted(s["Name"] for s in container.get("Secrets", [])) == sorted(service.secrets)


def _role_statements(synth: Synthesized, role_ref: Any) -> list[dict[str, Any]]:
    role_id = role_ref["Fn::GetAtt"][0]
    return [
        statement
        for policy in _resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_database_users_connect_as_themselves_and_no_one_else_does(profile: Synthesized) -> None:
    for service in profile.spec.services:
        _, task, _ = task_definition(profile, service)
        connects = [s for s in _role_statements(profile, task["TaskRoleArn"]) if s["Action"] == "rds-db:connect"]
        if service.uses_database:
            (statement,) = connects
            assert statement["Resource"]["Fn::Join"][1][-1] == f"/{service.database_user}"
        else:
            assert connects == []


@pytest.mark.parametrize("state", ["on", "off"])
def test_ecs_exec_follows_the_override(tmp_path: Path, state: str) -> None:
    context = {"env": "dev", **{f"{s.name}_ecs_exec": state == "on" for s in _dev_services()}}
    synth = synth_profile(tmp_path, {k: str(v).lower() if isinstance(v, bool) else v for k, v in context.items()})
    for service in synth.spec.services:
        assert ecs_service(synth, service)["EnableExecuteCommand"] is (state == "on")
        _, task, _ = task_definition(synth, service)
        actions = json.dumps([s["Action"] for s in _role_statements(synth, task["TaskRoleArn"])])
        assert ("ssmmessages:" in actions) is (state == "on")


def _dev_services() -> tuple[ServiceSpec, ...]:
    return dev_profile().services


def test_target_groups_and_routes_follow_the_spec(profile: Synthesized) -> None:
    """Each public service's groups (two where its roll-out shifts traffic) on its port and health
    path, forwarded to by one rule on its route (the default route's: ``/*``, last)."""
    target_groups = _resources(profile, "AWS::ElasticLoadBalancingV2::TargetGroup")
    (listener,) = _resources(profile, "AWS::ElasticLoadBalancingV2::Listener").values()
    rules = list(_resources(profile, "AWS::ElasticLoadBalancingV2::ListenerRule").values())
    assert listener["Properties"]["Port"] == profile.spec.edge.origin_port
    groups = sum(2 if profile.spec.rollout_of(s).shifts_traffic else 1 for s in profile.spec.public_services)
    assert len(target_groups) == groups  # Grafana's is observability's
    for service in profile.spec.services:
        if not service.is_public:
            assert not ecs_service(profile, service).get("LoadBalancers"), f"{service.kind} {service.name} has a route"
            continue
        (attachment,) = ecs_service(profile, service)["LoadBalancers"]
        assert (attachment["ContainerName"], attachment["ContainerPort"]) == (
            service.container_name,
            service.container_port,
        )
        own = [attachment["TargetGroupArn"]]
        if "AdvancedConfiguration" in attachment:
            own.append(attachment["AdvancedConfiguration"]["AlternateTargetGroupArn"])
        for reference in own:
            group = _by_ref(target_groups, reference)
            assert group["Port"] == service.container_port
            assert group["HealthCheckPath"] == service.health_check_path
            assert group["TargetType"] == "ip"
        (rule,) = [
            r["Properties"]
            for r in rules
            if [g["TargetGroupArn"] for g in r["Properties"]["Actions"][0]["ForwardConfig"]["TargetGroups"]] == own
        ]
        pattern = service.route or DEFAULT_ROUTE
        assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": [pattern]}}]
        assert (rule["Priority"] == LAST_PRIORITY) == (service.route is None)


def test_autoscaling_between_the_spec_bounds_on_cpu_and_requests(profile: Synthesized) -> None:
    targets = _resources(profile, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = _resources(profile, "AWS::ApplicationAutoScaling::ScalingPolicy")
    bounds = sorted((t["Properties"]["MinCapacity"], t["Properties"]["MaxCapacity"]) for t in targets.values())
    assert bounds == sorted((s.min_tasks, s.max_tasks) for s in profile.spec.services)
    metrics = sorted(
        p["Properties"][TRACKING]["PredefinedMetricSpecification"]["PredefinedMetricType"]
        for p in policies.values()
        if "PredefinedMetricSpecification" in p["Properties"][TRACKING]
    )
    # Every service on CPU; those behind the load balancer on their requests too: one group's, or
    # both groups' of a service whose roll-out shifts traffic (tests/synth/test_rollouts.py).
    public = [s for s in profile.spec.public_services if not profile.spec.rollout_of(s).shifts_traffic]
    shifting = len(profile.spec.public_services) - len(public)
    expected = ["ECSServiceAverageCPUUtilization"] * len(targets) + ["ALBRequestCountPerTarget"] * len(public)
    assert metrics == sorted(expected)
    custom = [p for p in policies.values() if "CustomizedMetricSpecification" in p["Properties"][TRACKING]]
    assert len(custom) == shifting


def test_capacity_provider_per_profile(profile: Synthesized) -> None:
    expected = "FARGATE_SPOT" if profile.spec.fargate_spot else "FARGATE"
    for service in profile.spec.services:
        strategy = ecs_service(profile, service)["CapacityProviderStrategy"]
        assert [s["CapacityProvider"] for s in strategy] == [expected]


def test_cluster_has_insights_both_capacity_providers_and_logged_exec(profile: Synthesized) -> None:
    (cluster,) = _resources(profile, "AWS::ECS::Cluster").values()
    props = cluster["Properties"]
    assert {"Name": "containerInsights", "Value": "enabled"} in props["ClusterSettings"]
    exec_config = props["Configuration"]["ExecuteCommandConfiguration"]
    assert exec_config["Logging"] == "OVERRIDE"
    assert exec_config["LogConfiguration"]["CloudWatchEncryptionEnabled"] is True
    (providers,) = _resources(profile, "AWS::ECS::ClusterCapacityProviderAssociations").values()
    assert sorted(providers["Properties"]["CapacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def test_cloudfront_redirects_to_https_and_never_caches_service_routes(profile: Synthesized) -> None:
    (distribution,) = _resources(profile, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    assert all(b["ViewerProtocolPolicy"] == "redirect-to-https" for b in behaviours)
    uncached = {b["PathPattern"]: b["CachePolicyId"] for b in config.get("CacheBehaviors", [])}
    caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS's managed CachingDisabled policy
    routes = [s.route for s in profile.spec.public_services if s.route]
    if profile.spec.grafana:
        routes.append(profile.spec.grafana.route_pattern)
    assert uncached == dict.fromkeys(routes, caching_disabled)
    assert "VpcOriginConfig" in config["Origins"][0]
    assert config["Logging"]["Prefix"] == "cloudfront/"
    # Every profile has its web ACL, beside the distribution or in the us-east-1 edge stack
    # (tests/synth/test_edge.py checks its rules and how the distribution names it).
    assert config["WebACLId"]
    # The origin's protocol and port: tests/synth/test_domain.py.


def test_a_new_service_needs_no_code_change(dev: Synthesized, tmp_path: Path) -> None:
    """A public service that calls another, added to the spec alone: its container, registration,
    target group, route and every rule follow, and the compliance checks pass."""
    callee = dev.spec.services[0]
    added = replace(new_service(dev.spec, "variant"), calls=(callee.name,))
    spec: PlatformSpec = replace(dev.spec, services=(*dev.spec.services, added))
    synth = synth_spec(tmp_path, spec, checks=True)
    _, _, container = task_definition(synth, added)
    assert container["PortMappings"][0]["ContainerPort"] == added.container_port
    service = ecs_service(synth, added)
    assert service["ServiceRegistries"][0]["ContainerName"] == added.container_name
    assert service["ServiceRegistries"][0]["ContainerPort"] == added.container_port
    names = {r["Properties"]["Name"] for r in _resources(synth, "AWS::ServiceDiscovery::Service").values()}
    assert added.name in names
    group = _by_ref(
        _resources(synth, "AWS::ElasticLoadBalancingV2::TargetGroup"), service["LoadBalancers"][0]["TargetGroupArn"]
    )
    assert (group["Port"], group["HealthCheckPath"]) == (added.container_port, added.health_check_path)
    patterns = [
        r["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"]
        for r in _resources(synth, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    ]
    assert [added.route] in patterns
    ingress, egress = rules(synth)
    peer = service_peer(added)
    for expected in (
        (LOAD_BALANCER, peer, added.container_port),
        (PROMETHEUS, peer, added.container_port),
        (peer, service_peer(callee), callee.container_port),
    ):
        assert expected in ingress
        assert expected in egress
    report = synth.validation_report()
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])
