"""The KMS key of the database's master secret: the database bootstrap decrypts with it, and no
one else, account administrators included."""

from __future__ import annotations

import hashlib

from aws_cdk import Aws, DefaultStackSynthesizer, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

READER_SUFFIX = "-master-secret-reader"
# What the account may do with the key: administer it, never use it (KMS developer guide, "Default
# key policy", the key administrators' statement, without kms:CreateGrant, with which an
# administrator could hand itself the use).
KEY_ADMINISTRATION = (
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:DescribeKey",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:RotateKeyOnDemand",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:List*",
    "kms:RevokeGrant",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
# RDS's service-linked role, with which RDS rotates the master secret it manages.
RDS_SERVICE_ROLE = "aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"


def master_secret_reader_name(identifier: str) -> str:
    """The fixed name of the one role that may decrypt the master secret (the database bootstrap's
    execution role): the key's policy, in the data stack, names it before the compute stack
    creates it. At most 64 characters, IAM's limit for a role name."""
    name = f"{identifier}{READER_SUFFIX}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:8]
    return f"{identifier[: 64 - len(READER_SUFFIX) - 9]}-{digest}{READER_SUFFIX}"


class MasterSecretKey(Construct):
    """A key whose policy delegates to IAM only what each principal needs. A key policy statement
    naming the account lets IAM policies grant that statement's actions, here only to the roles
    its ``aws:PrincipalArn`` names (KMS developer guide, "Default key policy":
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html):

    - the account administers the key but cannot use it;
    - ``reader_role_name`` (the bootstrap's execution role: ECS reads the secret as the task
      starts) decrypts, through Secrets Manager only;
    - CloudFormation's execution role (RDS creates the secret on its behalf) and RDS's
      service-linked role (which rotates it) write it, through Secrets Manager only, which uses
      ``kms:GenerateDataKey`` and ``kms:Decrypt`` on behalf of whoever creates or changes a secret
      value (Secrets Manager user guide, "Secret encryption and decryption in AWS Secrets Manager":
      https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html; RDS user
      guide, "Password management with Amazon RDS and AWS Secrets Manager":
      https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).

    An administrator can still rewrite this policy (KMS refuses a policy that would lock everyone
    out of changing it) or deploy through CloudFormation; both leave a trail in CloudTrail, which
    a plain ``GetSecretValue`` with ``secretsmanager:*`` and ``kms:*`` would not need."""

    def __init__(self, scope: Construct, construct_id: str, *, identifier: str, reader_role_name: str) -> None:
        """``identifier``: the database's, for the key's description. ``reader_role_name``: the
        only role that may decrypt."""
        super().__init__(scope, construct_id)
        account = iam.AccountRootPrincipal()
        through_secrets_manager = {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}
        reader = self._role_arn(reader_role_name)
        writers = [self._cloudformation_role_arn(), self._role_arn(RDS_SERVICE_ROLE)]
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersTheKeyOnly",
                    principals=[account],
                    actions=list(KEY_ADMINISTRATION),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="BootstrapReadsTheMasterSecret",
                    principals=[account],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {**through_secrets_manager, "aws:PrincipalArn": reader}},
                ),
                iam.PolicyStatement(
                    sid="RdsWritesTheMasterSecret",
                    principals=[account],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {**through_secrets_manager, "aws:PrincipalArn": writers}},
                ),
            ]
        )
        self.key = kms.Key(
            self,
            "Key",
            description=f"{identifier} master user secret: only the database bootstrap decrypts",
            enable_key_rotation=True,
            policy=policy,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _cloudformation_role_arn(self) -> str:
        """The CDK bootstrap's CloudFormation execution role, with which every deploy creates and
        changes the database."""
        synthesizer = Stack.of(self).synthesizer
        if not isinstance(synthesizer, DefaultStackSynthesizer):
            raise TypeError("the master secret's key needs the default stack synthesizer's CloudFormation role")
        # The synthesizer writes it with ${AWS::...} placeholders, for Fn::Sub.
        return Fn.sub(synthesizer.cloud_formation_execution_role_arn)

    @staticmethod
    def _role_arn(name: str) -> str:
        return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{name}"
