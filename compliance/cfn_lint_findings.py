"""cfn-lint's W3005 on the role dependency CDK adds beside a GetAtt, silenced per resource with its reason."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

# Resources that name their role by Fn::GetAtt and to which CDK also adds an
# explicit DependsOn on that role.
_ROLE_USERS = ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")
REASON = (
    "CDK adds DependsOn on the role beside the GetAtt of its ARN (and on the role's policy, which no "
    "attribute orders); the duplicate is harmless and CDK gives no way to drop it."
)


@jsii.implements(IAspect)
class RedundantRoleDependencies:
    """Marks each such resource for cfn-lint: W3005 ignored here, and why."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_resource_type in _ROLE_USERS:
            node.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"], "ignore_reasons": {"W3005": REASON}}})
