"""The CI stack: GitHub's OIDC provider and the roles the workflows assume.

It belongs to no profile: one per account, deployed once by an administrator
(``cdk deploy -c ci=true davidshaevel-ci``), and built only when the context asks for it,
so a profile's ``cdk deploy --all`` never touches the roles it runs with.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, CfnOutput, Environment, Stack, Tags
from constructs import Construct

from cdk_constructs.github_deploy_roles import GitHubDeployRoles
from platform_spec.ci import CiSpec


class CiStack(Stack):
    """The provider (unless the spec names the account's own) and the CI roles, with their ARNs as outputs."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: CiSpec, **kwargs: Any) -> None:
        """``spec`` says which repository's workflows may assume which role."""
        super().__init__(scope, construct_id, **kwargs)
        self.roles = GitHubDeployRoles(self, "GitHubRoles", spec=spec)
        CfnOutput(self, "DiffRoleArn", value=self.roles.diff_role.role_arn)
        for environment, role in self.roles.deploy_roles.items():
            CfnOutput(self, f"DeployRoleArn{environment.capitalize()}", value=role.role_arn)
        for environment, role in self.roles.release_roles.items():
            CfnOutput(self, f"ReleaseRoleArn{environment.capitalize()}", value=role.role_arn)
        for environment, role in self.roles.app_release_roles.items():
            CfnOutput(self, f"AppReleaseRoleArn{environment.capitalize()}", value=role.role_arn)
        # The app tags every stack with the profile it builds; these roles serve every profile.
        Tags.of(self).remove("environment")


def build_ci(app: App, spec: CiSpec) -> CiStack:
    # The account stays open (the roles are written with ${AWS::AccountId}); the roles are global,
    # and each names the regions of its environment's stacks itself.
    return CiStack(
        app,
        spec.stack_name,
        spec=spec,
        env=Environment(region=spec.home_region),
        description=f"{spec.stack_name}: GitHub OIDC provider and the roles of {spec.repository}'s workflows",
    )
