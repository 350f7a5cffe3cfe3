"""What keeps the record when an administrator's credentials do not (issue 25): backups in a locked
vault nobody can delete them from, and an audit trail with detection, or the organization's, named.

AWS rules these hold, which cannot run here: "AWS Backup Vault Lock"
(https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html): a lock with a grace period
(``ChangeableForDays``) is compliance mode, immutable after it, and refuses deleting a recovery point
before its minimum retention; "Vault access policies"
(https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html): a deny
there binds every principal, and takes no wildcard in ``Action``.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from aws_model.iam import NamedPolicy, Principal, Request, evaluate
from aws_model.ledger import Entry, check_ledger
from layers.data.data_backups import DENIED_VAULT_ACTIONS
from layers.observability.audit_trail import AUDIT_METRICS, audit_namespace
from platform_spec.names import AUDIT_TRAIL, DATA, LAYERS, OBSERVABILITY
from tests.platform_synth import ROOT, Synthesized, profile_spec, synth_spec
from tests.templates import deployment_of, ledger_of, templates_of
from tests.variants import with_record_elsewhere

ACCOUNT = "111122223333"
AUDIT_TYPES = ("AWS::CloudTrail::Trail", "AWS::GuardDuty::Detector", "AWS::Logs::MetricFilter")


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev with the organization's trail and a copy of every backup in another region, with the
    compliance checks (cdk-nag) as a synth runs them."""
    return synth_spec(tmp_path_factory.mktemp("cdk-elsewhere"), with_record_elsewhere(profile_spec("dev")), checks=True)


def _one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = [(lid, r) for lid, r in template["Resources"].items() if r["Type"] == kind]
    assert len(found) == 1, f"{kind}: {[lid for lid, _ in found]}"
    return found[0]


def _ref(value: Any) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names."""
    return str(value["Ref"]) if "Ref" in value else str(value["Fn::GetAtt"][0])


def _vault(synth: Synthesized) -> dict[str, Any]:
    """The vault the backup plan writes to (the vault from before the lock stays beside it)."""
    template = synth.template_json(DATA)
    _, plan = _one(template, "AWS::Backup::BackupPlan")
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    properties: dict[str, Any] = template["Resources"][_ref(rule["TargetBackupVault"])]["Properties"]
    return properties


def test_the_vault_is_locked_for_the_backups_retention(profile: Synthesized) -> None:
    lock = profile.spec.backup_lock
    expected = {"MinRetentionDays": profile.spec.backup_retention_days, "MaxRetentionDays": lock.max_retention_days}
    if lock.mode == "compliance":
        # The grace period is what makes the lock compliance mode: immutable after it.
        expected["ChangeableForDays"] = lock.changeable_for_days
    assert _vault(profile)["LockConfiguration"] == expected


def test_production_locks_its_backups_in_compliance_mode(prod: Synthesized) -> None:
    assert "ChangeableForDays" in _vault(prod)["LockConfiguration"]


def test_nobody_may_delete_or_shorten_a_recovery_point(profile: Synthesized) -> None:
    """Even a principal of the account allowed everything is refused by the vault's policy."""
    policy = NamedPolicy(name="vault access policy", document=_vault(profile)["AccessPolicy"])
    administrator = NamedPolicy(
        name="administrator",
        document={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    recovery_point = f"arn:aws:backup:{profile.spec.region}:{ACCOUNT}:recovery-point:anything"
    for caller in (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:role/Administrator"):
        for action in DENIED_VAULT_ACTIONS:
            decision = evaluate(
                Request(principal=Principal(kind="AWS", value=caller), action=action, resource=recovery_point),
                account=ACCOUNT,
                identity_policies=[administrator],
                resource_policy=policy,
            )
            assert not decision.allowed, (caller, action, decision.reason)
    assert {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"} <= set(DENIED_VAULT_ACTIONS)
    # The policy takes no wildcard in Action: each action is named.
    assert all("*" not in action for action in DENIED_VAULT_ACTIONS)


def test_the_vault_has_a_key_of_its_own_that_aws_backup_may_use(profile: Synthesized) -> None:
    template = profile.template_json(DATA)
    key_id = _ref(_vault(profile)["EncryptionKeyArn"])
    assert template["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    # Its own: no other resource of any stack names it.
    for layer in LAYERS:
        for logical_id, resource in profile.template_json(layer)["Resources"].items():
            if logical_id == key_id or resource["Type"] == "AWS::Backup::BackupVault":
                continue
            assert f'"{key_id}"' not in json.dumps(resource.get("Properties", {})), f"{layer}/{logical_id}"
    _, selection = _one(template, "AWS::Backup::BackupSelection")
    role_id = _ref(selection["Properties"]["BackupSelection"]["IamRoleArn"])
    admitted = {
        action
        for statement in template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
        if statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"} <= admitted


def test_backups_are_copied_where_the_spec_names(elsewhere: Synthesized, profile: Synthesized) -> None:
    for synth in (elsewhere, profile):
        _, plan = _one(synth.template_json(DATA), "AWS::Backup::BackupPlan")
        (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
        copy = synth.spec.backup_copy
        expected = (
            [
                {
                    "DestinationBackupVaultArn": copy.destination_vault_arn,
                    "Lifecycle": {"DeleteAfterDays": synth.spec.backup_retention_days},
                }
            ]
            if copy is not None
            else None
        )
        assert rule.get("CopyActions") == expected


def test_the_platforms_trail_records_every_region_into_a_locked_bucket(profile: Synthesized) -> None:
    assert profile.spec.audit.by_platform
    template = profile.template_json(DATA)
    resources = template["Resources"]
    _, trail = _one(template, "AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["IsMultiRegionTrail"] is True
    assert props["IncludeGlobalServiceEvents"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["IsLogging"] is True
    bucket = resources[_ref(props["S3BucketName"])]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": profile.spec.audit.log_lock_days}},
    }
    key_id = _ref(props["KMSKeyId"])
    assert resources[key_id]["Type"] == "AWS::KMS::Key"
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert _ref(encryption["KMSMasterKeyID"]) == key_id
    # A key of its own: the trail's bucket and the trail are all that name it.
    users = {lid for lid, r in resources.items() if lid != key_id and f'"{key_id}"' in json.dumps(r)}
    assert users == {_ref(props["S3BucketName"]), next(lid for lid, r in resources.items() if r is trail)}
    detectors = [r for r in resources.values() if r["Type"] == "AWS::GuardDuty::Detector"]
    assert len(detectors) == (1 if profile.spec.audit.creates_detector else 0)
    assert all(d["Properties"]["Enable"] is True for d in detectors)
    assert template["Outputs"][AUDIT_TRAIL]["Value"] == {
        "Fn::GetAtt": [next(lid for lid, r in resources.items() if r is trail), "Arn"]
    }


def test_the_trail_delivers_into_its_locked_bucket_with_its_own_key(profile: Synthesized) -> None:
    """The access ledger's rows for the trail (aws_model/ledger/deliveries.py) are each allowed."""
    deployment = deployment_of(profile)
    trail = f"trail {profile.spec.stack_prefix}-audit"
    rows = [e for e in ledger_of(profile, deployment) if isinstance(e, Entry) and e.purpose.startswith(trail)]
    assert {e.action for e in rows} == {
        "s3:GetBucketAcl",
        "s3:PutObject",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert [e.row for e in rows if not e.check(deployment).allowed] == []


def test_another_trail_can_neither_write_to_the_bucket_nor_use_the_key(dev: Synthesized) -> None:
    templates = copy.deepcopy(templates_of(dev))
    (trail,) = [r for t in templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::CloudTrail::Trail"]
    trail["Properties"]["TrailName"] = "someone-elses-trail"
    deployment = deployment_of(dev, templates)
    failures = check_ledger(deployment, ledger_of(dev, deployment))
    refused = {f.entry.action if isinstance(f.entry, Entry) else f.entry.row for f in failures}
    assert refused == {"s3:GetBucketAcl", "s3:PutObject", "kms:GenerateDataKey"}


def test_changes_outside_the_deploy_path_page_the_alarm_topic(profile: Synthesized) -> None:
    data = profile.template_json(DATA)
    _, trail = _one(data, "AWS::CloudTrail::Trail")
    log_group = _ref(trail["Properties"]["CloudWatchLogsLogGroupArn"])
    namespace = audit_namespace(profile.spec.stack_prefix)
    filters = {
        r["Properties"]["MetricTransformations"][0]["MetricName"]: r["Properties"]
        for r in data["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    }
    assert set(filters) == {metric.name for metric in AUDIT_METRICS}
    for metric in AUDIT_METRICS:
        props = filters[metric.name]
        assert _ref(props["LogGroupName"]) == log_group
        assert props["MetricTransformations"][0]["MetricNamespace"] == namespace
        pattern = json.dumps(props["FilterPattern"])
        assert f'$.eventSource = \\"{metric.event_source}\\"' in pattern
        assert "$.readOnly IS FALSE" in pattern
        # The CloudFormation execution role is the deploy path's one changer of both.
        assert "cfn-exec-role-" in pattern
    observability = profile.template_json(OBSERVABILITY)
    topics = [lid for lid, r in observability["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in observability["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == namespace
    }
    assert set(alarms) == {metric.name for metric in AUDIT_METRICS}
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert [_ref(action) for action in alarm["AlarmActions"]] in ([topic] for topic in topics)


def test_with_the_organizations_trail_the_platform_makes_none_and_names_it(elsewhere: Synthesized) -> None:
    audit = elsewhere.spec.audit
    assert not audit.by_platform
    for layer in LAYERS:
        template = elsewhere.template_json(layer)
        assert not [r["Type"] for r in template["Resources"].values() if r["Type"] in AUDIT_TYPES], layer
        assert not [
            lid
            for lid, r in template["Resources"].items()
            if r["Properties"].get("ObjectLockEnabled")
            if "Properties" in r
        ], layer
    alarms = elsewhere.template_json(OBSERVABILITY)["Resources"].values()
    namespace = audit_namespace(elsewhere.spec.stack_prefix)
    assert not [
        a for a in alarms if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"].get("Namespace") == namespace
    ]
    assert elsewhere.template_json(DATA)["Outputs"][AUDIT_TRAIL]["Value"] == audit.organization_trail_arn
    # The copy action and the missing trail pass cdk-nag as they are.
    report = elsewhere.validation_report()
    assert [(p["pluginName"], v["ruleName"]) for p in report["pluginReports"] for v in p["violations"]] == []


def test_the_operations_guide_says_what_the_account_must_provide_and_how_to_check_it() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    match = re.search(r"^## What the account must provide\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "docs/operations.md has no section 'What the account must provide'"
    section = match.group(1)
    for command in (
        "aws cloudtrail describe-trails",
        "aws cloudtrail get-trail-status",
        "aws guardduty list-detectors",
        "aws backup describe-backup-vault",
        AUDIT_TRAIL,
    ):
        assert command in section, command
