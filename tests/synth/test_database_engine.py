"""The database's engine version: the template pins only what stays true after RDS applies a
minor upgrade.

RDS never downgrades. With automatic minor upgrades on, a full ``EngineVersion`` that RDS has
upgraded past makes the next update of the instance ask for a downgrade, and it fails
(aws/aws-cdk#15475). A major alone does not: "If you specify only a major version, Amazon RDS
updates the DB instance to the default minor version if the current minor version is lower"
(RDS API reference, ModifyDBInstance, EngineVersion)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from layers.data.postgres_database import PostgresDatabase
from layers.shared.log_groups import Logging
from platform_spec import POSTGRES_VERSIONS, DatabaseSpec
from platform_spec.names import DATA
from tests.platform_synth import Synthesized


def _instance(template: Mapping[str, Any]) -> dict[str, Any]:
    (instance,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    properties: dict[str, Any] = instance["Properties"]
    return properties


def _family(template: Mapping[str, Any]) -> str:
    (group,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBParameterGroup"]
    family: str = group["Properties"]["Family"]
    return family


def test_with_minor_upgrades_on_the_template_names_the_major_alone(profile: Synthesized) -> None:
    database, template = profile.spec.database, profile.template_json(DATA)
    instance = _instance(template)
    assert instance["AutoMinorVersionUpgrade"] is database.auto_minor_version_upgrade
    assert instance["EngineVersion"] == database.engine_version
    if database.auto_minor_version_upgrade:
        assert "." not in instance["EngineVersion"], "a minor RDS will upgrade past"
    assert _family(template) == f"postgres{database.major_version}"


def _synthesized_alone(database: DatabaseSpec) -> Mapping[str, Any]:
    """The database construct alone in a stack of its own: seconds, not a profile's synth."""
    stack = Stack(App(), "Database")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    key = kms.Key(stack, "Key")
    PostgresDatabase(
        stack,
        "Database",
        identifier="database",
        database=database,
        vpc=vpc,
        security_group=ec2.SecurityGroup(stack, "Group", vpc=vpc),
        key=key,
        logging=Logging(key=key, retention_days=30),
        removal_policy=RemovalPolicy.DESTROY,
    )
    return Template.from_stack(stack).to_json()


def test_a_full_version_is_pinned_with_minor_upgrades_off(dev: Synthesized) -> None:
    major = dev.spec.database.major_version
    full = next(v for v in reversed(POSTGRES_VERSIONS) if v.split(".")[0] == major)
    pinned = replace(dev.spec.database, engine_version=full, auto_minor_version_upgrade=False)
    template = _synthesized_alone(pinned)
    instance = _instance(template)
    assert (instance["EngineVersion"], instance["AutoMinorVersionUpgrade"]) == (full, False)
    assert _family(template) == f"postgres{major}"
