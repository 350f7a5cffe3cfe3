"""The spec's lists of accepted values agree with what aws-cdk-lib knows."""

from __future__ import annotations

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

from layers.shared.log_groups import log_retention
from platform_spec import LOG_RETENTION_DAYS, POSTGRES_MAJORS, POSTGRES_VERSIONS


@pytest.mark.parametrize("version", [*POSTGRES_MAJORS, *POSTGRES_VERSIONS])
def test_every_supported_postgres_version_is_known_to_cdk(version: str) -> None:
    assert hasattr(rds.PostgresEngineVersion, "VER_" + version.replace(".", "_"))


def test_every_log_retention_maps_to_its_cloudwatch_setting() -> None:
    members = [log_retention(days) for days in LOG_RETENTION_DAYS]
    assert len(set(members)) == len(LOG_RETENTION_DAYS)
    assert set(members) == set(logs.RetentionDays) - {logs.RetentionDays.INFINITE}
