"""What keeps the record when an administrator's credentials do not: backups nobody can delete
before they expire (AWS Backup Vault Lock), and an audit trail with detection (CloudTrail,
GuardDuty, alarms on changes made outside CI), or the organization's, named.

docs/security.md ("Immutable backups and the audit trail") says what each choice commits to;
docs/operations.md ("What the account must provide") how to check it in an account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from platform_spec.errors import SpecError

if TYPE_CHECKING:
    from platform_spec.platform import PlatformSpec

VaultLockMode = Literal["compliance", "governance"]
AuditMode = Literal["platform", "organization"]

# AWS Backup Vault Lock: the lock date is at least 72 hours after the lock is set
# (CloudFormation, AWS::Backup::BackupVault LockConfigurationType, ChangeableForDays).
MIN_CHANGEABLE_DAYS = 3
# AWS Backup keeps a recovery point at most 100 years (BackupRule Lifecycle).
MAX_RETENTION_DAYS = 36500
BACKUP_VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:[a-z]{2}(-[a-z]+)+-\d:\d{12}:backup-vault:[A-Za-z0-9_.-]{2,50}$")
TRAIL_ARN = re.compile(r"^arn:aws[a-z-]*:cloudtrail:[a-z]{2}(-[a-z]+)+-\d:\d{12}:trail/[A-Za-z0-9_.-]{3,128}$")


@dataclass(frozen=True, kw_only=True)
class VaultLockSpec:
    """AWS Backup Vault Lock on the backup vault ("AWS Backup Vault Lock", AWS Backup developer
    guide: https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html). Its minimum
    retention is the profile's ``backup_retention_days``: no recovery point can be deleted, nor its
    lifecycle shortened, before then, by anyone, the account's root user included."""

    mode: VaultLockMode = "compliance"
    """``compliance`` (the default): after ``changeable_for_days`` the lock can never be changed or
    removed, by anyone, AWS included; recovery points and the vault then stay until each expires.
    ``governance``: no grace period; whoever holds ``backup:DeleteBackupVaultLockConfiguration`` may
    remove the lock at any time (for environments that can be torn down, dev)."""
    changeable_for_days: int = 7
    """Compliance mode only: days after the first deploy during which the lock may still be changed
    or removed (at least 3, AWS Backup's cooling-off). A week to check the first deploy; after it,
    the lock is permanent and cannot be undone."""
    max_retention_days: int = 365
    """The longest any recovery point in the vault may be kept (a lifecycle beyond it is refused);
    at least the profile's ``backup_retention_days``."""

    def __post_init__(self) -> None:
        if self.mode not in ("compliance", "governance"):
            raise SpecError("backup_lock.mode", self.mode, "must be 'compliance' or 'governance'")
        if (
            not isinstance(self.changeable_for_days, int)
            or not MIN_CHANGEABLE_DAYS <= self.changeable_for_days <= 36500
        ):
            raise SpecError(
                "backup_lock.changeable_for_days",
                self.changeable_for_days,
                f"must be from {MIN_CHANGEABLE_DAYS} (AWS Backup's cooling-off) to 36500",
            )
        if not isinstance(self.max_retention_days, int) or not 1 <= self.max_retention_days <= MAX_RETENTION_DAYS:
            raise SpecError("backup_lock.max_retention_days", self.max_retention_days, "must be from 1 to 36500")


@dataclass(frozen=True, kw_only=True)
class BackupCopySpec:
    """A copy of every backup in another region's or account's vault, kept as long as the original."""

    destination_vault_arn: str
    """The vault the copies go to (``arn:aws:backup:<region>:<account>:backup-vault:<name>``). Its own
    access policy must admit ``backup:CopyIntoBackupVault`` from this account; a copy to another
    account also needs the database's key shared with it (docs/operations.md)."""

    def __post_init__(self) -> None:
        if not isinstance(self.destination_vault_arn, str) or not BACKUP_VAULT_ARN.match(self.destination_vault_arn):
            raise SpecError(
                "backup_copy.destination_vault_arn",
                self.destination_vault_arn,
                "not a backup vault ARN (arn:aws:backup:<region>:<account>:backup-vault:<name>)",
            )


@dataclass(frozen=True, kw_only=True)
class AuditSpec:
    """Who keeps the account's audit trail and detection."""

    mode: AuditMode = "platform"
    """``platform`` (the default): the data stack creates a multi-region CloudTrail trail with
    log-file validation, into an Object Lock bucket with a key of its own, a GuardDuty detector
    (``detector``), and alarms on IAM and CloudFormation changes made by anyone but the deploy path.
    ``organization``: the account's organization provides them; ``organization_trail_arn`` names
    its trail."""
    organization_trail_arn: str | None = None
    """``organization`` only: the organization trail that records this account (docs/operations.md,
    "What the account must provide", gives the command that checks it)."""
    log_lock_days: int = 365
    """``platform`` only: days each trail log file is locked (S3 Object Lock, compliance mode:
    nobody can delete or overwrite it before then)."""
    detector: bool = True
    """``platform`` only: whether this profile creates the GuardDuty detector. An account and region
    hold one, so in an account shared by environments exactly one of them does (``CiSpec``
    refuses two); with an account of its own, each does."""

    def __post_init__(self) -> None:
        if self.mode not in ("platform", "organization"):
            raise SpecError("audit.mode", self.mode, "must be 'platform' or 'organization'")
        if self.mode == "organization":
            if self.organization_trail_arn is None or not TRAIL_ARN.match(str(self.organization_trail_arn)):
                raise SpecError(
                    "audit.organization_trail_arn",
                    self.organization_trail_arn,
                    "'organization' names the organization's trail "
                    "(arn:aws:cloudtrail:<region>:<account>:trail/<name>)",
                )
        elif self.organization_trail_arn is not None:
            raise SpecError("audit.organization_trail_arn", self.organization_trail_arn, "only for mode 'organization'")
        if not isinstance(self.detector, bool):
            raise SpecError("audit.detector", self.detector, "must be true or false")
        if not isinstance(self.log_lock_days, int) or not 1 <= self.log_lock_days <= 36500:
            raise SpecError("audit.log_lock_days", self.log_lock_days, "must be from 1 to 36500")

    @property
    def by_platform(self) -> bool:
        """The platform creates the trail and the alarms (and the detector, where ``detector``)."""
        return self.mode == "platform"

    @property
    def creates_detector(self) -> bool:
        """The platform creates the account's GuardDuty detector."""
        return self.by_platform and self.detector


def check_record(spec: PlatformSpec) -> None:
    """The lock admits the profile's backups; production's lock and trail cannot be undone."""
    lock = spec.backup_lock
    if lock.max_retention_days < spec.backup_retention_days:
        raise SpecError(
            "backup_lock.max_retention_days",
            lock.max_retention_days,
            f"must be at least backup_retention_days ({spec.backup_retention_days}), or the vault refuses its backups",
        )
    if spec.production and lock.mode != "compliance":
        raise SpecError("backup_lock.mode", lock.mode, "production locks its backups in compliance mode")
