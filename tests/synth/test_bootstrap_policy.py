"""The generated bootstrap (``platform_spec.bootstrap_policy``) with the CI roles, evaluated.

Each environment is bootstrapped as ``python -m tools.bootstrap_policy`` says: the pinned CLI's
bootstrap template with the command's parameters, and the generated execution policy and boundary
(``tests/bootstrap_deployment.py``). The CI stack, the dev platform and every environment's bootstrap
are one deployment, and ``aws_model.iam`` decides each call, identity policies and
boundary both. Both set-ups: one shared account (the shipped spec) and separate accounts.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Template

from aws_model.cloudformation import Deployment
from layers.ci.github_deploy_roles import DEPLOY_ROLE_KINDS
from platform_spec.bootstrap_policy import SERVICE_PREFIXES, bootstrap_commands, boundary_name, policy_arn
from platform_spec.ci import CiSpec, ci
from platform_spec.ci_setup import SEPARATE_ACCOUNTS
from platform_spec.names import stack_name
from stacks.ci_stack import build_ci
from tests.bootstrap_deployment import BOOTSTRAP_TEMPLATE, ROLES, allows, bootstrapped, toolkit_stack
from tests.original import original_platform_only
from tests.platform_synth import ROOT, Synthesized, new_app
from tests.templates import templates_of

CI = ci()
ACCOUNT = "111122223333"
STACK_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _ci_template(tmp_path: Path, spec: CiSpec) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: dict(Template.from_stack(stack).to_json()) for stack in build_ci(new_app(tmp_path), spec)}


def _stack_arn(spec: CiSpec, environment: str, layer: str, account: str = ACCOUNT) -> str:
    name = stack_name(spec.stack_prefix(environment), layer)
    return f"arn:aws:cloudformation:{spec.region_of(environment)}:{account}:stack/{name}/{STACK_ID}"


def _bootstrap_arn(spec: CiSpec, environment: str, kind: str, account: str = ACCOUNT) -> str:
    region = spec.region_of(environment)
    return f"arn:aws:iam::{account}:role/cdk-{spec.qualifier_of(environment)}-{kind}-role-{account}-{region}"


@pytest.fixture(scope="module")
def shared(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The shipped spec: one account; the CI stack, dev's platform and every environment's bootstrap."""
    assert CI.setup == "shared-account"
    others = {**_ci_template(tmp_path_factory.mktemp("ci"), CI), **templates_of(dev)}
    return bootstrapped(CI, account=ACCOUNT, region=CI.region_of("dev"), environments=CI.environments, others=others)


def _ci_role(deployment: Deployment, role_name: str, stack: str = CI.stack_name) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, body in deployment.resources(stack, "AWS::IAM::Role").items()
        if body["Properties"]["RoleName"] == role_name
    ]
    return logical_id


def _reachable(deployment: Deployment, spec: CiSpec, stack: str, role_name: str) -> set[str]:
    """The bootstrap roles (``<env>/<kind>``) of every environment that the CI role may assume."""
    role = _ci_role(deployment, role_name, stack)
    return {
        f"{environment}/{kind}"
        for environment in spec.environments
        for kind in ROLES
        if allows(deployment, stack, role, "sts:AssumeRole", _bootstrap_arn(spec, environment, kind))
    }


# --- What the generated command gives the bootstrap template ------------------------------------


@pytest.mark.parametrize("environment", CI.environments)
def test_the_command_passes_what_the_pinned_bootstrap_template_takes(environment: str) -> None:
    template = yaml.safe_load(BOOTSTRAP_TEMPLATE.read_text())
    qualifier = template["Parameters"]["Qualifier"]
    assert re.fullmatch(qualifier["AllowedPattern"], CI.qualifier_of(environment))
    *create, command = bootstrap_commands(CI, environment, account=ACCOUNT)
    assert [line.split()[:3] for line in create] == [["aws", "iam", "create-policy"]] * 2
    assert f"--qualifier {CI.qualifier_of(environment)} " in command
    assert f"--custom-permissions-boundary {boundary_name(CI, environment)} " in command
    assert command.endswith("--apply-permissions-boundary-to-all-roles")
    assert "AdministratorAccess" not in command


# --- The execution policy covers what the platform's templates hold -----------------------------


def test_every_resource_type_is_a_service_the_execution_policy_allows(profile: Synthesized) -> None:
    types = {body["Type"] for template in templates_of(profile).values() for body in template["Resources"].values()}
    namespaces = {kind.split("::")[1] for kind in types if kind.startswith("AWS::")}
    # IAM is granted by name; CloudFormation's own CDKMetadata needs nothing.
    assert namespaces - {"IAM", "CDK", "CloudFormation"} <= set(SERVICE_PREFIXES), namespaces - set(SERVICE_PREFIXES)


def test_every_platform_role_is_bounded_and_the_execution_role_may_make_it(
    shared: Deployment, dev: Synthesized
) -> None:
    exec_stack, exec_role = toolkit_stack(CI, "dev", CI.region_of("dev")), ROLES["cfn-exec"]
    boundary = policy_arn(boundary_name(CI, "dev"), account=ACCOUNT)
    roles = [
        (name, logical_id) for name in templates_of(dev) for logical_id in shared.resources(name, "AWS::IAM::Role")
    ]
    assert roles
    for stack, logical_id in roles:
        properties = shared.resolve(stack, shared.resource(stack, logical_id)["Properties"])
        assert properties.get("PermissionsBoundary") == boundary, (stack, logical_id)
        arn = shared.role_arn(stack, logical_id)
        assert arn.split("/")[-1].startswith(f"{CI.stack_prefix('dev')}-"), arn
        made = {"iam:PermissionsBoundary": boundary}
        assert allows(shared, exec_stack, exec_role, "iam:CreateRole", arn, made), arn
        for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole", "iam:DeleteRole"):
            assert allows(shared, exec_stack, exec_role, action, arn), (action, arn)
        # Without the boundary, or with another environment's, no role is made.
        assert not allows(shared, exec_stack, exec_role, "iam:CreateRole", arn), arn
        other = {"iam:PermissionsBoundary": policy_arn(boundary_name(CI, "prod"), account=ACCOUNT)}
        assert not allows(shared, exec_stack, exec_role, "iam:CreateRole", arn, other), arn


# --- Shared account: the dev identity stays in dev ----------------------------------------------


def test_each_deploy_identity_reaches_only_its_own_bootstrap(shared: Deployment) -> None:
    for environment in CI.environments:
        reached = _reachable(shared, CI, CI.stack_name, CI.deploy_role_name(environment))
        assert reached == {f"{environment}/{kind}" for kind in DEPLOY_ROLE_KINDS}
    # The pull-request role reaches no bootstrap role at all (the lookup role's ReadOnlyAccess included).
    assert _reachable(shared, CI, CI.stack_name, CI.diff_role_name) == set()


def test_the_dev_deploy_identity_cannot_create_or_update_a_prod_stack(shared: Deployment) -> None:
    stack = toolkit_stack(CI, "dev", CI.region_of("dev"))
    layers = ("network", "data", "compute", "observability", "delivery")
    changes = ("CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet")
    # Every role the dev identity reaches, and the execution role it may pass.
    for kind in (*DEPLOY_ROLE_KINDS, "cfn-exec"):
        for layer in layers:
            for action in changes:
                prod = _stack_arn(CI, "prod", layer)
                assert not allows(shared, stack, ROLES[kind], f"cloudformation:{action}", prod), (kind, action, prod)
    # Nor the stacks named after no environment: the CI roles' own, the bootstraps.
    region = CI.region_of("dev")
    for name in (CI.stack_name, CI.toolkit_stack_name("prod"), CI.toolkit_stack_name("dev")):
        arn = f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/{STACK_ID}"
        for kind in (*DEPLOY_ROLE_KINDS, "cfn-exec"):
            for action in changes:
                assert not allows(shared, stack, ROLES[kind], f"cloudformation:{action}", arn), (kind, action, arn)
    # What it must still do: deploy dev, handing CloudFormation dev's execution role.
    deploy = ROLES["deploy"]
    for action in ("CreateChangeSet", "ExecuteChangeSet", "DescribeStacks", "GetTemplate"):
        assert allows(shared, stack, deploy, f"cloudformation:{action}", _stack_arn(CI, "dev", "compute")), action
    assert allows(shared, stack, deploy, "iam:PassRole", _bootstrap_arn(CI, "dev", "cfn-exec"))
    # Never another execution role: prod's, or a plain bootstrap's (AdministratorAccess).
    assert not allows(shared, stack, deploy, "iam:PassRole", _bootstrap_arn(CI, "prod", "cfn-exec"))
    admin = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{CI.region_of('dev')}"
    assert not allows(shared, stack, deploy, "iam:PassRole", admin)


def test_the_dev_execution_role_cannot_touch_prod_or_loosen_its_bounds(shared: Deployment) -> None:
    stack, role = toolkit_stack(CI, "dev", CI.region_of("dev")), ROLES["cfn-exec"]
    prod, dev = CI.stack_prefix("prod"), CI.stack_prefix("dev")
    instance = f"arn:aws:ec2:{CI.region_of('dev')}:{ACCOUNT}:instance/i-0123456789abcdef0"
    # Its own environment: by name and by tag.
    assert allows(shared, stack, role, "s3:CreateBucket", f"arn:aws:s3:::{dev}-data-logs-1a2b3c")
    assert allows(shared, stack, role, "ec2:TerminateInstances", instance, {"aws:ResourceTag/environment": "dev"})
    # Another's: by name, by tag on the resource, by tag on the request.
    assert not allows(shared, stack, role, "s3:DeleteBucket", f"arn:aws:s3:::{prod}-data-logs-1a2b3c")
    assert not allows(shared, stack, role, "s3:GetObject", f"arn:aws:s3:::{prod}-data-logs-1a2b3c/AWSLogs/x.gz")
    assert not allows(shared, stack, role, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{prod}-compute-Task")
    assert not allows(shared, stack, role, "ec2:TerminateInstances", instance, {"aws:ResourceTag/environment": "prod"})
    assert not allows(shared, stack, role, "ec2:RunInstances", instance, {"aws:RequestTag/environment": "prod"})
    # Its bounds: the boundary stays on every role, and neither generated policy changes.
    assert not allows(shared, stack, role, "iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/{dev}-x")
    for name in (boundary_name(CI, "dev"), f"{dev}-cdk-execution"):
        assert not allows(shared, stack, role, "iam:CreatePolicyVersion", policy_arn(name, account=ACCOUNT)), name
    assert not allows(shared, stack, role, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/{dev}-x")


# --- Separate accounts ---------------------------------------------------------------------------

ACCOUNTS = (("dev", "444455556666"), ("prod", "777788889999"))


@pytest.mark.parametrize("scoped", [True, False], ids=["generated policy", "plain bootstrap"])
def test_with_separate_accounts_each_account_holds_one_environments_roles(tmp_path: Path, scoped: bool) -> None:
    spec = replace(CI, setup=SEPARATE_ACCOUNTS, accounts=ACCOUNTS, qualifiers=(), scoped_execution=scoped)
    templates = _ci_template(tmp_path, spec)
    assert set(templates) == {f"{spec.stack_name}-{environment}" for environment in spec.environments}
    for environment, account in ACCOUNTS:
        stack = f"{spec.stack_name}-{environment}"
        deployment = bootstrapped(
            spec,
            account=account,
            region=spec.region_of(environment),
            environments=(environment,),
            others={stack: templates[stack]},
        )
        names = {body["Properties"]["RoleName"] for body in deployment.resources(stack, "AWS::IAM::Role").values()}
        apps = {spec.app_release_role_name(environment)} if spec.application_repositories else set()
        assert names == {
            spec.diff_role_name,
            spec.deploy_role_name(environment),
            spec.release_role_name(environment),
            *apps,
        }
        deploy = _ci_role(deployment, spec.deploy_role_name(environment), stack)
        for kind in DEPLOY_ROLE_KINDS:
            assert allows(deployment, stack, deploy, "sts:AssumeRole", _bootstrap_arn(spec, environment, kind, account))
        for other, other_account in ACCOUNTS:
            if other != environment:
                for kind in ROLES:
                    role = _bootstrap_arn(spec, other, kind, other_account)
                    assert not allows(deployment, stack, deploy, "sts:AssumeRole", role), role
        toolkit = toolkit_stack(spec, environment, spec.region_of(environment))
        managed = deployment.resolve(toolkit, deployment.resource(toolkit, ROLES["cfn-exec"])["Properties"])
        admin = "arn:aws:iam::aws:policy/AdministratorAccess"
        # A plain bootstrap's execution role is the account's administrator: of this environment's account only.
        assert (admin in managed["ManagedPolicyArns"]) == (not scoped)
        assert allows(deployment, toolkit, ROLES["cfn-exec"], "iam:CreateUser", f"arn:aws:iam::{account}:user/x") == (
            not scoped
        )


@original_platform_only
def test_the_operations_guide_shows_the_generated_commands_verbatim() -> None:
    """docs/operations.md ("First deploy into an empty account", "CI roles") runs what the tool prints."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    for environment in CI.environments:
        for command in bootstrap_commands(CI, environment, account="$ACCOUNT"):
            assert command in guide, command
        assert f'python -m tools.bootstrap_policy --env {environment} --account "$ACCOUNT" --write bootstrap' in guide
    plain = replace(CI, setup=SEPARATE_ACCOUNTS, accounts=ACCOUNTS, qualifiers=(), scoped_execution=False)
    (command,) = bootstrap_commands(plain, "dev", account="$DEV_ACCOUNT")
    assert command in guide
