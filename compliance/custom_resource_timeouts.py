"""Every custom resource of the app waits a bounded time for its handler."""

from __future__ import annotations

from aws_cdk import CfnResource, CustomResource

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


def bounded_custom_resources(resource: CfnResource, resource_type: str) -> None:
    """Sets ``ServiceTimeout`` on each custom resource, CDK's own included, but those marked by
    ``bound_service_timeout`` (a touch of ``compliance.EachResource``, which visits every resource at synth)."""
    if is_custom_resource(resource_type) and not resource.get_metadata(OWN_TIMEOUT):
        resource.add_property_override("ServiceTimeout", SERVICE_TIMEOUT_SECONDS)
