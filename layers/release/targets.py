"""What the release acts on, by name: the inputs of ``layers.release.definition`` besides the spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class OneOffRun:
    """A task that runs to completion on the new image: migrations, smoke tests."""

    step: str
    """State-name stem and failed-step name (``Migrations``)."""
    task_definition_arn: str
    """The revision the stacks define; each release registers a copy with the new image."""
    repository_uri: str
    """The service's repository: every container on an image from it gets the new tag."""
    security_group_id: str


@dataclass(frozen=True, kw_only=True)
class ReleaseTargets:
    """What the release acts on, by name: the stacks' tokens at synth, plain strings in tests."""

    compute_stack: str
    stack_role_arn: str
    """The release's own CloudFormation service role, passed with each update of the compute
    stack (``layers/release/release_stack_role.py``): never the bootstrap's execution role."""
    cluster_arn: str
    subnets: tuple[str, ...]
    topic_arn: str
    repositories: Mapping[str, str]
    """Service name -> ECR repository name."""
    migrations: OneOffRun
    smoke_tests: OneOffRun
