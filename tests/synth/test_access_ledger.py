"""The access ledger: every run-time call the platform depends on is allowed by the
policies that apply to it, in both profiles, and a broken policy is named."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.access_ledger import AclDelivery, Entry, LedgerEntry, check_ledger
from compliance.cloudformation_values import Deployment
from compliance.iam_evaluator import UnsupportedPolicy
from platform_spec.names import OBSERVABILITY
from tests.platform_synth import Synthesized
from tests.templates import Templates, deployment_alarm_names, deployment_of, ledger_of, templates_of

_LEDGERS: dict[Path, tuple[Deployment, list[LedgerEntry]]] = {}


def _ledger(synth: Synthesized) -> tuple[Deployment, list[LedgerEntry]]:
    """Each profile's ledger, read once per session."""
    if synth.outdir not in _LEDGERS:
        deployment = deployment_of(synth)
        _LEDGERS[synth.outdir] = (deployment, ledger_of(synth, deployment))
    return _LEDGERS[synth.outdir]


def _entries(synth: Synthesized) -> list[Entry]:
    return [e for e in _ledger(synth)[1] if isinstance(e, Entry)]


def test_every_run_time_call_is_allowed(profile: Synthesized) -> None:
    deployment, entries = _ledger(profile)
    assert [str(f) for f in check_ledger(deployment, entries)] == []


def _has(entries: list[Entry], purpose: str, action: str, what: str, *, resource_suffix: str = "") -> None:
    """An entry whose purpose starts with ``purpose`` calls ``action`` (on a resource ending so)."""
    found = any(
        e.purpose.startswith(purpose) and e.action == action and e.resource.endswith(resource_suffix) for e in entries
    )
    assert found, f"the ledger has no entry for {what}"


def test_the_ledger_covers_every_service_of_the_spec(profile: Synthesized) -> None:
    """What each service needs at run time, from the spec: so a row cannot go missing unseen."""
    entries = _entries(profile)
    for service in profile.spec.services:
        name = service.container_name
        _has(entries, f"{name}: pull its image", "ecr:BatchGetImage", f"{name} pulling its image")
        _has(entries, f"{name}: send its logs", "logs:PutLogEvents", f"{name} writing its logs")
        if service.uses_database:
            _has(entries, name, "rds-db:connect", f"{name} signing in", resource_suffix=f"/{service.database_user}")
        if service.ecs_exec:
            _has(entries, "", "ssmmessages:OpenDataChannel", f"ECS Exec into {name}")
        _has(entries, "release: CheckServices", "ecs:DescribeServices", f"the release reading {name}'s deployments")


def test_the_ledger_covers_the_platforms_own_calls(profile: Synthesized) -> None:
    entries = _entries(profile)
    spec = profile.spec
    _has(entries, "config-loader: copy s3://", "s3:GetObject", "Prometheus's configuration loader")
    assert any(
        e.action == "elasticfilesystem:ClientWrite" and "elasticfilesystem:AccessPointArn" in e.context for e in entries
    ), "Prometheus mounting its TSDB through the access point"
    if spec.grafana is not None:
        _has(entries, "provisioning-loader: copy", "s3:ListBucket", "Grafana's provisioning loader")
        _has(entries, "grafana: read GF_SECURITY_ADMIN_PASSWORD", "secretsmanager:GetSecretValue", "its password")
    for action in (
        "cloudformation:UpdateStack",
        "cloudformation:DescribeStackEvents",
        "ecr:PutImage",
        "ecr:ListImages",
        "ecr:BatchDeleteImage",
        "ecs:RunTask",
        "iam:PassRole",
        "sns:Publish",
        "kms:GenerateDataKey",
    ):
        _has(entries, "release:", action, f"the release's {action}")
    _has(entries, "delete ", "s3:DeleteObject", "the configuration hook deleting an earlier version")
    assert any(e.action == "s3:PutObject" and "/alb/AWSLogs/" in e.resource for e in entries), "load balancer logs"
    assert any(e.caller.label == "logging.s3.amazonaws.com" for e in entries), "the configuration bucket's logs"
    if spec.network.nat == "instance":
        _has(entries, "", "cloudformation:SignalResource", "the NAT instance's signal")
    assert any(isinstance(e, AclDelivery) for e in _ledger(profile)[1]), "CloudFront's standard logs"


def test_every_alarm_and_every_encrypted_log_group_has_its_rows(profile: Synthesized) -> None:
    entries = _entries(profile)
    deployment = _ledger(profile)[0]
    # Deployment alarms notify nobody: ECS acts on them (tests/synth/test_rollouts.py).
    quiet = deployment_alarm_names(templates_of(profile))
    alarms = [
        lid
        for stack in deployment.stacks
        for lid, body in deployment.resources(stack, "AWS::CloudWatch::Alarm").items()
        if body["Properties"].get("AlarmName") not in quiet
    ]
    publishing = {
        e.purpose for e in entries if e.caller.label == "cloudwatch.amazonaws.com" and e.action == "sns:Publish"
    }
    assert publishing == {f"alarm {lid}: notify" for lid in alarms}
    groups = [
        deployment.ref(stack, lid)
        for stack in deployment.stacks
        for lid, body in deployment.resources(stack, "AWS::Logs::LogGroup").items()
        if "KmsKeyId" in body["Properties"]
    ]
    encrypted = {e.purpose for e in entries if e.caller.label.startswith("logs.") and e.action == "kms:GenerateDataKey"}
    assert encrypted == {f"log group {g}: encrypted at rest" for g in groups}


# --- A deliberately broken policy fails the ledger, naming the row and the statement ---------


def _failures_after(synth: Synthesized, edit: Callable[[Templates], None]) -> list[str]:
    templates = copy.deepcopy(templates_of(synth))
    edit(templates)
    deployment = deployment_of(synth, templates)
    return [str(f) for f in check_ledger(deployment, ledger_of(synth, deployment))]


def _resources(templates: Templates, kind: str) -> list[dict[str, Any]]:
    return [r for t in templates.values() for r in t["Resources"].values() if r["Type"] == kind]


def _alarm_topic_policies(templates: Templates) -> list[dict[str, Any]]:
    """The topic policies that let CloudWatch's alarms publish: the alarm topic's (the heartbeat
    topic's only refuses plain HTTP)."""
    return [
        policy
        for policy in _resources(templates, "AWS::SNS::TopicPolicy")
        if any(s.get("Sid") == "AllowAlarmsOfThisAccount" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def test_without_the_topic_policys_cloudwatch_allow_no_alarm_can_notify(dev: Synthesized) -> None:
    """A topic policy replaces SNS's default one; CloudWatch then needs an allow of its own
    (AWS re:Post, "Why didn't I receive an SNS notification for my CloudWatch alarm trigger?":
    https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger)."""

    def drop_cloudwatch(templates: Templates) -> None:
        (policy,) = _alarm_topic_policies(templates)
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        statements[:] = [s for s in statements if s.get("Sid") != "AllowAlarmsOfThisAccount"]

    failures = _failures_after(dev, drop_cloudwatch)
    quiet = deployment_alarm_names(templates_of(dev))
    alarms = sum(
        1
        for t in templates_of(dev).values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("AlarmName") not in quiet
    )
    assert len(failures) == alarms
    for failure in failures:
        assert failure.startswith("alarm ")
        assert "cloudwatch.amazonaws.com -> sns:Publish" in failure
        assert f"no statement of {dev.stack_name(OBSERVABILITY)}/AlarmsTopicPolicy" in failure


def test_a_publish_from_another_accounts_alarm_is_refused(dev: Synthesized) -> None:
    deployment, entries = _ledger(dev)
    entry = next(
        e for e in entries if isinstance(e, Entry) and e.action == "sns:Publish" and e.purpose.startswith("alarm")
    )
    foreign = Entry(
        entry.purpose,
        entry.caller,
        entry.action,
        entry.resource,
        context={**entry.context, "aws:SourceAccount": "444455556666"},
    )
    assert not foreign.check(deployment).allowed


def test_an_explicit_deny_is_named(dev: Synthesized) -> None:
    """A deny added to the configuration bucket's policy beats every role's allow."""

    def deny_reads(templates: Templates) -> None:
        for policy in _resources(templates, "AWS::S3::BucketPolicy"):
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            if not any(s.get("Principal", {}).get("Service") == "logging.s3.amazonaws.com" for s in statements):
                statements.append(
                    {
                        "Sid": "NoReads",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                )

    failures = _failures_after(dev, deny_reads)
    assert failures
    assert all("s3:GetObject" in f and f.endswith("statement NoReads") for f in failures)


def test_a_missing_grant_is_named(dev: Synthesized) -> None:
    def drop_secret_reads(templates: Templates) -> None:
        for policy in _resources(templates, "AWS::IAM::Policy"):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in actions if a != "secretsmanager:GetSecretValue"] or ["none:None"]

    failures = _failures_after(dev, drop_secret_reads)
    assert failures
    assert all("secretsmanager:GetSecretValue" in f and "no statement of" in f for f in failures)


@pytest.mark.parametrize("operator", ["StringEqualsIfExistsButWrong", "DateGreaterThan"])
def test_an_operator_the_evaluator_does_not_know_is_an_error_not_a_pass(dev: Synthesized, operator: str) -> None:
    def add_condition(templates: Templates) -> None:
        (policy,) = _alarm_topic_policies(templates)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "AllowAlarmsOfThisAccount":
                statement["Condition"][operator] = {"aws:CurrentTime": "2026-01-01T00:00:00Z"}

    with pytest.raises(UnsupportedPolicy, match=operator):
        _failures_after(dev, add_condition)
