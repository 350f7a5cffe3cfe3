"""AWS Backup: a locked vault with a key of its own, an access policy nobody can delete a backup
through, and a daily plan for the stateful resources, optionally copied to another vault."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, TimeZone, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from platform_spec.audit import BackupCopySpec, VaultLockSpec
from platform_spec.schedule import RunSchedule

# What the vault's access policy denies to every principal ("Vault access policies", AWS Backup
# developer guide: https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html;
# these policies take no wildcard in Action). The three are what AWS Config's
# backup-recovery-point-manual-deletion-disabled rule asks for. DeleteBackupVaultAccessPolicy stays
# allowed: denied too, the policy could never be changed again, by anyone; removing it first is a
# recorded step (the audit trail), and the vault lock still refuses every early deletion.
DENIED_VAULT_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
)


class DataBackups(Construct):
    """Daily backups kept ``retention_days``, in addition to RDS's own, in a vault locked for at
    least that long."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        previous_key: kms.IKey,
        retention_days: int,
        lock: VaultLockSpec,
        copy: BackupCopySpec | None,
        resources: list[backup.BackupResource],
        schedule: RunSchedule | None = None,
    ) -> None:
        """``description``: what the keys and vaults describe themselves as. ``previous_key``: the key
        of the vault the platform used before the lock (the data key). ``retention_days``: how long
        each backup is kept, and the lock's minimum. ``lock``: the lock's mode and bounds. ``copy``:
        where each backup is copied, if anywhere. ``resources``: what is backed up. ``schedule``: the
        profile's window, if it sleeps: the daily backup runs an hour into it, on its days, while the
        database is up; without one (default), at 05:00 UTC every day."""
        super().__init__(scope, construct_id)
        # The vault before the lock, as it was: a vault's key cannot change in place, and
        # replacing it would strand (or fail on) its recovery points. New backups go to the locked
        # vault; this one keeps what it holds until those expire (docs/operations.md, "What the account must provide").
        self.previous_vault = backup.BackupVault(
            self, "Vault", encryption_key=previous_key, removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        )
        # A key of its own: the data key's holders do not decrypt the backups, and a copy of the
        # vault's key policy is all another account's restore needs to read.
        self.key = kms.Key(
            self,
            "VaultKey",
            description=f"{description} backups",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vault = self._build_vault(retention_days=retention_days, lock=lock)
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=(
                    events.Schedule.expression(schedule.backups_start.cron())
                    if schedule
                    else events.Schedule.cron(hour="5", minute="0")
                ),
                schedule_expression_timezone=TimeZone.of(schedule.time_zone) if schedule else None,
                start_window=Duration.hours(1),
                completion_window=Duration.hours(8),
                delete_after=Duration.days(retention_days),
                copy_actions=self._copy_actions(copy, retention_days=retention_days),
            )
        )
        selection = self.plan.add_selection("Stateful", resources=resources, allow_restores=True)
        role = selection.node.find_child("Role")
        assert isinstance(role, iam.Role)
        self._let_backup_use_the_key(role)
        for policy in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                    reason="AWS Backup requires its AWS-maintained service-role policies to back up and restore "
                    "RDS and EFS; only the backup service can assume this role.",
                )
            )

    def _build_vault(self, *, retention_days: int, lock: VaultLockSpec) -> backup.BackupVault:
        """The vault, locked ("AWS Backup Vault Lock": https://docs.aws.amazon.com/aws-backup/latest/
        devguide/vault-lock.html): no recovery point is deleted or its lifecycle shortened before
        ``retention_days``. In compliance mode the lock is immutable after ``changeable_for_days``;
        without that grace (governance) it can be removed by whoever may."""
        # CDK names the vault; a failed first create must not leave that name behind.
        return backup.BackupVault(
            self,
            "LockedVault",
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lock_configuration=backup.LockConfiguration(
                min_retention=Duration.days(retention_days),
                max_retention=Duration.days(lock.max_retention_days),
                changeable_for=Duration.days(lock.changeable_for_days) if lock.mode == "compliance" else None,
            ),
            access_policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="NobodyDeletesOrShortensRecoveryPoints",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=list(DENIED_VAULT_ACTIONS),
                        resources=["*"],
                    )
                ]
            ),
        )

    def _copy_actions(
        self, copy: BackupCopySpec | None, *, retention_days: int
    ) -> list[backup.BackupPlanCopyActionProps] | None:
        """Each backup copied to the spec's vault (another region or account), kept as long."""
        if copy is None:
            return None
        destination = backup.BackupVault.from_backup_vault_arn(self, "CopyDestination", copy.destination_vault_arn)
        return [
            backup.BackupPlanCopyActionProps(
                destination_backup_vault=destination, delete_after=Duration.days(retention_days)
            )
        ]

    def _let_backup_use_the_key(self, role: iam.Role) -> None:
        """AWS Backup encrypts and decrypts with the vault's key as the plan's role, and hands grants
        to the services it backs up ("Encryption for backups in AWS Backup"): the key policy admits
        that role, for this account's AWS resources only."""
        for sid, actions, conditions in (
            (
                "AllowAwsBackupRole",
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"],
                None,
            ),
            ("AllowAwsBackupGrants", ["kms:CreateGrant"], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
        ):
            # In a key policy "*" means this key.
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ArnPrincipal(role.role_arn)],
                    actions=actions,
                    resources=["*"],
                    conditions=conditions,
                )
            )
