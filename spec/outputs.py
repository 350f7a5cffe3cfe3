"""Names of the stack outputs and parameters the verify command, the release and the
stacks share: one place for every side."""

from __future__ import annotations


def output_key(subject: str, attribute: str) -> str:
    """``("backend", "ServiceArn")`` -> ``BackendServiceArn`` (outputs take letters and digits only)."""
    return "".join(part.capitalize() for part in subject.replace("_", "-").split("-")) + attribute


CLUSTER_NAME = "ClusterName"
SERVICE_ARN = "ServiceArn"
CLOUD_MAP_SERVICE_ID = "CloudMapServiceId"
TARGET_GROUP_ARN = "TargetGroupArn"
LOG_GROUP = "LogGroup"
STATE_MACHINE_ARN = "DeploymentStateMachineArn"
PROBE_TASK_DEFINITION = "TargetsProbeTaskDefinitionArn"
PROBE_SUBNETS = "TargetsProbeSubnets"
PROBE_SECURITY_GROUP = "TargetsProbeSecurityGroup"
PROBE_LOG_GROUP = "TargetsProbeLogGroup"
RELEASED_IMAGE_TAG = "ReleasedImageTag"
PUBLIC_URL = "PublicUrl"
"""The compute stack's: where viewers reach the platform (CloudFront, or the named domain)."""
TASK_DEFINITION_ARN = "TaskDefinitionArn"


def image_tag_parameter(service_name: str) -> str:
    """``backend`` -> ``BackendImageTag``: the compute stack's parameter that holds the released tag."""
    return output_key(service_name, "ImageTag")


# The release marks each image it releases with a second tag under this prefix; the
# repositories' lifecycle keeps the newest of these, so what runs never expires.
RELEASE_TAG_PREFIX = "release-"
