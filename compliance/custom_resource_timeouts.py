"""Every custom resource of the app waits a bounded time for its handler."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, CustomResource, IAspect
from constructs import IConstruct

# CloudFormation waits an hour for a custom resource's answer unless ServiceTimeout
# says otherwise ("AWS::CloudFormation::CustomResource", ServiceTimeout: "The default
# value is 3600 seconds (1 hour)"): a handler that crashes before answering holds the
# stack that long. Every handler of this app answers in seconds.
SERVICE_TIMEOUT_SECONDS = 300


# Marks a custom resource that sets its own, longer ServiceTimeout (a hook that waits for a task).
OWN_TIMEOUT = "platform:own-service-timeout"


def bound_service_timeout(resource: CustomResource) -> None:
    """Keep the ServiceTimeout ``resource`` was given instead of the default bound."""
    cfn = resource.node.default_child
    assert isinstance(cfn, CfnResource)
    cfn.add_metadata(OWN_TIMEOUT, True)


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


@jsii.implements(IAspect)
class BoundedCustomResources:
    """Sets ``ServiceTimeout`` on each custom resource, CDK's own included, but those
    marked by ``bound_service_timeout``."""

    def visit(self, node: IConstruct) -> None:
        if (
            isinstance(node, CfnResource)
            and is_custom_resource(node.cfn_resource_type)
            and not node.get_metadata(OWN_TIMEOUT)
        ):
            node.add_property_override("ServiceTimeout", SERVICE_TIMEOUT_SECONDS)
