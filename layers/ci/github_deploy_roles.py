"""GitHub's OIDC provider and the CI roles, each trusting exactly the subjects of GitHub's token it
names: one for this repository's roles, one per application repository for an app-release role.

What GitHub's token carries (GitHub Docs):

- "OpenID Connect reference" (https://docs.github.com/en/actions/reference/security/oidc, once
  part of "About security hardening with OpenID Connect"): the issuer is
  ``https://token.actions.githubusercontent.com``; a job of a ``pull_request`` event has the
  subject ``repo:<owner>/<name>:pull_request`` ("Filtering for pull_request events"); a job that
  references an environment has ``repo:<owner>/<name>:environment:<environment>`` whatever its
  event ("Filtering for a specific environment": the subject includes the environment name
  when the job references one). So the pull-request job must name no environment, and only a
  job that GitHub let into an environment (its protection rules passed) can carry that subject.
- "Configuring OpenID Connect in Amazon Web Services"
  (https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws):
  the provider's audience is ``sts.amazonaws.com`` (what ``aws-actions/configure-aws-credentials``
  asks for by default), and the trust policy tests ``token.actions.githubusercontent.com:aud``
  and ``token.actions.githubusercontent.com:sub`` with StringEquals.

Both conditions are StringEquals on literals: no wildcard can widen a role to another
repository, branch or environment. Repositories on GitHub's immutable subject format (owner and
repository ids in the subject) present other subjects; see docs/operations.md, "CI roles".

The workflow and its ref: AWS reads only the ``aud`` and ``sub`` of GitHub's token ("Configuring
OpenID Connect in Amazon Web Services": "Support for custom claims for OIDC is unavailable in
AWS"; IAM's keys for it are ``token.actions.githubusercontent.com:aud``, ``:sub`` and ``:amr``,
"Available keys for AWS OIDC federation",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif),
so ``job_workflow_ref`` can be checked only inside the subject. With ``CiSpec.workflow_subjects``
the repository's subject template is customised to ``["repo", "context", "job_workflow_ref"]``
("OpenID Connect reference", "Customizing the subject claims for an organization or repository"),
and each of this repository's roles names
``...:environment:<env>:job_workflow_ref:<owner>/<name>/.github/workflows/<file>@refs/heads/main``.
A pull request's ref is ``refs/pull/<number>/merge``: the diff role alone compares with
StringLike, its one wildcard standing for that number.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from platform_spec.ci import GITHUB_OIDC_HOST, STS_AUDIENCE, CiSpec
from platform_spec.names import COMPUTE, DELIVERY, release_state_machine_name, stack_name

BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
"""The roles ``cdk bootstrap`` creates (modern bootstrap)."""
DEPLOY_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing")
"""What ``cdk deploy --app cdk.out`` assumes: the lookup role (ReadOnlyAccess over the whole account)
serves context lookups, which this app never makes, and the CLI's template read, which the deploy
role's own CloudFormation read access covers."""

CLOUDFORMATION_READ_ACTIONS = ("cloudformation:DescribeStacks", "cloudformation:GetTemplate")
"""What ``cdk diff --method template`` calls on a deployed stack."""
ECR_PUSH_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
MAX_SESSION_HOURS = 1


def bootstrap_role_arn(kind: str, *, qualifier: str, region: str) -> str:
    """A CDK bootstrap role of this stack's account, as ``cdk bootstrap`` names it."""
    if kind not in BOOTSTRAP_ROLE_KINDS:
        raise ValueError(f"not a CDK bootstrap role: {kind!r}")
    account = Aws.ACCOUNT_ID
    return f"arn:{Aws.PARTITION}:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"


class GitHubDeployRoles(Construct):
    """The provider (or the account's existing one), the pull-request diff role, and a deploy
    and a release role per environment (and an app-release role per environment where the spec
    names application repositories); fixed names, short sessions, no managed policies."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: CiSpec, environments: tuple[str, ...] | None = None
    ) -> None:
        """``spec``: the CI spec, which names the repository, the provider and each environment's
        qualifier. ``environments``: the environments whose roles this account holds (the CI stack
        passes its account's); ``None`` (default): all of the spec's."""
        super().__init__(scope, construct_id)
        self._spec = spec
        self._environments = spec.environments if environments is None else environments
        self.provider: iam.OidcProviderNative | None = None
        if spec.oidc_provider_arn is None:
            self.provider = iam.OidcProviderNative(
                self, "GitHubProvider", url=f"https://{GITHUB_OIDC_HOST}", client_ids=[STS_AUDIENCE]
            )
            self.provider_arn = self.provider.oidc_provider_arn
        else:
            self.provider_arn = spec.oidc_provider_arn
        self.diff_role = self._role(
            "DiffRole",
            role_name=spec.diff_role_name,
            subject=spec.pull_request_subject,
            description=f"Pull requests of {spec.repository}: reads the platform's templates, for cdk diff",
            pattern=spec.workflow_subjects,
        )
        self._grant_diff()
        self.deploy_roles: dict[str, iam.Role] = {}
        self.release_roles: dict[str, iam.Role] = {}
        self.app_release_roles: dict[str, iam.Role] = {}
        for environment in self._environments:
            self.deploy_roles[environment] = self._role(
                f"Deploy-{environment}",
                role_name=spec.deploy_role_name(environment),
                subject=spec.environment_subject(environment, workflow="deploy"),
                description=f"Jobs of {spec.repository} in GitHub environment {environment}: cdk deploy",
            )
            self._grant_deploy(self.deploy_roles[environment], environment)
            release_environment = spec.release_environment(environment)
            self.release_roles[environment] = self._role(
                f"Release-{environment}",
                role_name=spec.release_role_name(environment),
                subject=spec.environment_subject(release_environment, workflow="release"),
                description=f"Jobs of {spec.repository} in GitHub environment {release_environment}: release",
                session_hours=spec.release_session_hours,
            )
            self._grant_release(self.release_roles[environment], environment)
            if spec.application_repositories:
                self.app_release_roles[environment] = self._role(
                    f"AppRelease-{environment}",
                    role_name=spec.app_release_role_name(environment),
                    subject=[
                        spec.environment_subject(release_environment, repository=repository)
                        for repository in spec.application_repositories
                    ],
                    description=f"Jobs of {', '.join(spec.application_repositories)} in GitHub environment "
                    f"{release_environment}: push images, release",
                    session_hours=spec.release_session_hours,
                )
                self._grant_release(self.app_release_roles[environment], environment)

    def _role(
        self,
        construct_id: str,
        *,
        role_name: str,
        subject: str | list[str],
        description: str,
        session_hours: int = MAX_SESSION_HOURS,
        pattern: bool = False,
    ) -> iam.Role:
        """``pattern``: the subject holds a wildcard (a pull request's number), compared with StringLike."""
        conditions: dict[str, dict[str, str | list[str]]] = {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE}}
        conditions.setdefault("StringLike" if pattern else "StringEquals", {})[f"{GITHUB_OIDC_HOST}:sub"] = subject
        return iam.Role(
            self,
            construct_id,
            # Fixed, so a workflow builds the ARN from the account id and the environment alone.
            role_name=role_name,
            description=description,
            assumed_by=iam.WebIdentityPrincipal(
                self.provider_arn,
                conditions=conditions,
            ),
            max_session_duration=Duration.hours(session_hours),
        )

    def _bootstrap_role(self, kind: str, region: str, environment: str) -> str:
        return bootstrap_role_arn(kind, qualifier=self._spec.qualifier_of(environment), region=region)

    def _arn(self, service: str, resource: str, *, environment: str) -> str:
        """A resource of ``environment``'s platform, in its region."""
        region = self._spec.region_of(environment)
        return f"arn:{Aws.PARTITION}:{service}:{region}:{Aws.ACCOUNT_ID}:{resource}"

    def _grant_diff(self) -> None:
        """``cdk diff --method template`` reads each platform stack's deployed template and status, with
        the caller's own credentials when it cannot assume the lookup role, which this role may not
        (ReadOnlyAccess over the whole account would let a pull request read any bucket's objects)."""
        stacks = sorted(
            {
                f"arn:{Aws.PARTITION}:cloudformation:{region}:{Aws.ACCOUNT_ID}:stack/{name}/*"
                for environment in self._environments
                for name, region in self._spec.platform_stacks(environment)
            }
        )
        self.diff_role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(CLOUDFORMATION_READ_ACTIONS), resources=stacks)
        )
        Validations.of(self.diff_role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_finding(stack)}]",
                    reason="Reads one named platform stack; the trailing '*' stands for the stack id "
                    "CloudFormation appends to its name.",
                )
                for stack in stacks
            )
        )

    def _grant_deploy(self, role: iam.Role, environment: str) -> None:
        """The CLI publishes and deploys through the bootstrap roles of the environment's own qualifier
        (and account), in each region its stacks are in; the deploy role hands CloudFormation that
        bootstrap's execution role, whose generated policy and boundary bound a deploy
        (``platform_spec.bootstrap_policy``)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    self._bootstrap_role(kind, region, environment)
                    for region in self._spec.bootstrap_regions(environment)
                    for kind in DEPLOY_ROLE_KINDS
                ],
            )
        )

    def _grant_release(self, role: iam.Role, environment: str) -> None:
        """``tools.release``: read the delivery stack's outputs (and the compute stack's for
        ``show``), start the release state machine and follow its execution; push and pull the
        environment's images."""
        prefix = self._spec.stack_prefix(environment)
        machine = release_state_machine_name(prefix)
        executions = self._arn("states", f"execution:{machine}:*", environment=environment)
        stacks = [
            self._arn("cloudformation", f"stack/{stack_name(prefix, layer)}/*", environment=environment)
            for layer in (DELIVERY, COMPUTE)
        ]
        repositories = self._arn("ecr", f"repository/{prefix}/*", environment=environment)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[self._arn("states", f"stateMachine:{machine}", environment=environment)],
            )
        )
        role.add_to_principal_policy(iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=stacks))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(ECR_PUSH_PULL_ACTIONS), resources=[repositories]))
        checks = Validations.of(role)
        checks.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken has no resource-level permissions; every other action of "
                "this role names its environment's state machine, stacks or repositories.",
            ),
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_finding(executions)}]",
                reason="The trailing '*' stands for the execution names Step Functions generates, "
                "of the one release state machine of this environment.",
            ),
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_finding(repositories)}]",
                reason="The '*' stands for the service repositories of this environment, all and only "
                "those named under its prefix by the data stack.",
            ),
            *(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_finding(stack)}]",
                    reason="The trailing '*' stands for the stack id CloudFormation appends to the one "
                    "stack named; DescribeStacks only reads its outputs.",
                )
                for stack in stacks
            ),
        )


def _finding(arn: str) -> str:
    """The resource as cdk-nag writes it in a finding id: pseudo parameters as ``<AWS::...>``."""
    return arn.replace(Aws.PARTITION, "<AWS::Partition>").replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
