"""The replacement analysis (compliance/replacements.py) and the fingerprints weak readers carry
(layers/shared/cross_stack_reads.py), on small templates written here."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from compliance.replacements import Fingerprints, replacements, weak_reads
from layers.shared.cross_stack_reads import CARRIER_TAG, CrossStackReadError, carry_reads


def _read(stack: str, output: str) -> dict[str, Any]:
    return {"Fn::GetStackOutput": {"StackName": stack, "OutputName": output, "Region": "us-east-1"}}


def _platform() -> dict[str, dict[str, Any]]:
    """network (a VPC) <- compute (a target group in it) <- observability (an alarm on it, a policy)."""
    return {
        "network": {
            "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}},
            "Outputs": {"VpcRef": {"Value": {"Ref": "Vpc"}}},
        },
        "compute": {
            "Resources": {
                "Targets": {
                    "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                    "Properties": {"Port": 3000, "HealthCheckPath": "/health", "VpcId": _read("network", "VpcRef")},
                },
                "Rule": {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                    "Properties": {"ListenerArn": "arn:listener", "Priority": 1, "Actions": [{"Ref": "Targets"}]},
                },
            },
            "Outputs": {"TargetsName": {"Value": {"Fn::GetAtt": ["Targets", "TargetGroupFullName"]}}},
        },
        "observability": {
            "Resources": {
                "Alarm": {
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "Dimensions": [{"Name": "TargetGroup", "Value": _read("compute", "TargetsName")}],
                        "Tags": [{"Key": "project", "Value": "p"}],
                    },
                },
                "Policy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {"PolicyName": "Policy1", "PolicyDocument": {"Resource": _read("network", "VpcRef")}},
                },
                "Bootstrap": {"Type": "Custom::Bootstrap", "Properties": {"Subnet": _read("network", "VpcRef")}},
            },
            "Outputs": {"Targets": {"Value": _read("compute", "TargetsName")}},
        },
    }


def _carried(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The consumer's resources, and its outputs under ``Outputs``, as the synthesizer leaves them."""
    producers = {name: templates[name] for name in ("network", "compute")}
    consumer = copy.deepcopy(templates["observability"])
    carry_reads(consumer, producers, stack="observability")
    return {**consumer["Resources"], "Outputs": consumer["Outputs"]}


def test_weak_reads_are_every_get_stack_output() -> None:
    value = {"A": [_read("s", "o"), {"Fn::Join": ["", [_read("t", "p"), "x"]]}], "B": {"Fn::ImportValue": "e"}}
    assert weak_reads(value) == {("s", "o"), ("t", "p")}


def test_a_replacement_only_property_replaces_and_others_do_not() -> None:
    base = _platform()
    new = copy.deepcopy(base)
    new["compute"]["Resources"]["Targets"]["Properties"]["HealthCheckPath"] = "/ready"
    assert replacements(base, new) == {}
    new["compute"]["Resources"]["Targets"]["Properties"]["Port"] = 4000
    assert replacements(base, new) == {("compute", "Targets"): "Port changed"}


def test_replacement_follows_what_names_it_in_a_replacement_only_property() -> None:
    """The VPC replaced: the target group names it through another stack's output in VpcId, a
    replacement-only property; the listener rule names the group only in its actions."""
    base = _platform()
    new = copy.deepcopy(base)
    new["network"]["Resources"]["Vpc"]["Properties"]["CidrBlock"] = "10.1.0.0/16"
    assert replacements(base, new) == {
        ("network", "Vpc"): "CidrBlock changed",
        ("compute", "Targets"): "VpcId names network/Vpc, which is replaced",
    }


def test_the_fingerprint_of_an_output_changes_exactly_when_what_it_reads_is_replaced() -> None:
    base = _platform()
    before = Fingerprints(base).output("compute", "TargetsName")
    in_place = copy.deepcopy(base)
    in_place["compute"]["Resources"]["Targets"]["Properties"]["HealthCheckPath"] = "/ready"
    assert Fingerprints(in_place).output("compute", "TargetsName") == before
    for stack, resource, name, value in (
        ("compute", "Targets", "Port", 4000),
        ("network", "Vpc", "CidrBlock", "10.1.0.0/16"),  # through the group's VpcId, in another stack
    ):
        new = copy.deepcopy(base)
        new[stack]["Resources"][resource]["Properties"][name] = value
        assert Fingerprints(new).output("compute", "TargetsName") != before, name


def test_a_reader_carries_the_fingerprint_in_a_tag_or_its_policy_name() -> None:
    resources = _carried(_platform())
    tags = resources["Alarm"]["Properties"]["Tags"]
    assert [t["Key"] for t in tags] == sorted(["project", CARRIER_TAG])
    assert resources["Policy"]["Properties"]["PolicyName"].startswith("Policy1-")
    assert resources["Bootstrap"] == _platform()["observability"]["Resources"]["Bootstrap"]
    assert resources["Outputs"]["Targets"]["Description"].startswith(f"{CARRIER_TAG} ")


def test_a_reader_of_a_replaced_resource_changes_and_others_do_not() -> None:
    base = _platform()
    before = _carried(base)
    new = copy.deepcopy(base)
    new["compute"]["Resources"]["Targets"]["Properties"]["Port"] = 4000
    after = _carried(new)
    assert after["Alarm"] != before["Alarm"]
    assert after["Outputs"] != before["Outputs"]
    assert after["Policy"] == before["Policy"]


def test_a_reader_with_nothing_to_carry_it_in_is_refused() -> None:
    templates = _platform()
    templates["observability"]["Resources"]["Alarm"]["Type"] = "AWS::IAM::UserToGroupAddition"
    refusal = r"^observability/Alarm \(AWS::IAM::UserToGroupAddition\) reads another stack's output weakly"
    with pytest.raises(CrossStackReadError, match=refusal):
        _carried(templates)


def test_a_reader_synthesized_before_what_it_reads_is_refused() -> None:
    templates = _platform()
    refusal = r"^observability/Alarm reads compute, which is synthesized after it$"
    with pytest.raises(CrossStackReadError, match=refusal):
        carry_reads(templates["observability"], {"network": templates["network"]}, stack="observability")
