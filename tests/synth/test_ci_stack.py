"""The CI roles' stack: who may assume each role (trust) and what each may then do (policies).

The app is synthesized as ``cdk deploy -c ci=true davidshaevel-ci`` synthesizes it (``app.build``,
compliance checks included), with the dev profile beside it, so the release and deploy roles
can be checked against what the platform's templates really name. Policies are evaluated with
``aws_model.iam`` after ``aws_model.cloudformation`` resolved them for one
account.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_file

from aws_model.cloudformation import Deployment
from aws_model.iam import Principal, Request, evaluate
from aws_model.ledger import assembly_regions
from layers.ci.github_deploy_roles import (
    DEPLOY_ROLE_KINDS,
    ECR_PUSH_PULL_ACTIONS,
)
from platform_spec.ci import CiSpec, ci, ci_from_context
from platform_spec.errors import SpecError
from platform_spec.names import COMPUTE, DATA, DELIVERY, release_state_machine_name, stack_name
from platform_spec.profiles import PROFILES
from stacks import cdk_app as platform_app
from stacks.ci_stack import build_ci
from tests.platform_synth import PROFILE_NAMES, assert_each_refused_in_one_line, new_app, profile_context, profile_spec

CI = ci()
CI_STACK = CI.stack_name
ACCOUNT = "111122223333"
HOST = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"


@dataclass(frozen=True)
class CiApp:
    outdir: Path
    deployment: Deployment

    def template(self, stack: str = CI_STACK) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.outdir / f"{stack}.template.json").read_text())
        return data

    def roles(self) -> dict[str, str]:
        """Role name -> logical id, in the CI stack."""
        return {
            body["Properties"]["RoleName"]: logical_id
            for logical_id, body in self.template()["Resources"].items()
            if body["Type"] == "AWS::IAM::Role"
        }

    def role_arn(self, name: str) -> str:
        return self.deployment.role_arn(CI_STACK, self.roles()[name])

    def statements(self, name: str) -> list[dict[str, list[str]]]:
        """Every statement of the role's identity policies, resolved, Action and Resource as lists."""
        out = []
        for policy in self.deployment.identity_policies(CI_STACK, self.roles()[name]):
            for statement in policy.document["Statement"]:
                assert set(statement) == {"Effect", "Action", "Resource"}, statement
                assert statement["Effect"] == "Allow"
                out.append({key: _listed(statement[key]) for key in ("Action", "Resource")})
        return out

    def allows(self, name: str, action: str, resource: str) -> bool:
        role = self.roles()[name]
        decision = evaluate(
            Request(principal=Principal(kind="AWS", value=self.role_arn(name)), action=action, resource=resource),
            account=ACCOUNT,
            identity_policies=self.deployment.identity_policies(CI_STACK, role),
            resource_policy=None,
        )
        return decision.allowed

    def platform_resources(self, layer: str, resource_type: str) -> dict[str, Any]:
        stack = stack_name(CI.stack_prefix("dev"), layer)
        resources: dict[str, Any] = self.deployment.resources(stack, resource_type)
        return resources


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> CiApp:
    outdir = tmp_path_factory.mktemp("cdk-ci")
    app = new_app(outdir, {"env": "dev", "ci": "true"})
    platform_app.build(app)
    app.synth()
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    regions = assembly_regions(outdir)
    home = regions[CI.stack_name]
    stack_regions = {name: region for name, region in regions.items() if region != home and name in templates}
    return CiApp(
        outdir=outdir, deployment=Deployment(templates, account=ACCOUNT, region=home, stack_regions=stack_regions)
    )


def _bootstrap_role(kind: str, region: str, environment: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/cdk-{CI.qualifier_of(environment)}-{kind}-role-{ACCOUNT}-{region}"


def _bootstrap_roles(kind: str, environment: str) -> list[str]:
    """The bootstrap role of ``kind`` in each region ``environment``'s stacks are deployed to."""
    return [_bootstrap_role(kind, region, environment) for region in CI.bootstrap_regions(environment)]


def _stack_arn(name: str, region: str) -> str:
    return f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _layer_arn(environment: str, layer: str) -> str:
    return _stack_arn(stack_name(CI.stack_prefix(environment), layer), CI.region_of(environment))


def _workflow(file: str, ref: str = "refs/heads/main") -> str:
    """The ``job_workflow_ref`` part of a customised subject (GitHub's "OpenID Connect reference")."""
    return f":job_workflow_ref:{CI.repository}/.github/workflows/{file}@{ref}" if CI.workflow_subjects else ""


EXPECTED_SUBJECTS: dict[str, str | list[str]] = {
    CI.diff_role_name: f"repo:{CI.repository}:pull_request" + _workflow("pull-request.yml", "refs/pull/*/merge"),
    **{
        CI.deploy_role_name(env): f"repo:{CI.repository}:environment:{env}" + _workflow("deploy.yml")
        for env in CI.environments
    },
    **{
        CI.release_role_name(env): f"repo:{CI.repository}:environment:release-{env}" + _workflow("release.yml")
        for env in CI.environments
    },
    **{
        CI.app_release_role_name(env): [f"repo:{app}:environment:release-{env}" for app in CI.application_repositories]
        for env in CI.environments
        if CI.application_repositories
    },
}


# --- What the app builds -----------------------------------------------------------------------


def test_the_ci_context_adds_the_ci_stack_beside_the_profile(synthesized: CiApp) -> None:
    stacks = {path.name.removesuffix(".template.json") for path in synthesized.outdir.glob("*.template.json")}
    dev = profile_spec("dev")
    assert stacks == {CI_STACK, *(dev.stack_name(layer) for layer in dev.layers)}


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_a_profile_without_the_ci_context_has_no_ci_stack(tmp_path: Path, profile: str) -> None:
    """What ``cdk synth`` and ``cdk deploy --all -c env=...`` see: the stacks ``app.build`` adds."""
    app = new_app(tmp_path, profile_context(profile))
    platform_app.build(app)
    stacks = {child.stack_name for child in app.node.children if isinstance(child, Stack)}
    spec = profile_spec(profile)
    assert stacks == {spec.stack_name(layer) for layer in spec.layers}


def test_the_ci_app_passes_the_compliance_checks_acknowledging_only_on_the_roles(synthesized: CiApp) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
    ours = [
        (finding["ruleName"], construct["constructPath"], finding["reason"])
        for plugin in report["pluginReports"]
        for finding in plugin.get("suppressedViolations", [])
        for construct in finding["violatingConstructs"]
        if construct["constructPath"].startswith(f"{CI_STACK}/")
    ]
    assert ours
    for rule, path, reason in ours:
        assert re.fullmatch(rf"{CI_STACK}/GitHubRoles/[\w-]+/DefaultPolicy/Resource", path), path
        assert rule.startswith("AwsSolutions-IAM5[Resource::") or rule == "NIST.800.53.R5-IAMNoInlinePolicy", rule
        assert len(reason.split()) >= 8, rule
    # The diff role's acknowledged wildcards are the stack ids of the platform's stacks, each named.
    diff = {rule for rule, path, _ in ours if "/DiffRole/" in path and rule.startswith("AwsSolutions-IAM5")}
    assert diff == {
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:{region}:<AWS::AccountId>:stack/{name}/*]"
        for env in CI.environments
        for name, region in CI.platform_stacks(env)
    }


def test_the_template_passes_cfn_lint(synthesized: CiApp) -> None:
    findings = lint_file(synthesized.outdir / f"{CI_STACK}.template.json", config=ManualArgs(regions=[CI.home_region]))
    assert [f"{m.rule.id} {m.message} ({m.path_string})" for m in findings] == []


def test_the_template_names_no_account_and_tags_no_environment(synthesized: CiApp) -> None:
    template = synthesized.template()
    assert re.search(r"\d{12}", json.dumps(template)) is None, "the roles are written with ${AWS::AccountId}"
    for body in template["Resources"].values():
        keys = {tag["Key"] for tag in body["Properties"].get("Tags", [])}
        assert "environment" not in keys, "the CI stack serves every environment"


# --- Trust ---------------------------------------------------------------------------------------


def test_one_provider_for_github_with_the_sts_audience(synthesized: CiApp) -> None:
    resources = synthesized.template()["Resources"]
    providers = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::OIDCProvider"}
    assert len(providers) == 1
    ((logical_id, provider),) = providers.items()
    assert provider["Properties"]["Url"] == f"https://{HOST}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    for name, role in synthesized.roles().items():
        (statement,) = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Federated": {"Ref": logical_id}}, name


def test_an_existing_provider_is_named_and_none_is_created(tmp_path: Path) -> None:
    spec = replace(CI, oidc_provider_arn=PROVIDER_ARN)
    (stack,) = build_ci(new_app(tmp_path), spec)
    template = Template.from_stack(stack).to_json()
    resources = template["Resources"].values()
    assert not [r for r in resources if r["Type"] == "AWS::IAM::OIDCProvider"]
    roles = [r for r in resources if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 1 + (2 + bool(spec.application_repositories)) * len(spec.environments)
    for role in roles:
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Federated": PROVIDER_ARN}


def test_each_role_trusts_exactly_the_audience_and_one_subject(synthesized: CiApp) -> None:
    resources = synthesized.template()["Resources"]
    roles = synthesized.roles()
    assert set(roles) == set(EXPECTED_SUBJECTS)
    for name, subject in EXPECTED_SUBJECTS.items():
        (statement,) = resources[roles[name]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        if name == CI.diff_role_name and CI.workflow_subjects:
            # The one pattern: a pull request's number in its ref, the only '*' of the subject.
            assert statement["Condition"] == {
                "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{HOST}:sub": subject},
            }, name
            assert isinstance(subject, str)
            assert subject.count("*") == 1
            assert "?" not in subject
            assert subject.endswith("/.github/workflows/pull-request.yml@refs/pull/*/merge")
            continue
        # StringEquals only, on literals: no StringLike, no wildcard to widen the subject.
        assert statement["Condition"] == {
            "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": subject}
        }, name
        assert not set("*?") & set("".join(subject))


def test_roles_have_fixed_names_short_sessions_and_no_managed_policies(synthesized: CiApp) -> None:
    resources = synthesized.template()["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    release_roles = {CI.release_role_name(env) for env in CI.environments} | {
        CI.app_release_role_name(env) for env in CI.environments
    }
    for name, logical_id in synthesized.roles().items():
        props = resources[logical_id]["Properties"]
        # A release outlasts an hour (images built, then up to the longest release timeout).
        expected = 3600 * CI.release_session_hours if name in release_roles else 3600
        assert props["MaxSessionDuration"] == expected, name
        assert "ManagedPolicyArns" not in props, name
        assert "Policies" not in props, name
    # What the app-wide IAMNoInlinePolicy acknowledgment claims: each policy is one role's own.
    for logical_id, body in resources.items():
        if body["Type"] == "AWS::IAM::Policy":
            assert set(body["Properties"]) == {"PolicyDocument", "PolicyName", "Roles"}, logical_id
            (reference,) = body["Properties"]["Roles"]
            assert resources[reference["Ref"]]["Type"] == "AWS::IAM::Role", logical_id


# --- What each role may do ---------------------------------------------------------------------


def _platform_stack_arns(environment: str) -> list[str]:
    """What the diff role may read: each of the environment's platform stacks, by name, any stack id."""
    return [
        f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/*" for name, region in CI.platform_stacks(environment)
    ]


def test_the_diff_role_reads_only_the_platform_stacks_templates(synthesized: CiApp) -> None:
    (statement,) = synthesized.statements(CI.diff_role_name)
    assert sorted(statement["Action"]) == ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"]
    assert sorted(statement["Resource"]) == sorted(arn for env in CI.environments for arn in _platform_stack_arns(env))
    dev = profile_spec("dev")
    assert {arn.split("/")[1] for arn in _platform_stack_arns("dev")} == {dev.stack_name(layer) for layer in dev.layers}


def test_the_evaluator_finds_the_diff_role_cannot_change_or_deploy_anything(synthesized: CiApp) -> None:
    diff = CI.diff_role_name
    for env in CI.environments:
        compute = _layer_arn(env, COMPUTE)
        # What cdk diff --method template needs.
        assert synthesized.allows(diff, "cloudformation:GetTemplate", compute)
        assert synthesized.allows(diff, "cloudformation:DescribeStacks", _layer_arn(env, DATA))
        # Nothing that changes a stack, and no way into a role that could, nor into the lookup role
        # (ReadOnlyAccess: every bucket's objects, the access logs among them).
        for action in ("cloudformation:UpdateStack", "cloudformation:CreateChangeSet", "cloudformation:DeleteStack"):
            assert not synthesized.allows(diff, action, compute), action
        for kind in ("deploy", "file-publishing", "image-publishing", "lookup", "cfn-exec"):
            for role in _bootstrap_roles(kind, env):
                assert not synthesized.allows(diff, "sts:AssumeRole", role), kind
        assert not synthesized.allows(diff, "sts:AssumeRole", synthesized.role_arn(CI.deploy_role_name(env)))
        assert not synthesized.allows(diff, "sts:AssumeRole", synthesized.role_arn(CI.release_role_name(env)))
        # The stacks' events and resources, and anything else, are not the diff's to read.
        assert not synthesized.allows(diff, "cloudformation:ListStackResources", compute)
        assert not synthesized.allows(
            diff, "cloudformation:GetTemplate", _stack_arn(CI.toolkit_stack_name(env), CI.region_of(env))
        )
    logs = synthesized.platform_resources(DATA, "AWS::S3::Bucket")
    for logical_id in logs:
        bucket = synthesized.deployment.ref(stack_name(CI.stack_prefix("dev"), DATA), logical_id)
        assert not synthesized.allows(diff, "s3:GetObject", f"arn:aws:s3:::{bucket}/AWSLogs/x.log.gz")
    assert not synthesized.allows(diff, "cloudformation:DescribeStacks", _stack_arn(CI_STACK, CI.home_region))


def test_each_deploy_role_may_assume_only_its_environments_bootstrap_roles(synthesized: CiApp) -> None:
    for env in CI.environments:
        bootstrap = [role for kind in DEPLOY_ROLE_KINDS for role in _bootstrap_roles(kind, env)]
        name = CI.deploy_role_name(env)
        (statement,) = synthesized.statements(name)
        assert statement["Action"] == ["sts:AssumeRole"]
        assert sorted(statement["Resource"]) == sorted(bootstrap)
        for kind in ("cfn-exec", "lookup"):
            for role in _bootstrap_roles(kind, env):
                assert not synthesized.allows(name, "sts:AssumeRole", role), kind
        assert not synthesized.allows(name, "cloudformation:UpdateStack", _layer_arn(env, COMPUTE))
        for other in CI.environments:
            if other == env:
                continue
            # Another environment's bootstrap (its own qualifier, or its own account) is out of reach.
            for kind in DEPLOY_ROLE_KINDS:
                for role in _bootstrap_roles(kind, other):
                    assert not synthesized.allows(name, "sts:AssumeRole", role), (env, other, kind)
        # Nor a plain bootstrap's roles (CDK's default qualifier, AdministratorAccess to deploy with).
        for kind in (*DEPLOY_ROLE_KINDS, "cfn-exec"):
            plain = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-{kind}-role-{ACCOUNT}-{CI.region_of(env)}"
            assert synthesized.allows(name, "sts:AssumeRole", plain) == (
                CI.qualifier_of(env) == "hnb659fds" and kind != "cfn-exec"
            ), kind


def test_the_bootstrap_roles_granted_are_the_ones_the_platforms_deploy_uses(synthesized: CiApp) -> None:
    """Every role the synthesized assembly tells the CLI to assume to deploy dev's stacks (stacks and
    asset manifests), in every region they are in: what dev's deploy role may assume. The lookup role
    the manifest also names serves lookups (none) and reads templates, which the deploy role does itself."""
    dev = profile_spec("dev")
    stacks = {dev.stack_name(layer) for layer in dev.layers}
    used: set[str] = set()
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        properties = artifact.get("properties", {})
        if name in stacks:
            used.update(filter(None, [properties.get("assumeRoleArn")]))
    for stack in stacks:
        document = json.loads((synthesized.outdir / f"{stack}.assets.json").read_text())
        for kind in ("files", "dockerImages"):
            for asset in document.get(kind, {}).values():
                used.update(d["assumeRoleArn"] for d in asset["destinations"].values() if "assumeRoleArn" in d)
    resolved = {arn.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", ACCOUNT) for arn in used}
    assert not any("${" in arn for arn in resolved), resolved
    granted = {role for kind in DEPLOY_ROLE_KINDS for role in _bootstrap_roles(kind, "dev")}
    assert resolved <= granted
    for region in CI.bootstrap_regions("dev"):
        assert _bootstrap_role("deploy", region, "dev") in resolved, region
    assert _bootstrap_role("file-publishing", dev.region, "dev") in resolved


def _release_roles(environment: str) -> list[str]:
    """The roles that release into ``environment``: this repository's, and the application repositories'."""
    return [CI.release_role_name(environment)] + (
        [CI.app_release_role_name(environment)] if CI.application_repositories else []
    )


def test_the_release_roles_reach_only_their_own_environment(synthesized: CiApp) -> None:
    for env, role in ((environment, role) for environment in CI.environments for role in _release_roles(environment)):
        statements = synthesized.statements(role)
        assert {action for s in statements for action in s["Action"]} == {
            "states:StartExecution",
            "states:DescribeExecution",
            "cloudformation:DescribeStacks",
            "ecr:GetAuthorizationToken",
            *ECR_PUSH_PULL_ACTIONS,
        }
        # A stack, state machine, execution or repository name starts with the environment's prefix.
        own = re.compile(rf"[:/]{re.escape(CI.stack_prefix(env))}[-/:]")
        for statement in statements:
            if statement["Resource"] == ["*"]:
                assert statement["Action"] == ["ecr:GetAuthorizationToken"], "the one action without resources"
                continue
            for resource in statement["Resource"]:
                assert own.search(resource), resource
                assert not any(CI.stack_prefix(other) in resource for other in CI.environments if other != env)
        region = CI.region_of(env)
        machine = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{release_state_machine_name(CI.stack_prefix(env))}"
        assert synthesized.allows(role, "states:StartExecution", machine)
        assert synthesized.allows(
            role, "states:DescribeExecution", f"{machine.replace('stateMachine', 'execution')}:e1"
        )
        assert not synthesized.allows(role, "cloudformation:UpdateStack", _layer_arn(env, COMPUTE))
        assert not synthesized.allows(role, "ecr:DeleteRepository", f"arn:aws:ecr:{region}:{ACCOUNT}:repository/x")


def test_the_release_roles_match_what_the_platform_names(synthesized: CiApp) -> None:
    """The dev platform synthesized beside the CI stack: its state machine, repositories and stacks."""
    d = synthesized.deployment
    (machine,) = synthesized.platform_resources(DELIVERY, "AWS::StepFunctions::StateMachine")
    machine_arn = d.ref(stack_name(CI.stack_prefix("dev"), DELIVERY), machine)
    assert machine_arn.endswith(f":stateMachine:{release_state_machine_name(CI.stack_prefix('dev'))}")
    repositories = [
        d.get_att(stack_name(CI.stack_prefix("dev"), DATA), logical_id, "Arn")
        for logical_id in synthesized.platform_resources(DATA, "AWS::ECR::Repository")
    ]
    assert repositories
    stacks = [
        d.resolve(stack_name(CI.stack_prefix("dev"), layer), {"Ref": "AWS::StackId"}) for layer in (DELIVERY, COMPUTE)
    ]
    dev, prod = CI.release_role_name("dev"), CI.release_role_name("prod")
    assert synthesized.allows(dev, "states:StartExecution", machine_arn)
    assert not synthesized.allows(prod, "states:StartExecution", machine_arn)
    for repository in repositories:
        for action in ECR_PUSH_PULL_ACTIONS:
            assert synthesized.allows(dev, action, repository), (action, repository)
        assert not synthesized.allows(prod, "ecr:PutImage", repository)
    for stack in stacks:
        assert synthesized.allows(dev, "cloudformation:DescribeStacks", stack)
        assert not synthesized.allows(prod, "cloudformation:DescribeStacks", stack)
    data = d.resolve(stack_name(CI.stack_prefix("dev"), DATA), {"Ref": "AWS::StackId"})
    assert not synthesized.allows(dev, "cloudformation:DescribeStacks", data)


# --- The spec and the context ------------------------------------------------------------------

_REPO = "octo-platform"
# case -> (the fields changed, the field and the value the message must name)
BAD_SPECS: dict[str, tuple[dict[str, Any], str, object]] = {
    "no owner": ({"repository": _REPO}, "repository", _REPO),
    "space": ({"repository": "octo-org/octo platform"}, "repository", "octo-org/octo platform"),
    "leading hyphen": ({"repository": f"-octo-org/{_REPO}"}, "repository", f"-octo-org/{_REPO}"),
    "wildcard": ({"repository": "octo-org/*"}, "repository", "octo-org/*"),
    "dot-dot": ({"repository": "octo-org/.."}, "repository", "octo-org/.."),
    "an application repository that is not one": (
        {"application_repositories": ("octo-org/web app",)},
        "application_repositories",
        "octo-org/web app",
    ),
    "this repository as an application repository": (
        {"repository": f"octo-org/{_REPO}", "application_repositories": (f"octo-org/{_REPO}",)},
        "application_repositories",
        f"octo-org/{_REPO}",
    ),
    "unknown environment": ({"environments": ("dev", "staging")}, "environments", "staging"),
    "no environment": ({"environments": ()}, "environments", ()),
    "twice": ({"environments": ("dev", "dev")}, "environments", ("dev", "dev")),
    "provider of another issuer": (
        {"oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com"},
        "oidc_provider_arn",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com",
    ),
    "setup": ({"setup": "one-account"}, "setup", "one-account"),
    "qualifier too long": (
        {"qualifiers": (("dev", "much-too-long"), ("prod", "prod"))},
        "qualifiers",
        "much-too-long",
    ),
    "qualifier of an unknown environment": ({"qualifiers": (("staging", "stg"),)}, "qualifiers", "staging"),
    "shared account without a qualifier each": ({"qualifiers": (("dev", "dev"),)}, "qualifiers", (("dev", "dev"),)),
    "shared account with one qualifier twice": (
        {"qualifiers": (("dev", "same"), ("prod", "same"))},
        "qualifiers",
        (("dev", "same"), ("prod", "same")),
    ),
    "shared account unscoped": (
        {"qualifiers": (("dev", "dev"), ("prod", "prod")), "scoped_execution": False},
        "scoped_execution",
        False,
    ),
    "separate accounts without an account each": (
        {"setup": "separate-accounts", "accounts": (("dev", "111111111111"),)},
        "accounts",
        (("dev", "111111111111"),),
    ),
    "separate accounts sharing one": (
        {"setup": "separate-accounts", "accounts": (("dev", "111111111111"), ("prod", "111111111111"))},
        "accounts",
        (("dev", "111111111111"), ("prod", "111111111111")),
    ),
    "an account id that is not one": (
        {"setup": "separate-accounts", "accounts": (("dev", "1111"), ("prod", "222222222222"))},
        "accounts",
        "1111",
    ),
    "region": ({"region": "us-east"}, "region", "us-east"),
}


@pytest.mark.parametrize("case", BAD_SPECS, ids=str)
def test_a_bad_spec_is_refused_in_one_line_naming_field_and_value(case: str) -> None:
    changes, field, value = BAD_SPECS[case]
    with pytest.raises(SpecError) as raised:
        CiSpec(**{"repository": CI.repository, "qualifiers": CI.qualifiers, **changes})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{field}: ")
    assert message.endswith(f"(got {value!r})")


def test_the_context_builds_the_ci_spec_only_when_asked() -> None:
    assert ci_from_context({}) is None
    assert ci_from_context({"ci": "false"}) is None
    assert ci_from_context({"ci": "true"}) == CI
    assert ci_from_context({"ci": True, "ci_oidc_provider_arn": PROVIDER_ARN}) == replace(
        CI, oidc_provider_arn=PROVIDER_ARN
    )


CLI_CASES = {
    "non-boolean ci": ({"ci": "maybe"}, "error: context ci: must be true or false (got 'maybe')"),
    "provider without ci": (
        {"ci_oidc_provider_arn": PROVIDER_ARN},
        f"error: context ci_oidc_provider_arn: applies only with -c ci=true (got '{PROVIDER_ARN}')",
    ),
    "malformed provider": (
        {"ci": "true", "ci_oidc_provider_arn": "github"},
        "error: context ci_oidc_provider_arn: must be the ARN of an IAM OIDC provider for "
        f"{HOST} (arn:aws:iam::<account>:oidc-provider/{HOST}) (got 'github')",
    ),
}


def test_bad_ci_context_ends_the_app_with_one_line_and_no_output(tmp_path: Path) -> None:
    assert_each_refused_in_one_line(tmp_path, CLI_CASES)


def test_a_release_session_outlasts_the_longest_release() -> None:
    longest = max(PROFILES[env]().release_timeout_minutes for env in CI.environments)
    assert CI.release_session_hours * 60 >= longest + 30
    assert CI.release_session_hours <= 12, "IAM's limit for a role's sessions"


def test_application_repositories_get_a_release_role_of_their_own(tmp_path: Path) -> None:
    """Each environment's app-release role trusts exactly the application repositories' jobs in their
    own release environment, and may do what this repository's release role does, nothing more."""
    spec = replace(CI, application_repositories=("octo-org/web-app", "octo-org/jobs"))
    (stack,) = build_ci(new_app(tmp_path), spec)
    resources = Template.from_stack(stack).to_json()["Resources"]
    by_name = {r["Properties"]["RoleName"]: lid for lid, r in resources.items() if r["Type"] == "AWS::IAM::Role"}

    def statements(role: str) -> list[Any]:
        return [
            statement
            for body in resources.values()
            if body["Type"] == "AWS::IAM::Policy" and {"Ref": by_name[role]} in body["Properties"]["Roles"]
            for statement in body["Properties"]["PolicyDocument"]["Statement"]
        ]

    for env in spec.environments:
        role = spec.app_release_role_name(env)
        (trust,) = resources[by_name[role]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"] == {
            "StringEquals": {
                f"{HOST}:aud": "sts.amazonaws.com",
                f"{HOST}:sub": [f"repo:{app}:environment:release-{env}" for app in spec.application_repositories],
            }
        }
        assert statements(role) == statements(spec.release_role_name(env))
    assert len(by_name) == 1 + 3 * len(spec.environments)
