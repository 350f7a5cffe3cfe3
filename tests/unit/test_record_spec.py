"""The spec of what keeps the record (platform_spec/audit.py): the backups' lock, their copy and the
audit trail, and every refusal of bad input, as one line naming the field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from platform_spec import PlatformSpec, SpecError, ci_setup
from platform_spec import ci as ci_module
from platform_spec.audit import AuditSpec, BackupCopySpec, VaultLockSpec
from platform_spec.profiles import PROFILES


def _production() -> PlatformSpec:
    return next(spec for spec in (build() for build in PROFILES.values()) if spec.production)


def _any() -> PlatformSpec:
    return next(build() for build in PROFILES.values())


def test_production_locks_its_backups_for_good_and_keeps_a_trail() -> None:
    for spec in (build() for build in PROFILES.values()):
        if spec.production:
            assert spec.backup_lock.mode == "compliance"
        assert spec.backup_lock.max_retention_days >= spec.backup_retention_days


def test_the_careful_defaults_lock_for_good_after_a_grace_and_keep_a_trail() -> None:
    assert VaultLockSpec().mode == "compliance"
    assert VaultLockSpec().changeable_for_days >= 3
    assert AuditSpec().mode == "platform"


REFUSED: dict[str, tuple[Callable[[], object], str]] = {
    "production in governance mode": (
        lambda: replace(_production(), backup_lock=VaultLockSpec(mode="governance")),
        "backup_lock.mode: production locks its backups in compliance mode (got 'governance')",
    ),
    "a maximum below the retention": (
        lambda: replace(_any(), backup_lock=VaultLockSpec(max_retention_days=_any().backup_retention_days - 1)),
        "backup_lock.max_retention_days: must be at least backup_retention_days",
    ),
    "a grace shorter than AWS Backup's cooling-off": (
        lambda: VaultLockSpec(changeable_for_days=2),
        "backup_lock.changeable_for_days: must be from 3 (AWS Backup's cooling-off) to 36500 (got 2)",
    ),
    "an unknown lock mode": (lambda: VaultLockSpec(mode="legal-hold"), "backup_lock.mode: must be"),  # type: ignore[arg-type]
    "a copy to something not a vault": (
        lambda: BackupCopySpec(destination_vault_arn="arn:aws:s3:::a-bucket"),
        "backup_copy.destination_vault_arn: not a backup vault ARN",
    ),
    "the organization's trail unnamed": (
        lambda: AuditSpec(mode="organization"),
        "audit.organization_trail_arn: 'organization' names the organization's trail",
    ),
    "a trail named for the platform's own": (
        lambda: AuditSpec(organization_trail_arn="arn:aws:cloudtrail:us-east-1:111122223333:trail/org"),
        "audit.organization_trail_arn: only for mode 'organization'",
    ),
    "an unknown audit mode": (lambda: AuditSpec(mode="none"), "audit.mode: must be"),  # type: ignore[arg-type]
    "logs locked no day": (lambda: AuditSpec(log_lock_days=0), "audit.log_lock_days: must be from 1 to 36500 (got 0)"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_input_is_refused_in_one_line_naming_the_field(case: str) -> None:
    build, message = REFUSED[case]
    with pytest.raises(SpecError) as refused:
        build()
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_an_organization_trail_and_a_copy_are_accepted() -> None:
    spec = replace(
        _any(),
        audit=AuditSpec(
            mode="organization", organization_trail_arn="arn:aws:cloudtrail:us-east-1:111122223333:trail/org"
        ),
        backup_copy=BackupCopySpec(destination_vault_arn="arn:aws:backup:eu-west-1:111122223333:backup-vault:copies"),
    )
    assert not spec.audit.by_platform


def _detecting(build: Callable[[], PlatformSpec]) -> Callable[[], PlatformSpec]:
    return lambda: replace(build(), audit=AuditSpec(mode="platform"))


def test_an_account_shared_by_environments_gets_one_guardduty_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """GuardDuty holds one detector per account and region: in a shared account two profiles that
    each make one would fail the second deploy, so the CI spec refuses it."""
    spec = ci_module.ci()
    assert spec.setup == ci_setup.SHARED_ACCOUNT
    assert sum(PROFILES[e]().audit.creates_detector for e in spec.environments) <= 1
    monkeypatch.setattr(ci_setup, "PROFILES", {name: _detecting(build) for name, build in PROFILES.items()})
    with pytest.raises(SpecError, match=r"^audit\.detector: .*one GuardDuty detector"):
        ci_setup.check_setup(spec)
