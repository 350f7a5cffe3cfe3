"""AWS Backup: an encrypted, retained vault and a daily plan for the stateful resources."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataBackups(Construct):
    """Daily backups kept ``retention_days``, in addition to RDS's own."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        retention_days: int,
        resources: list[backup.BackupResource],
    ) -> None:
        super().__init__(scope, construct_id)
        # CDK names the vault; a failed first create must not leave that name behind.
        self.vault = backup.BackupVault(
            self, "Vault", encryption_key=key, removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        )
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=events.Schedule.cron(hour="5", minute="0"),
                start_window=Duration.hours(1),
                completion_window=Duration.hours(8),
                delete_after=Duration.days(retention_days),
            )
        )
        selection = self.plan.add_selection("Stateful", resources=resources, allow_restores=True)
        role = selection.node.find_child("Role")
        for policy in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                    reason="AWS Backup requires its AWS-maintained service-role policies to back up and restore "
                    "RDS and EFS; only the backup service can assume this role.",
                )
            )
