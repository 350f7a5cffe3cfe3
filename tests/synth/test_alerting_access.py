"""Alertmanager may publish to exactly the topics its configuration names, through exactly their key;
no other task may publish to them (evaluated with the access ledger's IAM evaluator)."""

from __future__ import annotations

from typing import Any

from aws_model.iam import Principal, Request, evaluate
from platform_spec.names import OBSERVABILITY
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, templates_of


def _task_roles(profile: Synthesized) -> dict[str, tuple[str, str]]:
    """Each task definition's first container name -> (stack, task role logical id), in every stack."""
    roles = {}
    for stack, template in templates_of(profile).items():
        for body in template["Resources"].values():
            if body["Type"] == "AWS::ECS::TaskDefinition" and "TaskRoleArn" in body["Properties"]:
                names = [c["Name"] for c in body["Properties"]["ContainerDefinitions"]]
                role = body["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
                roles[",".join(names)] = (stack, role)
    return roles


def _allowed(profile: Synthesized, stack: str, role: str, action: str, resource: str) -> bool:
    deployment = deployment_of(profile)
    request = Request(
        principal=Principal("AWS", deployment.role_arn(stack, role)),
        action=action,
        resource=resource,
        context={"aws:SecureTransport": True},
    )
    decision = evaluate(
        request,
        account=deployment.account,
        identity_policies=deployment.identity_policies(stack, role),
        resource_policy=None,
    )
    return decision.allowed


def _topics_and_key(profile: Synthesized) -> tuple[list[str], str]:
    deployment = deployment_of(profile)
    stack = profile.stack_name(OBSERVABILITY)
    resources: dict[str, Any] = profile.template_json(OBSERVABILITY)["Resources"]
    topics = [deployment.ref(stack, lid) for lid, body in resources.items() if body["Type"] == "AWS::SNS::Topic"]
    keys = {
        str(deployment.resolve(stack, body["Properties"]["KmsMasterKeyId"]))
        for body in resources.values()
        if body["Type"] == "AWS::SNS::Topic"
    }
    (key,) = keys
    return topics, key


def test_alertmanager_publishes_to_exactly_its_topics_and_no_other_task_to_them(profile: Synthesized) -> None:
    topics, key = _topics_and_key(profile)
    assert len(topics) == 2, "the alarm topic and the heartbeat topic"
    deployment = deployment_of(profile)
    region = profile.spec.region
    elsewhere = f"arn:aws:sns:{region}:{deployment.account}:another-topic"
    other_key = f"arn:aws:kms:{region}:{deployment.account}:key/00000000-0000-0000-0000-000000000000"
    roles = _task_roles(profile)
    (alertmanager,) = [roles[names] for names in roles if profile.spec.alertmanager.name in names.split(",")]
    for topic in topics:
        assert _allowed(profile, *alertmanager, "sns:Publish", topic), topic
    assert not _allowed(profile, *alertmanager, "sns:Publish", elsewhere)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert _allowed(profile, *alertmanager, action, key)
        assert not _allowed(profile, *alertmanager, action, other_key)
    others = [role for role in roles.values() if role != alertmanager]
    assert others
    for stack, role in others:
        for topic in topics:
            assert not _allowed(profile, stack, role, "sns:Publish", topic), f"{stack}/{role} may publish to {topic}"
