"""The names the stacks, the tools and the tests share: stack names and their layers, the keys
of the stacks' outputs and parameters, and the fixed names of things one stack makes and
another side finds. This module owns each, so no side rebuilds a name by hand."""

from __future__ import annotations

NETWORK = "network"
DATA = "data"
COMPUTE = "compute"
OBSERVABILITY = "observability"
DELIVERY = "delivery"
LAYERS = (NETWORK, DATA, COMPUTE, OBSERVABILITY, DELIVERY)
"""Each profile's stacks, in the order they deploy."""
EDGE = "edge"
"""The stack in us-east-1 of a platform in another region: CloudFront's certificate, web ACL and
edge function (``PlatformSpec.layers``)."""

TARGETS_PROBE = "targets-probe"
"""The verify command's one-off task: its security group's party and its container's name."""


def stack_prefix(environment: str, project: str) -> str:
    """``dev-davidshaevel``: the original platform's naming, shared by stacks and resources (and the CI roles)."""
    return f"{environment}-{project}"


def stack_name(prefix: str, layer: str) -> str:
    """``dev-davidshaevel-compute``: the stack of ``layer`` in the profile named by ``prefix``."""
    if layer not in (EDGE, *LAYERS):
        raise ValueError(f"no layer {layer!r}; the layers are {', '.join((*LAYERS, EDGE))}")
    return f"{prefix}-{layer}"


def release_state_machine_name(prefix: str) -> str:
    """``dev-davidshaevel-release``: the release state machine's fixed name, so the CI's release
    role can name its ARN (Step Functions cannot narrow StartExecution by a condition)."""
    return f"{prefix}-release"


# --- Stack outputs and parameters: what the verify command, the release and the stacks read.
def output_key(subject: str, attribute: str) -> str:
    """``("backend", "ServiceArn")`` -> ``BackendServiceArn`` (outputs take letters and digits only)."""
    return "".join(part.capitalize() for part in subject.replace("_", "-").split("-")) + attribute


CLUSTER_NAME = "ClusterName"
SERVICE_ARN = "ServiceArn"
CLOUD_MAP_SERVICE_ID = "CloudMapServiceId"
TARGET_GROUP_ARN = "TargetGroupArns"
"""A public service's target groups, comma-separated: two where its roll-out shifts traffic, and
its tasks in either."""
LOG_GROUP = "LogGroup"
STATE_MACHINE_ARN = "DeploymentStateMachineArn"
PROBE_TASK_DEFINITION = "TargetsProbeTaskDefinitionArn"
PROBE_SUBNETS = "TargetsProbeSubnets"
PROBE_SECURITY_GROUP = "TargetsProbeSecurityGroup"
PROBE_LOG_GROUP = "TargetsProbeLogGroup"
RELEASED_IMAGE_TAG = "ReleasedImageTag"
AUDIT_TRAIL = "AuditTrailArn"
"""The data stack's: the trail that records the account, the platform's or the organization's."""
PUBLIC_URL = "PublicUrl"
"""The compute stack's: where viewers reach the platform (CloudFront, or the named domain)."""
TASK_DEFINITION_ARN = "TaskDefinitionArn"
SERVICE_OUTPUTS = (
    SERVICE_ARN,
    CLOUD_MAP_SERVICE_ID,
    TARGET_GROUP_ARN,
    LOG_GROUP,
    TASK_DEFINITION_ARN,
    RELEASED_IMAGE_TAG,
)
"""What the compute stack may put out for an application service, as ``output_key(service, attribute)``:
``service_outputs`` says which, by what the service has."""


def service_outputs(*, registered: bool, public: bool) -> tuple[str, ...]:
    """The outputs of one service: its Cloud Map id where it is registered (it has a port), its
    target group where it is public, the rest always."""
    return tuple(
        attribute
        for attribute in SERVICE_OUTPUTS
        if (attribute != CLOUD_MAP_SERVICE_ID or registered) and (attribute != TARGET_GROUP_ARN or public)
    )


def image_tag_parameter(service_name: str) -> str:
    """``backend`` -> ``BackendImageTag``: the compute stack's parameter that holds the released tag."""
    return output_key(service_name, "ImageTag")


# The release marks each image it releases with a second tag under this prefix; the
# repositories' lifecycle keeps the newest of these, so what runs never expires.
RELEASE_TAG_PREFIX = "release-"
