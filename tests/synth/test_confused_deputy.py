"""Confused deputy: every AWS service a resource policy lets in acts only for this account.

A service principal in a key, bucket, topic or queue policy is shared by every AWS customer;
without a condition naming the caller's account or resource, another account could make the
service act on ours (IAM user guide, "The confused deputy problem":
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). So each such statement
carries ``aws:SourceAccount`` or ``aws:SourceArn``, with one documented exception: CloudWatch
Logs scopes a KMS key by the encryption context of the log group, whose ARN names the account
(CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS":
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); that page
documents no ``aws:Source*`` key for ``logs.<region>.amazonaws.com``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from platform_spec.names import DATA, LAYERS, OBSERVABILITY
from tests.platform_synth import Synthesized

SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}
LOGS_CONTEXT = "kms:encryptioncontext:aws:logs:arn"
# Trust policies decide who may assume a role, a different question (roles' own tests).
NOT_RESOURCE_POLICIES = {"AssumeRolePolicyDocument"}


def _documents(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document inside a resource's properties, with where it is."""
    if isinstance(value, str) and value.lstrip().startswith("{") and '"Statement"' in value:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return
    if isinstance(value, dict):
        if isinstance(value.get("Statement"), list):
            yield path, value
            return
        for key, inner in value.items():
            if key not in NOT_RESOURCE_POLICIES:
                yield from _documents(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _documents(inner, f"{path}[{index}]")


def _services(statement: dict[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or "Service" not in principal:
        return []
    services = principal["Service"]
    return services if isinstance(services, list) else [services]


def _scoped(statement: dict[str, Any]) -> bool:
    for conditions in (statement.get("Condition") or {}).values():
        for key, value in conditions.items():
            if key.lower() in SOURCE_KEYS:
                return True
            if key.lower() == LOGS_CONTEXT and "AWS::AccountId" in json.dumps(value):
                return True
    return False


def unscoped_service_grants(templates: dict[str, dict[str, Any]]) -> list[str]:
    """Each Allow to a service principal no account- or resource-naming condition limits."""
    found = []
    for stack, template in templates.items():
        for logical_id, body in template.get("Resources", {}).items():
            props = body.get("Properties", {})
            if body["Type"] == "AWS::Lambda::Permission":
                if str(props.get("Principal", "")).endswith(".amazonaws.com") and not (
                    "SourceArn" in props or "SourceAccount" in props
                ):
                    found.append(f"{stack}/{logical_id}: {props['Principal']} may invoke for any account")
                continue
            for path, document in _documents(props, "Properties"):
                for statement in document["Statement"]:
                    services = _services(statement)
                    if services and statement.get("Effect") == "Allow" and not _scoped(statement):
                        found.append(f"{stack}/{logical_id} {path}: {json.dumps(services)} for any account")
    return found


def _templates(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {synth.stack_name(layer): synth.template_json(layer) for layer in LAYERS}


def test_every_service_principal_acts_for_this_account_only(profile: Synthesized) -> None:
    assert unscoped_service_grants(_templates(profile)) == []


def test_the_check_sees_service_principals_where_they_are(profile: Synthesized) -> None:
    """The grants the platform relies on are among those checked, so a pass is not vacuous."""
    templates = _templates(profile)
    principals = {
        json.dumps(service)
        for template in templates.values()
        for body in template["Resources"].values()
        for _, document in _documents(body.get("Properties", {}), "")
        for statement in document["Statement"]
        for service in _services(statement)
    }
    assert '"cloudwatch.amazonaws.com"' in principals  # alarms -> encrypted topic
    assert '"logging.s3.amazonaws.com"' in principals  # server access logs
    assert any("logs." in p for p in principals)  # encrypted log groups


def test_a_grant_without_its_condition_is_named(profile: Synthesized) -> None:
    templates = copy.deepcopy(_templates(profile))
    observability = templates[profile.stack_name(OBSERVABILITY)]
    # The alarm topic's policy: CloudWatch's grant (the heartbeat topic's only refuses plain HTTP).
    (topic_policy,) = [
        b
        for b in observability["Resources"].values()
        if b["Type"] == "AWS::SNS::TopicPolicy"
        and any(
            s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
            for s in b["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    for statement in topic_policy["Properties"]["PolicyDocument"]["Statement"]:
        statement.pop("Condition", None)
    found = unscoped_service_grants(templates)
    assert len(found) == 1, found
    assert "cloudwatch.amazonaws.com" in found[0]


def test_a_logs_grant_for_any_account_is_named(profile: Synthesized) -> None:
    templates = copy.deepcopy(_templates(profile))
    data = templates[profile.stack_name(DATA)]
    for body in data["Resources"].values():
        if body["Type"] == "AWS::KMS::Key":
            for statement in body["Properties"]["KeyPolicy"]["Statement"]:
                for conditions in (statement.get("Condition") or {}).values():
                    if "kms:EncryptionContext:aws:logs:arn" in conditions:
                        conditions["kms:EncryptionContext:aws:logs:arn"] = "arn:aws:logs:*:*:*"
    assert any("logs." in f for f in unscoped_service_grants(templates))
