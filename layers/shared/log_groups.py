"""How the platform keeps its logs: every log group encrypted with the logs key and kept for
the spec's retention (the spec keeps retention in days; CloudWatch Logs in CDK takes an enum)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The enum member for a retention the spec has already validated."""
    return _BY_DAYS[days]


@dataclass(frozen=True)
class Logging:
    """Where a construct's log groups are encrypted (``key``, the data stack's logs key or the
    network stack's flow-log key) and how long they keep events (``retention_days``)."""

    key: kms.IKey
    retention_days: int

    def __post_init__(self) -> None:
        if self.retention_days not in _BY_DAYS:
            raise ValueError(
                f"log retention of {self.retention_days} days is not one CloudWatch Logs offers "
                f"({', '.join(map(str, _BY_DAYS))})"
            )

    def log_group(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> logs.LogGroup:
        """A log group kept this way; ``name`` only where another side finds it by name."""
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=name,
            encryption_key=self.key,
            retention=log_retention(self.retention_days),
            removal_policy=removal_policy,
        )
