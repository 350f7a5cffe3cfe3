"""The CI stack: GitHub's OIDC provider and the roles the workflows assume; and what the CI spec asks
of the platform's own stacks (the bootstrap they deploy through, the boundary of their roles).

It belongs to no profile: one per account, deployed once by an administrator
(``cdk deploy -c ci=true davidshaevel-ci``, or ``davidshaevel-ci-<env>`` in each environment's own
account with separate accounts), and built only when the context asks for it, so a profile's
``cdk deploy --all`` never touches the roles it runs with.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, BootstraplessSynthesizer, CfnOutput, Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from layers.ci.github_deploy_roles import GitHubDeployRoles
from platform_spec.bootstrap_policy import boundary_name
from platform_spec.ci import CDK_DEFAULT_QUALIFIER, CiSpec, ci
from platform_spec.platform import PlatformSpec
from platform_spec.spelling import built

QUALIFIER_KEY = "@aws-cdk/core:bootstrapQualifier"
"""The context key CDK's DefaultStackSynthesizer reads the bootstrap qualifier from."""


class CiStack(Stack):
    """The provider (unless the spec names the account's own) and the CI roles, with their ARNs as outputs."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: CiSpec, environments: tuple[str, ...], **kwargs: Any
    ) -> None:
        """``spec`` says which repository's workflows may assume which role; ``environments``: whose
        roles this account holds."""
        super().__init__(scope, construct_id, **kwargs)
        self.roles = GitHubDeployRoles(self, "GitHubRoles", spec=spec, environments=environments)
        CfnOutput(self, "DiffRoleArn", value=self.roles.diff_role.role_arn)
        for environment, role in self.roles.deploy_roles.items():
            CfnOutput(self, f"DeployRoleArn{environment.capitalize()}", value=role.role_arn)
        for environment, role in self.roles.release_roles.items():
            CfnOutput(self, f"ReleaseRoleArn{environment.capitalize()}", value=role.role_arn)
        for environment, role in self.roles.app_release_roles.items():
            CfnOutput(self, f"AppReleaseRoleArn{environment.capitalize()}", value=role.role_arn)
        # The app tags every stack with the profile it builds; these roles serve every profile.
        Tags.of(self).remove("environment")


def build_ci(app: App, spec: CiSpec) -> list[CiStack]:
    """One stack in the shared account; one per environment, pinned to its account, with separate accounts."""
    stacks = []
    for name, environments in spec.ci_stacks():
        # In the shared account the roles are written with ${AWS::AccountId}; IAM is global, and
        # each role names the regions of its environment's stacks itself.
        account = spec.account_of(environments[0]) if len(environments) == 1 else None
        stacks.append(
            CiStack(
                app,
                name,
                spec=spec,
                environments=environments,
                env=Environment(account=account, region=spec.region_of(environments[0])),
                # Deployed with the administrator's own credentials, through no bootstrap: an
                # environment's execution role may create no role outside its prefix, and the
                # roles that deploy it least of all. The stack has no assets to publish.
                synthesizer=BootstraplessSynthesizer(),
                description=f"{name}: GitHub OIDC provider and the roles of {spec.repository}'s workflows",
            )
        )
    return stacks


def use_bootstrap(app: App, environment: str) -> CiSpec | None:
    """Synthesize ``environment``'s stacks for the bootstrap the CI spec gives it: its qualifier (in the
    app's context, before any stack exists, which is where CDK's synthesizer reads it). ``None`` for
    an environment the CI spec does not deploy."""
    spec = built(ci)
    if environment not in spec.environments:
        return None
    if spec.qualifier_of(environment) != CDK_DEFAULT_QUALIFIER:
        app.node.set_context(QUALIFIER_KEY, spec.qualifier_of(environment))
    return spec


def bound_platform(app: App, platform: PlatformSpec, spec: CiSpec | None) -> None:
    """Every role of the platform's stacks carries the environment's permissions boundary where its
    bootstrap is scoped: the execution policy lets CloudFormation create no role without it."""
    if spec is None or not spec.scoped_execution:
        return
    names = {platform.stack_name(layer) for layer in platform.layers}
    for stack in app.node.children:
        if isinstance(stack, Stack) and stack.stack_name in names:
            boundary = iam.ManagedPolicy.from_managed_policy_name(
                stack, "CdkBoundary", boundary_name(spec, platform.environment)
            )
            iam.PermissionsBoundary.of(stack).apply(boundary)
