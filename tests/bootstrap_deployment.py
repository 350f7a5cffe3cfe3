"""An environment's CDK bootstrap as the generated command deploys it, for the IAM evaluator.

The pinned CLI's own bootstrap template (``node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml``)
is loaded as a stack, its parameters set from the ``cdk bootstrap`` line that
``platform_spec.bootstrap_policy.bootstrap_commands`` writes (each flag to the parameter the CLI
passes it as, read from the CLI's source: ``Qualifier: params.qualifier``,
``CloudFormationExecutionPolicies``, ``InputPermissionsBoundary: policyName``,
``ApplyPermissionsBoundaryToAllRoles``); the generated execution policy and boundary are a stack of
managed policies beside it. ``allows`` evaluates a role's identity policies and, apart, its permissions
boundary: a request is allowed only where both allow ("Permissions boundaries for IAM entities",
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html: the effective
permissions are the intersection), which ``aws_model.iam`` does not model itself.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from aws_model.cloudformation import Deployment
from aws_model.iam import NamedPolicy, Principal, Request, evaluate
from platform_spec.bootstrap_policy import (
    bootstrap_commands,
    boundary_name,
    execution_policy,
    execution_policy_name,
    permissions_boundary,
)
from platform_spec.ci import CiSpec
from tests.platform_synth import ROOT

BOOTSTRAP_TEMPLATE = ROOT / "node_modules" / "aws-cdk" / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
FLAGS = {
    "--qualifier": "Qualifier",
    "--cloudformation-execution-policies": "CloudFormationExecutionPolicies",
    "--custom-permissions-boundary": "InputPermissionsBoundary",
    "--trust": "TrustedAccounts",
}
SWITCHES = {"--apply-permissions-boundary-to-all-roles": "ApplyPermissionsBoundaryToAllRoles"}
IGNORED = {"--toolkit-stack-name"}  # the stack's name, no parameter
ROLES = {
    "deploy": "DeploymentActionRole",
    "cfn-exec": "CloudFormationExecutionRole",
    "file-publishing": "FilePublishingRole",
    "image-publishing": "ImagePublishingRole",
    "lookup": "LookupRole",
}
"""Bootstrap role kind (its name's part) -> its logical id in the bootstrap template."""
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCloudFormationReadOnlyAccess.html (v7)
CLOUDFORMATION_READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudformation:Describe*",
                "cloudformation:BatchDescribe*",
                "cloudformation:EstimateTemplateCost",
                "cloudformation:Get*",
                "cloudformation:List*",
                "cloudformation:ValidateTemplate",
                "cloudformation:Detect*",
            ],
            "Resource": "*",
        }
    ],
}
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html
ADMINISTRATOR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
POLICIES_STACK = "generated-bootstrap-policies"


def bootstrap_parameters(command: str) -> dict[str, str]:
    """The bootstrap template's parameters as the ``cdk bootstrap`` command line sets them."""
    words = shlex.split(command)
    assert words[:2] == ["cdk", "bootstrap"], command
    parameters: dict[str, str] = {}
    rest = [word for word in words[2:] if not word.startswith("aws://")]
    while rest:
        flag = rest.pop(0)
        if flag in SWITCHES:
            parameters[SWITCHES[flag]] = "true"
        elif flag in FLAGS:
            parameters[FLAGS[flag]] = rest.pop(0)
        else:
            assert flag in IGNORED, f"a flag the test does not know: {flag}"
            rest.pop(0)
    return parameters


def bootstrap_template(parameters: Mapping[str, str]) -> dict[str, Any]:
    """The pinned CLI's bootstrap template, deployed with ``parameters``."""
    template: dict[str, Any] = yaml.safe_load(BOOTSTRAP_TEMPLATE.read_text())
    for name, value in parameters.items():
        assert name in template["Parameters"], name
        template["Parameters"][name]["Default"] = value
    return template


def policies_template(spec: CiSpec, environments: Sequence[str], account: str) -> dict[str, Any]:
    """The managed policies ``aws iam create-policy`` makes from the generated documents."""
    resources: dict[str, Any] = {}
    for environment in environments if spec.scoped_execution else ():
        for name, document in (
            (execution_policy_name(spec, environment), execution_policy(spec, environment, account=account)),
            (boundary_name(spec, environment), permissions_boundary(spec, environment, account=account)),
        ):
            resources[name.replace("-", "")] = {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"ManagedPolicyName": name, "PolicyDocument": document},
            }
    return {"Resources": resources or {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}


def bootstrapped(
    spec: CiSpec,
    *,
    account: str,
    region: str,
    environments: Sequence[str],
    others: Mapping[str, Mapping[str, Any]],
    other_regions: Mapping[str, str] | None = None,
) -> Deployment:
    """``others`` (the CI stack, the platform's stacks) beside each environment's bootstrap, as the
    generated commands make it in ``account``; a bootstrap stack per region it is made in."""
    templates: dict[str, Mapping[str, Any]] = dict(others)
    regions = dict(other_regions or {})
    for environment in environments:
        *_, command = bootstrap_commands(spec, environment, account=account)
        for target in (word for word in command.split() if word.startswith("aws://")):
            target_region = target.rsplit("/", 1)[1]
            name = toolkit_stack(spec, environment, target_region)
            templates[name] = bootstrap_template(bootstrap_parameters(command))
            if target_region != region:
                regions[name] = target_region
    templates[POLICIES_STACK] = policies_template(spec, environments, account)
    return Deployment(
        templates,
        account=account,
        region=region,
        stack_regions=regions,
        aws_managed_policies={
            "arn:aws:iam::aws:policy/AWSCloudFormationReadOnlyAccess": CLOUDFORMATION_READ_ONLY,
            "arn:aws:iam::aws:policy/AdministratorAccess": ADMINISTRATOR,
        },
    )


def toolkit_stack(spec: CiSpec, environment: str, region: str) -> str:
    return f"{spec.toolkit_stack_name(environment)}@{region}"


def boundary_of(deployment: Deployment, stack: str, role: str) -> NamedPolicy | None:
    """The role's permissions boundary, resolved, from the stacks of the deployment."""
    arn = deployment.resolve(stack, deployment.resource(stack, role).get("Properties", {}).get("PermissionsBoundary"))
    if arn is None:
        return None
    for logical_id in deployment.resources(POLICIES_STACK, "AWS::IAM::ManagedPolicy"):
        if deployment.ref(POLICIES_STACK, logical_id) == arn:
            document = deployment.resource(POLICIES_STACK, logical_id)["Properties"]["PolicyDocument"]
            return NamedPolicy(name=f"boundary {arn}", document=document)
    raise AssertionError(f"{stack}/{role} is bounded by {arn}, which the generated policies do not hold")


def allows(
    deployment: Deployment,
    stack: str,
    role: str,
    action: str,
    resource: str,
    context: Mapping[str, str | bool | Sequence[str]] | None = None,
) -> bool:
    """Whether the role ``stack``/``role`` may make the call: its policies allow it and its boundary too."""
    request = Request(
        principal=Principal(kind="AWS", value=deployment.role_arn(stack, role)),
        action=action,
        resource=resource,
        context=dict(context or {}),
    )
    account = deployment.account
    if not evaluate(
        request, account=account, identity_policies=deployment.identity_policies(stack, role), resource_policy=None
    ).allowed:
        return False
    boundary = boundary_of(deployment, stack, role)
    return (
        boundary is None
        or evaluate(request, account=account, identity_policies=[boundary], resource_policy=None).allowed
    )
