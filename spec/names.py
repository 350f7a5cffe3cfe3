"""The names the stacks, the tools and the tests share: stack names and their layers, and the
fixed names of things one stack makes and another side finds. One module owns each, so no side
rebuilds a name by hand. (Stack outputs and parameters: ``spec.outputs``.)"""

from __future__ import annotations

NETWORK = "network"
DATA = "data"
COMPUTE = "compute"
OBSERVABILITY = "observability"
DELIVERY = "delivery"
LAYERS = (NETWORK, DATA, COMPUTE, OBSERVABILITY, DELIVERY)
"""Each profile's stacks, in the order they deploy."""

TARGETS_PROBE = "targets-probe"
"""The verify command's one-off task: its security group's party and its container's name."""


def stack_prefix(environment: str, project: str) -> str:
    """``dev-davidshaevel``: the seeds' naming, shared by stacks and resources (and the CI roles)."""
    return f"{environment}-{project}"


def stack_name(prefix: str, layer: str) -> str:
    """``dev-davidshaevel-compute``: the stack of ``layer`` in the profile named by ``prefix``."""
    if layer not in LAYERS:
        raise ValueError(f"no layer {layer!r}; the layers are {', '.join(LAYERS)}")
    return f"{prefix}-{layer}"


def release_state_machine_name(prefix: str) -> str:
    """``dev-davidshaevel-release``: the release state machine's fixed name, so the CI's release
    role can name its ARN (Step Functions cannot narrow StartExecution by a condition)."""
    return f"{prefix}-release"
