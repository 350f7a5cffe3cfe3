"""The data stack: every stateful resource encrypted, TLS-only and kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Match

from compliance.resource_schemas import name_properties
from compliance.security_group_rules import group_peers
from layers.network.interface_endpoints import RESOURCE_LESS_ACTIONS
from platform_spec.connections import FILE_SYSTEM, PROMETHEUS
from platform_spec.names import DATA, LAYERS, NETWORK, RELEASE_TAG_PREFIX
from tests.platform_synth import Synthesized
from tests.templates import deployment_of, rules
from tools.state_guard import STATEFUL_TYPES

# RetainExceptOnCreate keeps the resource on every operation but the failed create that made it,
# when it holds nothing yet (CDK's RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE).
KEEPS_DATA = ("Retain", "RetainExceptOnCreate", "Snapshot")


def _all_resources(synth: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for layer in LAYERS:
        for logical_id, resource in synth.template_json(layer)["Resources"].items():
            yield layer, logical_id, resource


def test_every_stateful_resource_keeps_its_data(profile: Synthesized) -> None:
    stateful = [(layer, lid, r) for layer, lid, r in _all_resources(profile) if r["Type"] in STATEFUL_TYPES]
    # RDS keeps its master secret itself; a secret (Grafana's) and a metrics workspace exist per profile.
    assert {r["Type"] for _, _, r in stateful} >= set(STATEFUL_TYPES) - {
        "AWS::SecretsManager::Secret",
        "AWS::APS::Workspace",
    }
    for layer, logical_id, resource in stateful:
        where = f"{layer}/{logical_id}"
        assert resource.get("DeletionPolicy") in KEEPS_DATA, where
        assert resource.get("UpdateReplacePolicy") in KEEPS_DATA, where


def test_a_failed_first_create_leaves_no_name_behind(profile: Synthesized) -> None:
    """A resource kept with ``Retain`` outlives the rollback of the create that made it;
    with a fixed name, the retry then fails with "already exists". ``RetainExceptOnCreate``
    deletes it on that rollback and keeps it on every later operation (CloudFormation
    DeletionPolicy attribute: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-attribute-deletionpolicy.html). Names come from the CloudFormation registry schemas."""
    named_and_retained = [
        f"{layer}/{logical_id} ({resource['Type']}: {', '.join(names)})"
        for layer, logical_id, resource in _all_resources(profile)
        if resource.get("DeletionPolicy") == "Retain"
        and (names := [p for p in name_properties(resource["Type"]) if p in resource.get("Properties", {})])
    ]
    assert named_and_retained == []
    fixed_names = {
        (layer, resource["Type"])
        for layer, _, resource in _all_resources(profile)
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate"
    }
    # The ones the issue found: session and RDS log groups, repositories, vault (and prod's WAF log group).
    assert {
        (DATA, "AWS::Logs::LogGroup"),
        (DATA, "AWS::ECR::Repository"),
        (DATA, "AWS::Backup::BackupVault"),
    } <= (fixed_names)


def test_database_removal_policy_per_profile(profile: Synthesized) -> None:
    # prod names its instance, so a failed first create must not keep it; dev snapshots it.
    deletion = "RetainExceptOnCreate" if profile.spec.production else "Snapshot"
    replacement = "Retain" if profile.spec.production else "Snapshot"
    profile.template(DATA).has_resource(
        "AWS::RDS::DBInstance", {"DeletionPolicy": deletion, "UpdateReplacePolicy": replacement}
    )


def test_data_stack_is_termination_protected(profile: Synthesized) -> None:
    artifact = profile.manifest()["artifacts"][profile.stack_name(DATA)]
    assert artifact["properties"]["terminationProtection"] is True


def test_database_settings_follow_the_spec(profile: Synthesized) -> None:
    database = profile.spec.database
    profile.template(DATA).has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": database.engine_version,
            "DBInstanceClass": f"db.{database.instance_class}",
            "DBName": database.database_name,
            "Port": str(database.port),
            "StorageEncrypted": True,
            "KmsKeyId": Match.any_value(),
            "MaxAllocatedStorage": database.max_allocated_storage_gib,
            "EnableIAMDatabaseAuthentication": True,
            "ManageMasterUserPassword": True,
            "MasterUserSecret": {"KmsKeyId": Match.any_value()},
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
            "BackupRetentionPeriod": database.backup_retention_days,
            "MultiAZ": database.multi_az,
            "DeletionProtection": database.deletion_protection,
            "PubliclyAccessible": False,
            "MonitoringInterval": 60,
        },
    )


def test_database_forces_tls_and_logs_connections_ddl_and_role_changes(profile: Synthesized) -> None:
    profile.template(DATA).has_resource_properties(
        "AWS::RDS::DBParameterGroup",
        {
            "Parameters": {
                "rds.force_ssl": "1",
                "log_connections": "1",
                "log_disconnections": "1",
                "shared_preload_libraries": "pg_stat_statements,pgaudit",
                "pgaudit.log": "ddl,role",
                "pgaudit.role": "rds_pgaudit",
            }
        },
    )


def test_database_lives_in_isolated_subnets_behind_its_own_group(profile: Synthesized) -> None:
    data, network = profile.stacks.data, profile.stacks.network
    groups = data.database.instance.connections.security_groups
    assert [g.security_group_id for g in groups] == [network.security_groups.database.security_group_id]
    isolated = {s.subnet_id for s in network.vpc.isolated_subnets}
    assert len(isolated) == profile.spec.network.max_azs


def test_only_the_spec_reaches_the_file_system(profile: Synthesized) -> None:
    ingress, _ = rules(profile)
    assert {(src, port) for src, dst, port in ingress if dst == FILE_SYSTEM} == {(PROMETHEUS, 2049)}
    # As deployed: the mount targets are in the network's file-system group (read strongly, an export).
    deployment = deployment_of(profile)
    network = profile.template_json(NETWORK)
    (group,) = [g for g, peer in group_peers(profile.spec, network).items() if peer == FILE_SYSTEM]
    expected = deployment.get_att(profile.stack_name(NETWORK), group, "GroupId")
    mount_targets = deployment.resources(profile.stack_name(DATA), "AWS::EFS::MountTarget")
    assert mount_targets
    for body in mount_targets.values():
        assert deployment.resolve(profile.stack_name(DATA), body["Properties"]["SecurityGroups"]) == [expected]


def test_file_system_is_encrypted_backed_up_and_requires_tls(profile: Synthesized) -> None:
    template = profile.template(DATA)
    template.has_resource_properties(
        "AWS::EFS::FileSystem",
        {
            "Encrypted": True,
            "KmsKeyId": Match.any_value(),
            "BackupPolicy": {"Status": "ENABLED"},
            "LifecyclePolicies": Match.array_with([{"TransitionToIA": "AFTER_30_DAYS"}]),
            "FileSystemPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )
    uid, gid = str(profile.spec.prometheus.user.uid), str(profile.spec.prometheus.user.gid)
    template.has_resource_properties(
        "AWS::EFS::AccessPoint",
        {
            "PosixUser": {"Uid": uid, "Gid": gid},
            "RootDirectory": {"CreationInfo": {"OwnerUid": uid, "OwnerGid": gid, "Permissions": "0755"}},
        },
    )


def test_buckets_are_private_versioned_encrypted_and_tls_only(profile: Synthesized) -> None:
    template = profile.template(DATA)
    buckets = template.find_resources("AWS::S3::Bucket")
    # access logs, configuration, and the audit trail's where the platform keeps it (tests/synth/test_record.py)
    assert len(buckets) == 2 + profile.spec.audit.by_platform
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == len(buckets)
    for policy in policies.values():
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


def test_config_bucket_uses_kms_and_logs_access(profile: Synthesized) -> None:
    profile.template(DATA).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": Match.any_value(),
                            }
                        }
                    )
                ]
            },
            "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "s3/config/"},
        },
    )


def test_log_bucket_expires_logs_after_the_profile_retention(profile: Synthesized) -> None:
    profile.template(DATA).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"ExpirationInDays": profile.spec.access_log_retention_days})]
            }
        },
    )


def test_one_repository_per_service(profile: Synthesized) -> None:
    repositories = {
        r["Properties"]["RepositoryName"]: r["Properties"]
        for r in profile.template(DATA).find_resources("AWS::ECR::Repository").values()
    }
    assert set(repositories) == {f"{profile.spec.stack_prefix}/{s.name}" for s in profile.spec.services}
    (data_key,) = [
        k
        for k, v in profile.template(DATA).find_resources("AWS::KMS::Key").items()
        if v["Properties"]["Description"].endswith(
            "data at rest: database, file system, configuration, images, backups"
        )
    ]
    for name, props in repositories.items():
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}, name
        assert props["ImageTagMutability"] == "IMMUTABLE", name
        # Encrypted with the data key, like the platform's other state.
        assert props["EncryptionConfiguration"]["EncryptionType"] == "KMS", name
        assert props["EncryptionConfiguration"]["KmsKey"] == {"Fn::GetAtt": [data_key, "Arn"]}, name
        released, initial, others = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert released["selection"] == {
            "tagStatus": "tagged",
            "tagPrefixList": [RELEASE_TAG_PREFIX],
            "countType": "imageCountMoreThan",
            "countNumber": profile.spec.releases_kept,
        }, name
        assert initial["selection"]["tagPrefixList"] == [profile.spec.services[0].initial_image_tag], name
        assert others["selection"]["tagStatus"] == "any", name
        assert others["selection"]["countNumber"] == profile.spec.images_kept, name
        assert [r["rulePriority"] for r in (released, initial, others)] == [1, 2, 3], name


def test_backups_cover_database_and_file_system_daily(profile: Synthesized) -> None:
    """Daily, or on each day of a schedule's window an hour after it opens (a stopped database
    takes no backup)."""
    template = profile.template(DATA)
    schedule = profile.spec.schedule
    when = (
        {"ScheduleExpression": schedule.backups_start.cron(), "ScheduleExpressionTimezone": schedule.time_zone}
        if schedule
        else {"ScheduleExpression": "cron(0 5 * * ? *)"}
    )
    template.has_resource_properties("AWS::Backup::BackupVault", {"EncryptionKeyArn": Match.any_value()})
    template.has_resource_properties(
        "AWS::Backup::BackupPlan",
        {
            "BackupPlan": {
                "BackupPlanRule": [
                    Match.object_like({**when, "Lifecycle": {"DeleteAfterDays": profile.spec.backup_retention_days}})
                ]
            }
        },
    )
    selection = next(iter(template.find_resources("AWS::Backup::BackupSelection").values()))
    resources = selection["Properties"]["BackupSelection"]["Resources"]
    assert len(resources) == 2
    text = repr(resources)
    assert ":rds:" in text
    assert "elasticfilesystem" in text


def test_keys_rotate(profile: Synthesized) -> None:
    keys = profile.template(DATA).find_resources("AWS::KMS::Key")
    assert keys
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys.values())


def test_log_groups_are_encrypted_with_retention(profile: Synthesized) -> None:
    for layer, logical_id, resource in _all_resources(profile):
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert "KmsKeyId" in resource["Properties"], f"{layer}/{logical_id}"
            assert "RetentionInDays" in resource["Properties"], f"{layer}/{logical_id}"


def _policy_documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource.get("Properties", {})
    keys = ("PolicyDocument", "KeyPolicy", "FileSystemPolicy", "RepositoryPolicyText", "AccessPolicy")
    return [props[k] for k in keys if isinstance(props.get(k), dict) and resource["Type"] != "AWS::IAM::Policy"]


@pytest.mark.parametrize("wildcard", ["*", {"AWS": "*"}])
def test_no_resource_policy_allows_any_principal(profile: Synthesized, wildcard: object) -> None:
    for layer, logical_id, resource in _all_resources(profile):
        for document in _policy_documents(resource):
            for statement in document["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                if resource["Type"] == "AWS::EC2::VPCEndpoint":
                    # An endpoint policy filters every request that passes, whoever sends it:
                    # it is bounded by what it names instead; "*" only for actions that name no
                    # resource, and only for this account's principals.
                    resources = (
                        statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    )
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    resource_less = {a for names in RESOURCE_LESS_ACTIONS.values() for a in names}
                    if "*" in resources:
                        assert set(actions) <= resource_less, f"{layer}/{logical_id}"
                        assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"], f"{layer}/{logical_id}"
                    continue
                assert statement.get("Principal") != wildcard, f"{layer}/{logical_id}"
