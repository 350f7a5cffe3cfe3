"""What an environment's ``cdk bootstrap`` is given, generated from the CI spec: the execution
policy CloudFormation deploys with, the permissions boundary of every role the bootstrap and the
platform create, and the commands that bootstrap it (``python -m tools.bootstrap_policy``).

Without them ``cdk bootstrap`` gives its CloudFormation execution role AdministratorAccess (the
bootstrap template's ``CloudFormationExecutionRole``): whoever may assume the deploy role is
administrator of the account. Here, for environment ``<env>`` (prefix ``<env>-<project>``):

- the execution policy allows the services the platform's templates use
  (``SERVICE_PREFIXES``, held equal to the synthesized templates' resource types by
  ``tests/synth/test_bootstrap_policy.py``), and IAM only on roles and instance profiles named
  with the environment's prefix, created only with the boundary attached;
- the boundary allows what the identity policies allow, except: anything named with another
  environment's prefix or tagged (or being tagged) ``environment=<another>``; changing any stack
  but the environment's own; passing any role but the environment's and its bootstrap's; creating
  a role or user without this boundary, removing a boundary, or editing these two policies.

It is applied to the execution role and, with ``--apply-permissions-boundary-to-all-roles``, to the
bootstrap's deploy, publishing and lookup roles, and by the app to every role of the platform's
stacks (``stacks.ci_stack.bound_platform``). A dev deploy identity then cannot change a prod stack,
even one whose stored service role would act for it (CloudFormation uses a stack's role for anyone
who may update the stack: "AWS CloudFormation service role",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).

Policy grammar: "IAM JSON policy elements" (Resource ARNs are matched segment by segment, a
wildcard within each), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html;
``aws:ResourceTag`` and ``aws:RequestTag``: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html;
``iam:PermissionsBoundary``: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html.
The bootstrap parameters: the pinned CLI's ``lib/api/bootstrap/bootstrap-template.yaml`` and
"Customize CDK bootstrapping", https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-customizing.html.

Plain Python, like the rest of ``platform_spec``: the tool runs before anything is installed.
"""

from __future__ import annotations

from typing import Any

from platform_spec.ci import CiSpec

TAG_KEY = "environment"
"""The tag the app puts on every resource of a profile's stacks, valued with the profile's name."""

SERVICE_PREFIXES: dict[str, str] = {
    "ApplicationAutoScaling": "application-autoscaling",
    "APS": "aps",
    "Backup": "backup",
    "CertificateManager": "acm",
    "CloudFront": "cloudfront",
    "CloudTrail": "cloudtrail",
    "CloudWatch": "cloudwatch",
    "EC2": "ec2",
    "ECR": "ecr",
    "ECS": "ecs",
    "EFS": "elasticfilesystem",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "Events": "events",
    "GuardDuty": "guardduty",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "RDS": "rds",
    "Route53": "route53",
    "S3": "s3",
    "Scheduler": "scheduler",
    "SecretsManager": "secretsmanager",
    "ServiceDiscovery": "servicediscovery",
    "SNS": "sns",
    "SQS": "sqs",
    "SSM": "ssm",
    "StepFunctions": "states",
    "WAFv2": "wafv2",
}
"""CloudFormation's namespace of each resource type the platform's templates hold -> the IAM service
prefix of its actions (IAM itself is granted apart, by name)."""

INDIRECT_PREFIXES = ("backup-storage", "ssm", "route53", "sts")
"""Services called on a resource's behalf: AWS Backup's vaults (backup-storage), the bootstrap
version parameter every template reads (ssm), Cloud Map's private namespaces (route53 hosted zones),
and sts:GetCallerIdentity."""

ROLE_ACTIONS = (
    "iam:GetRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListRoleTags",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:PassRole",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:GetInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
)
"""What CloudFormation does to the roles and instance profiles it has created."""
BOUNDED_CREATION = ("iam:CreateRole", "iam:PutRolePermissionsBoundary")
UNBOUNDED_CREATION = (*BOUNDED_CREATION, "iam:CreateUser", "iam:PutUserPermissionsBoundary")
STACK_CHANGES = (
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:CreateChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:RollbackStack",
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:CancelUpdateStack",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateTerminationProtection",
    "cloudformation:CreateStackRefactor",
    "cloudformation:ExecuteStackRefactor",
    "cloudformation:ImportStacksToStackSet",
)
POLICY_CHANGES = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)


def execution_policy_name(spec: CiSpec, environment: str) -> str:
    """``dev-davidshaevel-cdk-execution``: named with the prefix, so other environments may not touch it."""
    return f"{spec.stack_prefix(environment)}-cdk-execution"


def boundary_name(spec: CiSpec, environment: str) -> str:
    return f"{spec.stack_prefix(environment)}-cdk-boundary"


def policy_arn(name: str, *, account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:policy/{name}"


def execution_policy(spec: CiSpec, environment: str, *, account: str, partition: str = "aws") -> dict[str, Any]:
    """The managed policy of ``environment``'s CloudFormation execution role."""
    prefix = spec.stack_prefix(environment)
    services = sorted({*SERVICE_PREFIXES.values(), *INDIRECT_PREFIXES})
    iam = f"arn:{partition}:iam::{account}"
    own_roles = [f"{iam}:role/{prefix}-*", f"{iam}:instance-profile/{prefix}-*"]
    statements: list[dict[str, Any]] = [
        {"Sid": "PlatformServices", "Effect": "Allow", "Action": [f"{s}:*" for s in services], "Resource": "*"},
        {
            "Sid": "CreateOnlyBoundedRoles",
            "Effect": "Allow",
            "Action": list(BOUNDED_CREATION),
            "Resource": own_roles[0],
            "Condition": {
                "StringEquals": {"iam:PermissionsBoundary": _boundary_arn(spec, environment, account, partition)}
            },
        },
        {"Sid": "OwnRoles", "Effect": "Allow", "Action": list(ROLE_ACTIONS), "Resource": own_roles},
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": f"{iam}:role/aws-service-role/*",
        },
        {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    ]
    return {"Version": "2012-10-17", "Statement": statements + _denials(spec, environment, account, partition)}


def permissions_boundary(spec: CiSpec, environment: str, *, account: str, partition: str = "aws") -> dict[str, Any]:
    """The boundary of ``environment``'s bootstrap roles and of every role its stacks create."""
    prefix = spec.stack_prefix(environment)
    iam = f"arn:{partition}:iam::{account}"
    qualifier = spec.qualifier_of(environment)
    statements: list[dict[str, Any]] = [
        # A boundary grants nothing: it caps what the role's own policies allow.
        {"Sid": "WithinTheEnvironment", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "OnlyOwnStacks",
            "Effect": "Deny",
            "Action": list(STACK_CHANGES),
            "NotResource": [f"arn:{partition}:cloudformation:*:{account}:stack/{prefix}-*/*"],
        },
        {
            "Sid": "PassOnlyOwnRoles",
            "Effect": "Deny",
            "Action": ["iam:PassRole"],
            "NotResource": [f"{iam}:role/{prefix}-*", f"{iam}:role/cdk-{qualifier}-*"],
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements + _denials(spec, environment, account, partition)}


def _boundary_arn(spec: CiSpec, environment: str, account: str, partition: str) -> str:
    return policy_arn(boundary_name(spec, environment), account=account, partition=partition)


def _denials(spec: CiSpec, environment: str, account: str, partition: str) -> list[dict[str, Any]]:
    """What neither policy allows, whatever else does: other environments, unbounded roles."""
    others = [other for other in spec.environments if other != environment]
    own_policies = [
        policy_arn(name, account=account, partition=partition)
        for name in (execution_policy_name(spec, environment), boundary_name(spec, environment))
    ]
    statements: list[dict[str, Any]] = []
    if others:
        statements += [
            {
                "Sid": "NotOtherEnvironmentsByName",
                "Effect": "Deny",
                "Action": "*",
                "Resource": [f"arn:{partition}:*:*:*:*{spec.stack_prefix(other)}-*" for other in others],
            },
            {
                "Sid": "NotOtherEnvironmentsByTag",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": others}},
            },
            {
                "Sid": "NoTagOfOtherEnvironments",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": others}},
            },
        ]
    return [
        *statements,
        {
            "Sid": "OnlyBoundedPrincipals",
            "Effect": "Deny",
            "Action": list(UNBOUNDED_CREATION),
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": own_policies[1]}},
        },
        {
            "Sid": "KeepBoundaries",
            "Effect": "Deny",
            "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
            "Resource": "*",
        },
        {"Sid": "KeepThesePolicies", "Effect": "Deny", "Action": list(POLICY_CHANGES), "Resource": own_policies},
    ]


def bootstrap_commands(spec: CiSpec, environment: str, *, account: str, policy_dir: str = "bootstrap") -> list[str]:
    """The commands an administrator runs, in order, to bootstrap ``environment`` in ``account``
    (``policy_dir``: where ``python -m tools.bootstrap_policy --write`` put the two documents)."""
    targets = " ".join(f"aws://{account}/{region}" for region in spec.bootstrap_regions(environment))
    qualifier = spec.qualifier_of(environment)
    common = f"--qualifier {qualifier} --toolkit-stack-name {spec.toolkit_stack_name(environment)}"
    if not spec.scoped_execution:
        return [f"cdk bootstrap {targets} {common}"]
    execution, boundary = execution_policy_name(spec, environment), boundary_name(spec, environment)
    return [
        f"aws iam create-policy --policy-name {boundary} --policy-document file://{policy_dir}/{boundary}.json",
        f"aws iam create-policy --policy-name {execution} --policy-document file://{policy_dir}/{execution}.json",
        f"cdk bootstrap {targets} {common} "
        f"--cloudformation-execution-policies {policy_arn(execution, account=account)} "
        f"--custom-permissions-boundary {boundary} --apply-permissions-boundary-to-all-roles",
    ]
