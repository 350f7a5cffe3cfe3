"""Every custom resource of the app waits a bounded time for its handler."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

# CloudFormation waits an hour for a custom resource's answer unless ServiceTimeout
# says otherwise ("AWS::CloudFormation::CustomResource", ServiceTimeout: "The default
# value is 3600 seconds (1 hour)"): a handler that crashes before answering holds the
# stack that long. Every handler of this app answers in seconds.
SERVICE_TIMEOUT_SECONDS = 300


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


@jsii.implements(IAspect)
class BoundedCustomResources:
    """Sets ``ServiceTimeout`` on each custom resource, CDK's own included."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and is_custom_resource(node.cfn_resource_type):
            node.add_property_override("ServiceTimeout", SERVICE_TIMEOUT_SECONDS)
