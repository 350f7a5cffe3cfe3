"""The released image tag of each service: a stack parameter, the one place CloudFormation
reads what runs."""

from __future__ import annotations

from aws_cdk import CfnParameter
from constructs import Construct

from platform_spec import ServiceSpec
from platform_spec.checks import IMAGE_TAG_PATTERN
from platform_spec.names import image_tag_parameter

# The spec's tag rule as the parameter's AllowedPattern (the same syntax serves both).
TAG_PATTERN = IMAGE_TAG_PATTERN.pattern


class ReleasedImageTags(Construct):
    """One parameter per service, named ``<Service>ImageTag``, defaulting to the spec's
    initial tag. The deployment state machine releases by updating these parameters (and
    nothing else) through CloudFormation; ``cdk deploy`` keeps each parameter's previous
    value unless told otherwise (CDK CLI ``--previous-parameters``, on by default), so an
    infrastructure deploy never changes which image runs."""

    def __init__(self, scope: Construct, construct_id: str, *, services: tuple[ServiceSpec, ...]) -> None:
        """``services``: the application services, one parameter each."""
        super().__init__(scope, construct_id)
        self._parameters: dict[str, CfnParameter] = {}
        for service in services:
            parameter = CfnParameter(
                self,
                service.name,
                type="String",
                default=service.initial_image_tag,
                allowed_pattern=TAG_PATTERN,
                constraint_description="an image tag: letters, digits, '_', '.' or '-', not starting with '.' or '-'",
                description=f"The released image tag of {service.name}; set by the release, kept by deploys.",
            )
            parameter.override_logical_id(image_tag_parameter(service.name))
            self._parameters[service.name] = parameter

    def tag(self, service: ServiceSpec) -> str:
        return self._parameters[service.name].value_as_string
