"""The attributes CloudFormation gives the resources where data is
kept and sent: S3, KMS, CloudWatch Logs, SNS, ECR, Secrets Manager, RDS, AWS Backup."""

from __future__ import annotations

from aws_model.cloudformation.physical import Resource, named
from aws_model.cloudformation.values import ALNUM, LOWER, UPPER, Facts, TemplateError, constant

ENGINE_PORTS = {"postgres": "5432", "mysql": "3306", "mariadb": "3306", "oracle": "1521", "sqlserver": "1433"}


def bucket(r: Resource) -> Facts:
    name = named(r, "BucketName", max_len=63, lower=True)
    region = r.region
    return {
        "Ref": name,
        "Arn": lambda: f"arn:{r.deployment.partition}:s3:::{name()}",
        "DomainName": lambda: f"{name()}.s3.amazonaws.com",
        "RegionalDomainName": lambda: f"{name()}.s3.{region}.amazonaws.com",
        "DualStackDomainName": lambda: f"{name()}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": lambda: f"http://{name()}.s3-website-{region}.amazonaws.com",
    }


def kms_key(r: Resource) -> Facts:
    key_id = constant(r.uuid())
    return {"Ref": key_id, "KeyId": key_id, "Arn": lambda: r.arn("kms", f"key/{key_id()}")}


def log_group(r: Resource) -> Facts:
    name = named(r, "LogGroupName", max_len=512)
    return {"Ref": name, "Arn": lambda: r.arn("logs", f"log-group:{name()}:*")}


def topic(r: Resource) -> Facts:
    def name() -> str:
        explicit = r.text("TopicName")
        if explicit is not None:
            return explicit
        fifo = r.prop("FifoTopic") in (True, "true")
        return r.name(None, max_len=251) + (".fifo" if fifo else "")

    def arn() -> str:
        return r.arn("sns", name())

    return {"Ref": arn, "TopicArn": arn, "TopicName": name}


def repository(r: Resource) -> Facts:
    name = named(r, "RepositoryName", lower=True)
    d = r.deployment
    return {
        "Ref": name,
        "Arn": lambda: r.arn("ecr", f"repository/{name()}"),
        "RepositoryUri": lambda: f"{d.account}.dkr.ecr.{r.region}.amazonaws.com/{name()}",
    }


def secret(r: Resource) -> Facts:
    def arn() -> str:
        name = r.text("Name") or f"{r.logical_id}-{r.token(12, ALNUM, 'name')}"
        return r.arn("secretsmanager", f"secret:{name}-{r.token(6, ALNUM, 'secret')}")

    return {"Ref": arn, "Id": arn}


def db_instance(r: Resource) -> Facts:
    identifier = named(r, "DBInstanceIdentifier", max_len=63, lower=True)

    def port() -> str:
        explicit = r.text("Port")
        if explicit is not None:
            return explicit
        engine = (r.text("Engine") or "").lower()
        family = next((f for f in ENGINE_PORTS if engine.startswith(f) or engine.startswith("aurora-" + f)), None)
        if family is None:
            raise TemplateError(f"{r.stack}/{r.logical_id}: no default port known for engine {engine!r}")
        return ENGINE_PORTS[family]

    def master_secret() -> str:
        if r.prop("ManageMasterUserPassword") not in (True, "true"):
            raise TemplateError(
                f"{r.stack}/{r.logical_id}: MasterUserSecret exists only with ManageMasterUserPassword true"
            )
        return r.arn("secretsmanager", f"secret:rds!db-{r.uuid('master')}-{r.token(6, ALNUM, 'master')}")

    return {
        "Ref": identifier,
        "Endpoint.Address": lambda: f"{identifier()}.{r.token(12, LOWER)}.{r.region}.rds.amazonaws.com",
        "Endpoint.Port": port,
        "DbiResourceId": constant("db-" + r.token(26, UPPER, "dbi")),
        "DBInstanceArn": lambda: r.arn("rds", f"db:{identifier()}"),
        "MasterUserSecret.SecretArn": master_secret,
    }


def backup_vault(r: Resource) -> Facts:
    name = named(r, "BackupVaultName", max_len=50)
    return {
        "Ref": name,
        "BackupVaultName": name,
        "BackupVaultArn": lambda: r.arn("backup", f"backup-vault:{name()}"),
    }


def backup_plan(r: Resource) -> Facts:
    ident = constant(r.uuid())
    return {
        "Ref": ident,
        "BackupPlanId": ident,
        "BackupPlanArn": lambda: r.arn("backup", f"backup-plan:{ident()}"),
        "VersionId": constant(r.token(32, ALNUM, "version")),
    }


def backup_selection(r: Resource) -> Facts:
    ident = constant(r.uuid())
    return {"Ref": ident, "Id": ident, "SelectionId": ident}
