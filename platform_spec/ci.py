"""The CI roles' description: which repository's workflows may assume which role.

GitHub Actions gets AWS credentials through OpenID Connect. The roles are defined by this
app (``stacks/ci_stack.py``) in a stack of their own, ``davidshaevel-ci``, deployed once by an
administrator with ``-c ci=true``; a profile's deploy never builds it. Each role trusts
exactly one subject of GitHub's token (the formats are cited in
``layers/ci/github_deploy_roles.py``):

- ``davidshaevel-ci-diff``: the repository's pull requests (read-only, for ``cdk diff``);
- ``davidshaevel-ci-deploy-<env>``: jobs in the GitHub environment ``<env>`` (``deploy.yml``);
- ``davidshaevel-ci-release-<env>``: jobs in the GitHub environment ``release-<env>``
  (``release.yml``), so releasing to prod can need its own reviewers;
- ``davidshaevel-ci-app-release-<env>``: jobs of the application repositories (where the
  services' code lives) in their own GitHub environment ``release-<env>``: push the images and
  start a release, nothing else.

The names are fixed so that a workflow can build each ARN from the account id alone
(``python -m tools.ci_settings`` prints them, with each environment's region, from this spec).

Two set-ups keep one environment's deploy out of another's (``setup``; docs/operations.md,
"CI roles"): ``separate-accounts`` (recommended), one AWS account per environment, each with its
own CI stack ``davidshaevel-ci-<env>``; and ``shared-account``, one account where each environment
is bootstrapped with a qualifier of its own, a generated execution policy and a permissions
boundary (``platform_spec.bootstrap_policy``, ``python -m tools.bootstrap_policy``).
Like the rest of ``spec``, this imports nothing from CDK, so a workflow runs it before installing
anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from platform_spec.checks import PROJECT_NAME_PATTERN, REGION_PATTERN
from platform_spec.ci_setup import SEPARATE_ACCOUNTS, SHARED_ACCOUNT, check_setup
from platform_spec.context import parse_bool
from platform_spec.errors import SpecError
from platform_spec.names import EDGE, stack_name, stack_prefix
from platform_spec.profiles import APPLICATION_REPOSITORIES, CI_REPOSITORY, PROFILES, PROJECT
from platform_spec.regions import CLOUDFRONT_REGION
from platform_spec.spelling import built

CI_KEY = "ci"
"""Context key: ``-c ci=true`` adds the CI stack to the app."""
PROVIDER_KEY = "ci_oidc_provider_arn"
CONTEXT_KEYS = (CI_KEY, PROVIDER_KEY)
"""Context key: an account's existing GitHub provider, used instead of creating one."""

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
CDK_DEFAULT_QUALIFIER = "hnb659fds"
DEPLOY_BRANCH = "main"
"""The branch deploy.yml and release.yml run from: the ref the roles' subjects name."""
WORKFLOWS = {"diff": "pull-request.yml", "deploy": "deploy.yml", "release": "release.yml"}
"""The workflow file of each kind of this repository's roles (``.github/workflows``)."""

# GitHub documents no grammar for these; these are the rules its sign-up and "new
# repository" forms enforce: an account name is 1-39 letters, digits or single inner
# hyphens; a repository name is up to 100 letters, digits, '.', '_' or '-' (other
# characters become '-'), and '.' and '..' are reserved. Both also keep '*' and '?' out
# of the trust conditions, where IAM would read them as wildcards under StringLike.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_REPOSITORY = re.compile(rf"^(?P<owner>{_OWNER})/(?P<name>[A-Za-z0-9._-]{{1,100}})$")
_PROVIDER_ARN = re.compile(rf"^arn:aws(-[a-z]+)*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$")


def check_repository(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not _REPOSITORY.match(value):
        raise SpecError(
            field_name,
            value,
            "must be a GitHub repository 'owner/name' (owner: 1-39 letters, digits or inner single '-'; "
            "name: 1-100 letters, digits, '.', '_' or '-')",
        )
    if value.split("/")[1] in (".", ".."):
        raise SpecError(field_name, value, "'.' and '..' are not repository names")
    return value


def check_provider_arn(field_name: str, value: object) -> None:
    if not isinstance(value, str) or not _PROVIDER_ARN.match(value):
        raise SpecError(
            field_name,
            value,
            f"must be the ARN of an IAM OIDC provider for {GITHUB_OIDC_HOST} "
            f"(arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST})",
        )


@dataclass(frozen=True, kw_only=True)
class CiSpec:
    """The GitHub repository whose workflows deploy the platform, and what each may assume."""

    repository: str
    """``owner/name`` of this repository, exactly as GitHub spells it: the token's ``sub`` claim is
    compared with StringEquals, which is case-sensitive."""
    application_repositories: tuple[str, ...] = ()
    """Repositories that build the services' images in their own pipelines: each may push the
    images and start a release, through the app-release role of each environment."""
    environments: tuple[str, ...] = ("dev", "prod")
    """The platform profiles CI deploys and releases; one deploy and one release role each."""
    oidc_provider_arn: str | None = None
    """``None``: the stack creates the provider for ``token.actions.githubusercontent.com``. An
    account holds at most one provider per URL, so an account that has one names it here."""
    region: str | None = None
    """The region of the platform's stacks, when every environment's should be overridden;
    ``None``: each environment's profile names its own (``region_of``)."""
    setup: str = SHARED_ACCOUNT
    """``separate-accounts`` (recommended): each environment in an AWS account of its own, named in
    ``accounts``; or ``shared-account``: one account, each environment bootstrapped with its own
    ``qualifiers`` entry and the generated execution policy and permissions boundary."""
    accounts: tuple[tuple[str, str], ...] = ()
    """``(environment, 12-digit account id)`` pairs: every environment once, with distinct ids, in
    ``separate-accounts``; empty in ``shared-account`` (the workflows' AWS_ACCOUNT_ID names it)."""
    qualifiers: tuple[tuple[str, str], ...] = ()
    """``(environment, qualifier)`` pairs of ``cdk bootstrap --qualifier``: every environment, distinct,
    in ``shared-account``; CDK's default (``hnb659fds``) for an environment not named."""
    scoped_execution: bool = True
    """Bootstrap with the generated execution policy and permissions boundary; required in
    ``shared-account``. ``False`` in ``separate-accounts``: a plain ``cdk bootstrap`` (whose
    execution role is AdministratorAccess, of that environment's account only)."""
    workflow_subjects: bool = True
    """This repository's roles also name the workflow file and ref: their subject carries GitHub's
    ``job_workflow_ref`` claim, which needs the repository's subject template customised
    (docs/operations.md, "CI roles"). AWS reads no claim of GitHub's but ``aud`` and ``sub``."""
    project: str = PROJECT
    """Project name: the platform's stacks are ``<env>-<project>-<layer>``."""

    def __post_init__(self) -> None:
        check_repository("repository", self.repository)
        if not isinstance(self.application_repositories, tuple):
            raise SpecError("application_repositories", self.application_repositories, "must be a tuple")
        for repository in self.application_repositories:
            check_repository("application_repositories", repository)
            if repository == self.repository:
                raise SpecError(
                    "application_repositories", repository, "this repository already has its own release role"
                )
        if len(set(self.application_repositories)) != len(self.application_repositories):
            raise SpecError("application_repositories", self.application_repositories, "names a repository twice")
        if not isinstance(self.environments, tuple) or not self.environments:
            raise SpecError("environments", self.environments, "must be a non-empty tuple of profile names")
        for environment in self.environments:
            if environment not in PROFILES:
                raise SpecError("environments", environment, f"unknown profile; choose from {', '.join(PROFILES)}")
        if len(set(self.environments)) != len(self.environments):
            raise SpecError("environments", self.environments, "names a profile twice")
        if self.oidc_provider_arn is not None:
            check_provider_arn("oidc_provider_arn", self.oidc_provider_arn)
        if self.region is not None and (not isinstance(self.region, str) or not REGION_PATTERN.match(self.region)):
            raise SpecError("region", self.region, "not an AWS region name")
        if not isinstance(self.project, str) or not PROJECT_NAME_PATTERN.match(self.project):
            raise SpecError(
                "project", self.project, "must be 3-32 lowercase letters, digits or '-', starting with a letter"
            )
        check_setup(self)

    def account_of(self, environment: str) -> str | None:
        """The environment's account in ``separate-accounts``; ``None``: the one shared account."""
        return dict(self.accounts).get(environment)

    def qualifier_of(self, environment: str) -> str:
        """The qualifier ``environment`` is bootstrapped with: part of every bootstrap role's name."""
        return dict(self.qualifiers).get(environment, CDK_DEFAULT_QUALIFIER)

    def toolkit_stack_name(self, environment: str) -> str:
        """The bootstrap stack's name: CDK's default with CDK's qualifier, else one per qualifier
        (two bootstrap stacks of one region cannot share a name)."""
        qualifier = self.qualifier_of(environment)
        return "CDKToolkit" if qualifier == CDK_DEFAULT_QUALIFIER else f"CDKToolkit-{qualifier}"

    def ci_stacks(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(stack name, environments whose roles it holds)``: one stack in the shared account; one per
        environment, in that environment's account, with separate accounts."""
        if self.setup == SEPARATE_ACCOUNTS:
            return tuple((f"{self.stack_name}-{environment}", (environment,)) for environment in self.environments)
        return ((self.stack_name, self.environments),)

    def workflow_ref(self, kind: str, *, ref: str = f"refs/heads/{DEPLOY_BRANCH}") -> str:
        """GitHub's ``job_workflow_ref`` claim of this repository's workflow of ``kind`` at ``ref``."""
        return f"{self.repository}/.github/workflows/{WORKFLOWS[kind]}@{ref}"

    @property
    def stack_name(self) -> str:
        """``davidshaevel-ci``: belongs to no profile, so it carries no environment prefix."""
        return f"{self.project}-ci"

    @property
    def diff_role_name(self) -> str:
        return f"{self.project}-ci-diff"

    def deploy_role_name(self, environment: str) -> str:
        return f"{self.project}-ci-deploy-{environment}"

    def release_role_name(self, environment: str) -> str:
        return f"{self.project}-ci-release-{environment}"

    def app_release_role_name(self, environment: str) -> str:
        """The application repositories' role in ``environment``: push images, start a release."""
        return f"{self.project}-ci-app-release-{environment}"

    def region_of(self, environment: str) -> str:
        """Where ``environment``'s platform stacks are."""
        return self.region or PROFILES[environment]().region

    def bootstrap_regions(self, environment: str) -> tuple[str, ...]:
        """The regions ``environment``'s deploy reaches through the CDK bootstrap: the platform's,
        and us-east-1 where the platform has its edge stack there (``PlatformSpec.layers``)."""
        region = self.region_of(environment)
        return (region,) if region == CLOUDFRONT_REGION else (region, CLOUDFRONT_REGION)

    @property
    def home_region(self) -> str:
        """Where the CI stack itself is deployed: the first environment's region (IAM is global)."""
        return self.region_of(self.environments[0])

    @staticmethod
    def release_environment(environment: str) -> str:
        """The GitHub environment the release workflow runs in for a platform environment."""
        return f"release-{environment}"

    @property
    def pull_request_subject(self) -> str:
        """The ``sub`` of a job run for a pull request that names no GitHub environment; with
        ``workflow_subjects``, of pull-request.yml only, whose ref is ``refs/pull/<number>/merge``
        (a pattern: the trust compares it with StringLike)."""
        subject = f"repo:{self.repository}:pull_request"
        if not self.workflow_subjects:
            return subject
        return f"{subject}:job_workflow_ref:{self.workflow_ref('diff', ref='refs/pull/*/merge')}"

    def environment_subject(
        self, github_environment: str, *, repository: str | None = None, workflow: str | None = None
    ) -> str:
        """The ``sub`` of a job of ``repository`` (this one by default) that names the GitHub
        environment, whatever its event; with ``workflow_subjects`` and a ``workflow`` kind, only of
        that workflow file on the deploy branch."""
        subject = f"repo:{repository or self.repository}:environment:{github_environment}"
        if workflow is None or not self.workflow_subjects or repository not in (None, self.repository):
            return subject
        return f"{subject}:job_workflow_ref:{self.workflow_ref(workflow)}"

    @property
    def release_session_hours(self) -> int:
        """How long a release role's session may last: the release workflow builds the images
        (half an hour at most, under QEMU) and then waits for the longest release any of the
        environments allows (``delivery.release_timeout_minutes``); credentials that expire
        first would leave a release running with nobody watching it."""
        longest = max(PROFILES[environment]().release_timeout_minutes for environment in self.environments)
        return min(12, -(-(longest + 30) // 60))

    def platform_stacks(self, environment: str) -> tuple[tuple[str, str], ...]:
        """``(stack name, region)`` of each of ``environment``'s platform stacks: what the diff role reads."""
        profile = PROFILES[environment]()
        region = self.region_of(environment)
        return tuple(
            (stack_name(self.stack_prefix(environment), layer), CLOUDFRONT_REGION if layer == EDGE else region)
            for layer in profile.layers
            if layer != EDGE or region != CLOUDFRONT_REGION
        )

    def stack_prefix(self, environment: str) -> str:
        """``dev-davidshaevel``: as ``PlatformSpec.stack_prefix``."""
        return stack_prefix(environment, self.project)


def ci() -> CiSpec:
    """The CI description of ``platform_spec.profiles``: this repository and the application
    repositories named there, every profile, a provider of the stack's own."""
    environments = tuple(PROFILES)
    return CiSpec(
        repository=CI_REPOSITORY,
        application_repositories=APPLICATION_REPOSITORIES,
        environments=environments,
        # One account, as the workflows' single AWS_ACCOUNT_ID; each environment its own qualifier.
        setup=SHARED_ACCOUNT,
        qualifiers=tuple((environment, environment[:10]) for environment in environments),
    )


def ci_from_context(context: Mapping[str, object]) -> CiSpec | None:
    """``None`` unless ``-c ci=true``; ``-c ci_oidc_provider_arn=...`` names an existing provider."""
    wanted = parse_bool(CI_KEY, context.get(CI_KEY, False))
    provider = context.get(PROVIDER_KEY)
    if not wanted:
        if provider is not None:
            raise SpecError(f"context {PROVIDER_KEY}", provider, f"applies only with -c {CI_KEY}=true")
        return None
    spec = built(ci)
    if provider is None:
        return spec
    check_provider_arn(f"context {PROVIDER_KEY}", provider)
    return replace(spec, oidc_provider_arn=str(provider))
