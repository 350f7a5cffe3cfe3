"""Each service's roll-out and deployment alarms follow from its spec, and the listener answers
every path at every moment of a traffic shift.

The shift is played on the synthesized listener and rules as ECS documents it (developer guide,
"Application Load Balancer resources for blue/green, linear, and canary deployments"): ECS moves
the weights of the service's production listener rule, and only those, and registers the new
tasks in the alternate target group. The rule is evaluated as Elastic Load Balancing does
("Listener rules": lowest priority first, the default action when none matches; path patterns
case-sensitive, ``*`` any characters). Checked over dev, prod, the variant with every kind of
service, and a variant with linear and blue/green roll-outs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from layers.compute.deployment_alarms import error_threshold, latency_percentile
from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.names import COMPUTE, LAYERS
from platform_spec.profiles import dev as dev_profile
from platform_spec.rollouts import BlueGreen, Canary, Linear, Rolling
from tests.platform_synth import PROFILE_NAMES, Synthesized, synth_spec
from tests.templates import ecs_service
from tests.variants import every_kind_variant

Resources = dict[str, dict[str, Any]]


def shifting_variant(spec: PlatformSpec) -> PlatformSpec:
    """Every kind of service, public ones rolled out linearly but the first, which goes blue/green."""
    varied = every_kind_variant(spec)
    first = varied.public_services[0]
    services = tuple(replace(s, rollout=BlueGreen(bake_minutes=3)) if s is first else s for s in varied.services)
    return replace(varied, services=services, default_rollout=Linear(step_percent=33.3, step_minutes=2))


@pytest.fixture(scope="module")
def shifting(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    spec = shifting_variant(dev_profile())
    return synth_spec(tmp_path_factory.mktemp("shifting"), spec)


@pytest.fixture(params=(*PROFILE_NAMES, "kinds", "shifting"))
def platform(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    """The shipped profiles, the variant with every kind of service, and the shifting variant."""
    if request.param in synthesized:
        return synthesized[request.param]
    result: Synthesized = request.getfixturevalue(request.param)
    return result


def _resources(synth: Synthesized, kind: str, layers: tuple[str, ...] = (COMPUTE,)) -> Resources:
    return {
        k: v
        for layer in layers
        for k, v in synth.template_json(layer)["Resources"].items()
        if v["Type"] == kind and layer in synth.spec.layers
    }


def _ref(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise AssertionError(f"expected a reference to a resource of this stack, got {value!r}")


def target_groups_of(synth: Synthesized, service: ServiceSpec) -> tuple[str, ...]:
    """The logical ids of a service's target groups, the one ECS starts with first."""
    balancers = ecs_service(synth, service).get("LoadBalancers", [])
    groups: list[str] = []
    for balancer in balancers:
        groups.append(_ref(balancer["TargetGroupArn"]))
        advanced = balancer.get("AdvancedConfiguration")
        if advanced:
            groups.append(_ref(advanced["AlternateTargetGroupArn"]))
    return tuple(groups)


# --- The roll-out and its alarms ----------------------------------------------------------------


def test_each_service_deploys_as_its_spec_says(platform: Synthesized) -> None:
    for service in platform.spec.services:
        rollout = platform.spec.rollout_of(service)
        configuration = ecs_service(platform, service)["DeploymentConfiguration"]
        assert configuration["Strategy"] == rollout.strategy, service.name
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        if isinstance(rollout, Rolling):
            assert "BakeTimeInMinutes" not in configuration, service.name
            assert len(target_groups_of(platform, service)) == (1 if service.is_public else 0), service.name
            continue
        assert configuration["BakeTimeInMinutes"] == rollout.bake_minutes, service.name
        if isinstance(rollout, Canary):
            assert configuration["CanaryConfiguration"] == {
                "CanaryPercent": rollout.percent,
                "CanaryBakeTimeInMinutes": rollout.canary_minutes,
            }
        if isinstance(rollout, Linear):
            assert configuration["LinearConfiguration"] == {
                "StepPercent": rollout.step_percent,
                "StepBakeTimeInMinutes": rollout.step_minutes,
            }
        assert len(target_groups_of(platform, service)) == 2, f"{service.name} shifts between two target groups"


def test_prod_shifts_every_public_service_progressively(prod: Synthesized) -> None:
    for service in prod.spec.public_services:
        strategy = ecs_service(prod, service)["DeploymentConfiguration"]["Strategy"]
        assert strategy in ("CANARY", "LINEAR"), f"{service.name} reaches all of prod's traffic at once ({strategy})"


def _alarm_groups(alarm: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """The target groups an alarm's metrics read, and each metric's statistic by name."""
    groups: set[str] = set()
    stats: dict[str, str] = {}
    for query in alarm["Properties"].get("Metrics", []):
        stat = query.get("MetricStat")
        if stat is None:
            continue
        stats[stat["Metric"]["MetricName"]] = stat["Stat"]
        for dimension in stat["Metric"]["Dimensions"]:
            if dimension["Name"] == "TargetGroup":
                groups.add(dimension["Value"]["Fn::GetAtt"][0])
    return groups, stats


def expected_alarms(spec: PlatformSpec, service: ServiceSpec) -> list[tuple[ServiceSpec, str]]:
    """(whose target groups, what) for each alarm that rolls ``service`` back."""
    if service.objectives is None:
        return []
    own = [(service, "errors"), (service, "latency")] if service.is_public else []
    callers = [
        (caller, "errors")
        for caller in spec.public_services
        if service.name in caller.calls and caller.objectives is not None
    ]
    return own + callers


def test_deployment_alarms_follow_each_services_objectives_and_roll_back(platform: Synthesized) -> None:
    alarms = {a["Properties"]["AlarmName"]: a for a in _resources(platform, "AWS::CloudWatch::Alarm").values()}
    for service in platform.spec.services:
        expected = expected_alarms(platform.spec, service)
        configuration = ecs_service(platform, service)["DeploymentConfiguration"]
        if not expected:
            assert "Alarms" not in configuration, service.name
            continue
        assert configuration["Alarms"]["Enable"] is True
        assert configuration["Alarms"]["Rollback"] is True
        named = configuration["Alarms"]["AlarmNames"]
        assert len(named) == len(expected), service.name
        seen = []
        for name in named:
            groups, stats = _alarm_groups(alarms[name])
            (whose,) = [s for s in platform.spec.services if set(target_groups_of(platform, s)) == groups]
            objectives = whose.objectives
            assert objectives is not None
            threshold = alarms[name]["Properties"]["Threshold"]
            if "TargetResponseTime" in stats:
                assert stats["TargetResponseTime"] == f"p{latency_percentile(objectives):g}"
                assert threshold == objectives.latency_threshold_seconds
                seen.append((whose, "latency"))
            else:
                assert stats["HTTPCode_Target_5XX_Count"] == "Sum"
                assert threshold == error_threshold(objectives)
                seen.append((whose, "errors"))
        assert sorted((s.name, w) for s, w in seen) == sorted((s.name, w) for s, w in expected), service.name


def test_the_alarm_thresholds_are_the_objectives_fastest_burn() -> None:
    """99.5 % may fail 0.5 %; at 14.4 times that, 7.2 %. 95 % within the threshold at 14.4 times
    its 5 % budget leaves 72 % slow: p28 above the threshold."""
    objectives = dev_profile().public_services[0].objectives
    assert objectives is not None
    stricter = replace(objectives, availability_percent=99.9, latency_percent=99.0)
    assert error_threshold(objectives) == pytest.approx(14.4 * objectives.error_budget)
    assert error_threshold(stricter) == pytest.approx(14.4 * 0.001)
    assert latency_percentile(objectives) == pytest.approx(100 * (1 - 14.4 * objectives.latency_budget), abs=0.05)
    assert latency_percentile(stricter) == pytest.approx(85.6)


def test_a_shifting_service_scales_on_whichever_group_holds_its_tasks(platform: Synthesized) -> None:
    policies = _resources(platform, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    read = [
        {
            d["Value"]["Fn::GetAtt"][0]
            for q in p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
            .get("CustomizedMetricSpecification", {})
            .get("Metrics", [])
            if "MetricStat" in q
            for d in q["MetricStat"]["Metric"]["Dimensions"]
        }
        for p in policies
    ]
    for service in platform.spec.public_services:
        groups = set(target_groups_of(platform, service))
        if len(groups) == 2:
            assert groups in read, f"{service.name} scales on one target group; its tasks move to the other"


# --- The listener through a shift ---------------------------------------------------------------


def _forward(action: dict[str, Any]) -> list[tuple[str, int]]:
    assert action["Type"] == "forward", f"ECS refuses a listener with {action['Type']} actions beside forwards"
    if "ForwardConfig" in action:
        return [(_ref(g["TargetGroupArn"]), g.get("Weight", 1)) for g in action["ForwardConfig"]["TargetGroups"]]
    return [(_ref(action["TargetGroupArn"]), 1)]


def _rules(synth: Synthesized) -> list[tuple[int, str, list[str], dict[str, Any]]]:
    rules = []
    for logical_id, rule in _resources(synth, "AWS::ElasticLoadBalancingV2::ListenerRule", LAYERS).items():
        (action,) = rule["Properties"]["Actions"]
        (condition,) = rule["Properties"]["Conditions"]
        assert condition["Field"] == "path-pattern"
        rules.append((rule["Properties"]["Priority"], logical_id, condition["PathPatternConfig"]["Values"], action))
    return sorted(rules, key=lambda r: r[0])


def sample_paths(spec: PlatformSpec) -> Iterator[str]:
    yield from ("/", "/index.html", "/some/page", "/API/x")
    for service in spec.public_services:
        yield from (p for p in (service.health_check_path, service.metrics_path) if p)
        if service.route:
            base = service.route.removesuffix("*")
            yield from (base, base + "x", base + "deep/path")
    if spec.grafana:
        yield from (spec.grafana.route, spec.grafana.route + "/d/x")


PHASES = ("before", "shifting", "after")
"""Where ECS holds a shifting service's tasks and weights: all in the group it started with; in
both at any weights; all in the alternate group (where the next deployment starts)."""


def test_every_path_is_answered_at_every_moment_of_a_shift(platform: Synthesized) -> None:
    spec = platform.spec
    (listener,) = _resources(platform, "AWS::ElasticLoadBalancingV2::Listener").values()
    default = _forward(listener["Properties"]["DefaultActions"][0])
    production_rules: dict[str, tuple[str, str]] = {}
    for service in spec.public_services:
        for balancer in ecs_service(platform, service)["LoadBalancers"]:
            if "AdvancedConfiguration" in balancer:
                advanced = balancer["AdvancedConfiguration"]
                production_rules[_ref(advanced["ProductionListenerRule"])] = (
                    _ref(balancer["TargetGroupArn"]),
                    _ref(advanced["AlternateTargetGroupArn"]),
                )
    owner = {group: s.name for s in spec.public_services for group in target_groups_of(platform, s)}
    for phase in PHASES:
        for weights in ((100, 0), (90, 10), (1, 999)) if phase == "shifting" else ((None, None),):
            live = {g for g in owner if g not in {p for pair in production_rules.values() for p in pair}}
            rules = []
            for priority, logical_id, patterns, action in _rules(platform):
                forward = _forward(action)
                if logical_id in production_rules:
                    primary, alternate = production_rules[logical_id]
                    assert {g for g, _ in forward} == {primary, alternate}, f"rule {logical_id} lacks a group"
                    blue, green = {"before": (1, 0), "after": (0, 1)}.get(phase, weights)
                    assert blue is not None
                    assert green is not None
                    forward = [(primary, blue), (alternate, green)]
                    live |= {g for g, w in forward if phase == "shifting" or w > 0}
                rules.append((priority, patterns, forward))
            for path in sample_paths(spec):
                matched = next(
                    (f for _, patterns, f in rules if any(fnmatch.fnmatchcase(path, p) for p in patterns)), None
                )
                forward = matched if matched is not None else default
                weighted = [g for g, w in forward if w > 0]
                assert weighted, f"{path} ({phase}): no target group takes it"
                dead = [g for g in weighted if g in owner and g not in live]
                assert not dead, f"{path} ({phase}): sent to {dead}, which holds no tasks then (503)"
                assert len({owner.get(g, g) for g in weighted}) == 1, f"{path}: split between services"
