"""cfn-lint's W3005 on the role dependency CDK adds beside a GetAtt, silenced per resource with its reason."""

from __future__ import annotations

from aws_cdk import CfnResource

# Resources that name their role by Fn::GetAtt and to which CDK also adds an
# explicit DependsOn on that role.
_ROLE_USERS = ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")
REASON = (
    "CDK adds DependsOn on the role beside the GetAtt of its ARN (and on the role's policy, which no "
    "attribute orders); the duplicate is harmless and CDK gives no way to drop it."
)


def redundant_role_dependencies(resource: CfnResource, resource_type: str) -> None:
    """Marks each such resource for cfn-lint: W3005 ignored here, and why (a touch of
    ``compliance.EachResource``, which visits every resource at synth)."""
    if resource_type in _ROLE_USERS:
        resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"], "ignore_reasons": {"W3005": REASON}}})
