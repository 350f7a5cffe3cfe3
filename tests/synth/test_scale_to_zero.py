"""A public service with ``min_tasks = 0`` (``tests/variants.py``, ``with_sleeping_service``): no
task while idle, woken by the load balancer's 503 for want of a target, back to none after
``idle_minutes`` without a request (``layers/compute/wake_on_demand.py``); its sleep alarms
nothing, costs nothing, and the shipped profiles are as they were.

The metrics are the load balancer's as Elastic Load Balancing documents them ("CloudWatch metrics
for your Application Load Balancer": ``HTTPCode_ELB_503_Count`` has the ``LoadBalancer`` dimension
only; ``RequestCount`` per ``TargetGroup`` counts only requests a target answered), and a 503 is
its answer when "the target groups for the load balancer have no registered targets"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html#http-503-issues).
"""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from platform_spec import PlatformSpec, ServiceSpec
from platform_spec.names import COMPUTE, EDGE, OBSERVABILITY
from platform_spec.regions import CLOUDFRONT_REGION
from tests.platform_synth import Synthesized, profile_spec, synth_spec
from tests.templates import task_definition
from tests.variants import with_sleeping_service
from tools.cost import price_assembly

Resources = dict[str, dict[str, Any]]
NAMESPACE = "AWS/ApplicationELB"
NO_TARGET = "HTTPCode_ELB_503_Count"


@pytest.fixture(scope="module")
def sleeping(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev with a public service nothing calls at ``min_tasks=0``, with the compliance checks
    (cdk-nag, reachability) as a synth runs them."""
    return synth_spec(tmp_path_factory.mktemp("cdk-sleeping"), with_sleeping_service(profile_spec("dev")), checks=True)


def _sleepers(spec: PlatformSpec) -> list[ServiceSpec]:
    return [s for s in spec.services if s.min_tasks == 0]


def _resources(synth: Synthesized, layer: str, kind: str) -> Resources:
    return {k: v for k, v in synth.template_json(layer)["Resources"].items() if v["Type"] == kind}


def _service_id(synth: Synthesized, service: ServiceSpec) -> str:
    task_id, _, _ = task_definition(synth, service)
    (logical_id,) = [
        k
        for k, v in _resources(synth, COMPUTE, "AWS::ECS::Service").items()
        if v["Properties"]["TaskDefinition"] == {"Ref": task_id}
    ]
    return logical_id


def _scalable_target(synth: Synthesized, service: ServiceSpec) -> tuple[str, dict[str, Any]]:
    service_id = _service_id(synth, service)
    (found,) = [
        (k, v["Properties"])
        for k, v in _resources(synth, COMPUTE, "AWS::ApplicationAutoScaling::ScalableTarget").items()
        if {"Fn::GetAtt": [service_id, "Name"]} in v["Properties"]["ResourceId"]["Fn::Join"][1]
    ]
    return found


def _target_groups(synth: Synthesized, service: ServiceSpec) -> set[str]:
    service_id = _service_id(synth, service)
    balancers = synth.template_json(COMPUTE)["Resources"][service_id]["Properties"].get("LoadBalancers", [])
    groups = {b["TargetGroupArn"]["Ref"] for b in balancers}
    groups |= {
        b["AdvancedConfiguration"]["AlternateTargetGroupArn"]["Ref"] for b in balancers if "AdvancedConfiguration" in b
    }
    return groups


def _load_balancer_of(synth: Synthesized, value: Any) -> str:
    """The load balancer a ``LoadBalancer`` dimension names: its FullName attribute, or the three
    segments after ``listener/`` of one of its listeners' ARNs."""
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "LoadBalancerFullName"
        return str(logical_id)
    parts = value["Fn::Join"][1]
    selects = [p["Fn::Select"] for p in parts if isinstance(p, dict)]
    assert [s[0] for s in selects] == [1, 2, 3]
    (listener,) = {s[1]["Fn::Split"][1]["Ref"] for s in selects}
    resource = synth.template_json(COMPUTE)["Resources"][listener]
    assert resource["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    return str(resource["Properties"]["LoadBalancerArn"]["Ref"])


def _policies(synth: Synthesized, target_id: str) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in _resources(synth, COMPUTE, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if v["Properties"]["ScalingTargetId"] == {"Ref": target_id}
    }


def _alarm_of(synth: Synthesized, policy_id: str) -> dict[str, Any]:
    (alarm,) = [
        v["Properties"]
        for v in _resources(synth, COMPUTE, "AWS::CloudWatch::Alarm").values()
        if {"Ref": policy_id} in v["Properties"].get("AlarmActions", [])
    ]
    properties: dict[str, Any] = alarm
    return properties


def test_the_sleeper_scales_from_zero(sleeping: Synthesized) -> None:
    (sleeper,) = _sleepers(sleeping.spec)
    _, target = _scalable_target(sleeping, sleeper)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, sleeper.max_tasks)


def test_a_request_that_finds_no_task_wakes_one(sleeping: Synthesized) -> None:
    (sleeper,) = _sleepers(sleeping.spec)
    (load_balancer,) = _resources(sleeping, COMPUTE, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    target_id, _ = _scalable_target(sleeping, sleeper)
    (wake_id,) = [
        k
        for k, p in _policies(sleeping, target_id).items()
        if p.get("PolicyType") == "StepScaling"
        and p["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ChangeInCapacity"
    ]
    configuration = _policies(sleeping, target_id)[wake_id]["StepScalingPolicyConfiguration"]
    assert configuration["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    # One task per wake: the alarm re-invokes its action each minute it stays in alarm, and the
    # cooldown outlasts a cold start (health-check grace of 60 s, then the checks).
    assert configuration["Cooldown"] >= 180
    alarm = _alarm_of(sleeping, wake_id)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        NAMESPACE,
        NO_TARGET,
        "Sum",
        60,
    )
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "LoadBalancer"
    assert _load_balancer_of(sleeping, dimension["Value"]) == load_balancer
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, 1, "notBreaching")


def test_idle_minutes_without_a_request_put_it_back_to_none(sleeping: Synthesized) -> None:
    (sleeper,) = _sleepers(sleeping.spec)
    (load_balancer,) = _resources(sleeping, COMPUTE, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    target_id, _ = _scalable_target(sleeping, sleeper)
    (sleep_id,) = [
        k
        for k, p in _policies(sleeping, target_id).items()
        if p.get("PolicyType") == "StepScaling"
        and p["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"
    ]
    configuration = _policies(sleeping, target_id)[sleep_id]["StepScalingPolicyConfiguration"]
    assert configuration["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    alarm = _alarm_of(sleeping, sleep_id)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == sleeper.idle_minutes
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    # The load balancer reports nothing while nothing flows: a missing minute is a quiet one.
    assert alarm["TreatMissingData"] == "breaching"
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    (returned,) = [q for q in queries.values() if q.get("ReturnData", True)]
    read = {i: q["MetricStat"] for i, q in queries.items() if "MetricStat" in q}
    assert returned["Expression"] == " + ".join(f"FILL({i}, 0)" for i in read)
    groups: set[str] = set()
    for stat in read.values():
        assert (stat["Metric"]["Namespace"], stat["Stat"], stat["Period"]) == (NAMESPACE, "Sum", 60)
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert _load_balancer_of(sleeping, dimensions.pop("LoadBalancer")) == load_balancer
        if stat["Metric"]["MetricName"] == "RequestCount":
            groups.add(dimensions.pop("TargetGroup")["Fn::GetAtt"][0])
        else:
            assert stat["Metric"]["MetricName"] == NO_TARGET, "a request that found no task is not a quiet minute"
        assert not dimensions
    assert groups == _target_groups(sleeping, sleeper)
    assert [s["Metric"]["MetricName"] for s in read.values()].count(NO_TARGET) == 1


def test_its_sleep_alarms_nothing(sleeping: Synthesized) -> None:
    """Its CPU, memory and running count publish nothing while it sleeps, and its wake's 503s are
    not the load balancer's errors; the awake services' alarms are as they were."""
    alarms = [a["Properties"] for a in _resources(sleeping, OBSERVABILITY, "AWS::CloudWatch::Alarm").values()]
    sleepers = {s.name for s in _sleepers(sleeping.spec)}
    for service in sleeping.spec.services:
        missing = {
            a["AlarmDescription"].removeprefix(f"{service.name}: ").split(" ")[0]: a["TreatMissingData"]
            for a in alarms
            if a["AlarmDescription"].startswith(f"{service.name}: ")
        }
        if service.name in sleepers:
            assert {missing[k] for k in ("CPU", "Memory", "fewer")} == {"notBreaching"}, service.name
        else:
            assert (missing["CPU"], missing["Memory"], missing["fewer"]) == ("missing", "missing", "breaching")
    (rate,) = [a for a in alarms if a["AlarmDescription"].startswith("More than")]
    (expression,) = [q["Expression"] for q in rate["Metrics"] if "Expression" in q]
    assert "- FILL(elb503, 0)" in expression
    (no_target,) = [q for q in rate["Metrics"] if q["Id"] == "elb503"]
    assert no_target["MetricStat"]["Metric"]["MetricName"] == NO_TARGET


def test_a_sleeper_is_priced_at_no_task(sleeping: Synthesized) -> None:
    items = price_assembly(sleeping.outdir)
    for sleeper in _sleepers(sleeping.spec):
        (fargate,) = [i for i in items if i.name.startswith(f"Fargate {sleeper.container_name}: ")]
        assert fargate.name.startswith(f"Fargate {sleeper.container_name}: 0 x")
        assert fargate.monthly == 0
        assert not [i for i in items if i.name.startswith(f"Cloud Map instances of {sleeper.container_name} ")]


def test_the_shipped_profiles_keep_their_tasks(synthesized: dict[str, Synthesized]) -> None:
    for synth in synthesized.values():
        assert not _sleepers(synth.spec), synth.spec.environment
        for service in synth.spec.services:
            target_id, target = _scalable_target(synth, service)
            assert target["MinCapacity"] == service.min_tasks >= 1, service.name
            assert all(p["PolicyType"] == "TargetTrackingScaling" for p in _policies(synth, target_id).values())
        alarms = _resources(synth, COMPUTE, "AWS::CloudWatch::Alarm").values()
        assert not [a for a in alarms if a["Properties"].get("MetricName") == NO_TARGET]
        observed = _resources(synth, OBSERVABILITY, "AWS::CloudWatch::Alarm").values()
        (rate,) = [a["Properties"] for a in observed if a["Properties"]["AlarmDescription"].startswith("More than")]
        assert [q["Expression"] for q in rate["Metrics"] if "Expression" in q] == [
            "100 * (elb5xx + target5xx) / MAX([requests, 1])"
        ]


def test_the_sleeping_variant_passes_cfn_lint(sleeping: Synthesized) -> None:
    """Its templates, in the region each deploys to, as ``tests/linters/test_cfn_lint.py`` lints the profiles."""
    found = []
    for layer in sleeping.spec.layers:
        path = sleeping.outdir / f"{sleeping.stack_name(layer)}.template.json"
        region = CLOUDFRONT_REGION if layer == EDGE else sleeping.spec.region
        found += [f"{layer}: {m.rule.id} {m.message}" for m in lint_file(path, config=ManualArgs(regions=[region]))]
    assert found == []
