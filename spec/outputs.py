"""Names of the stack outputs the verify command reads: one place for both sides."""

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
PROBE_CONTAINER = "targets-probe"
