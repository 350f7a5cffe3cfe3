"""What the observability stack hands the others: where alarms publish."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns


@dataclass(frozen=True)
class Notifications:
    """The alarm topic and the key it is encrypted with: whoever publishes needs both."""

    topic: sns.ITopic
    key: kms.IKey
