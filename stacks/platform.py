"""Builds every stack of the platform for one spec, in dependency order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import jsii
from aws_cdk import Acknowledgment, App, Aspects, CfnResource, Environment, IAspect, Tags, Validations
from aws_cdk.region_info import RegionInfo
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

from compliance.cfn_lint_findings import redundant_role_dependencies
from compliance.custom_resource_timeouts import bounded_custom_resources
from compliance.reachability_check import ReachabilityCheck
from layers.shared.cross_stack_reads import CarryingSynthesizer
from platform_spec import PlatformSpec, SpecError
from platform_spec.names import COMPUTE, DATA, DELIVERY, EDGE, NETWORK, OBSERVABILITY
from platform_spec.regions import CLOUDFRONT_REGION
from stacks.compute_stack import ComputeStack
from stacks.data_stack import DataStack
from stacks.delivery_stack import DeliveryStack
from stacks.edge_stack import EdgeStack
from stacks.network_stack import NetworkStack
from stacks.observability_stack import ObservabilityStack

Touch = Callable[[CfnResource, str], None]
"""What to do to one CloudFormation resource, given its type."""


@jsii.implements(IAspect)
class EachResource:
    """Hands every CloudFormation resource of the app, with its type, to each of ``touches``.

    Each visit is a call from Node into Python (jsii), one per construct: one aspect for all the
    touches costs one call per construct, where an aspect per touch cost one each (docs/benchmarks.md)."""

    def __init__(self, *touches: Touch) -> None:
        self._touches = touches
        self._types: dict[type, str | None] = {}

    def visit(self, node: IConstruct) -> None:
        cls = type(node)
        # The MRO, not isinstance: a negative isinstance on a jsii class walks every L1 class (abc).
        if CfnResource not in cls.__mro__:
            return
        if cls not in self._types:
            # An L1 class names its type, read once; a plain CfnResource (a custom resource's) is asked.
            self._types[cls] = getattr(cls, "CFN_RESOURCE_TYPE_NAME", None)
        resource = cast(CfnResource, node)
        resource_type = self._types[cls] or resource.cfn_resource_type
        for touch in self._touches:
            touch(resource, resource_type)


@dataclass(frozen=True)
class PlatformStacks:
    network: NetworkStack
    data: DataStack
    compute: ComputeStack
    observability: ObservabilityStack
    delivery: DeliveryStack
    edge: EdgeStack | None
    """CloudFront's pieces in us-east-1, for a platform in another region."""


def _edge_stack(app: App, spec: PlatformSpec, rendered: dict[str, Any]) -> EdgeStack | None:
    """The us-east-1 stack of a platform elsewhere; its values reach the compute stack through
    CDK's cross-region references (SSM parameters written into the platform's region)."""
    if not spec.edge_in_own_stack:
        return None
    # CloudFront delivers no standard logs to buckets in opt-in regions ("Standard logging
    # (legacy)", choosing a bucket), and the access-log bucket is in the platform's region.
    if RegionInfo.get(spec.region).is_opt_in_region:
        raise SpecError("region", spec.region, "an opt-in region: CloudFront delivers no access logs to buckets there")
    return EdgeStack(
        app,
        spec.stack_name(EDGE),
        spec=spec,
        env=Environment(account=spec.account, region=CLOUDFRONT_REGION),
        description=f"{spec.stack_prefix}: CloudFront's web ACL, viewer-request function and certificate",
        synthesizer=CarryingSynthesizer(rendered),
    )


def build_platform(app: App, spec: PlatformSpec) -> PlatformStacks:
    env = Environment(account=spec.account, region=spec.region)
    # What each stack wrote, for the ones after it: a reader of a weak reference carries the
    # fingerprint of what would replace it (layers/shared/cross_stack_reads.py).
    rendered: dict[str, Any] = {}
    edge = _edge_stack(app, spec, rendered)
    network = NetworkStack(
        app,
        spec.stack_name(NETWORK),
        spec=spec,
        env=env,
        description=f"{spec.stack_prefix}: VPC, flow logs, security groups and the rules between them",
        synthesizer=CarryingSynthesizer(rendered),
    )
    data = DataStack(
        app,
        spec.stack_name(DATA),
        spec=spec,
        vpc=network.vpc,
        security_groups=network.security_groups,
        env=env,
        description=f"{spec.stack_prefix}: database, file system, buckets, registries, keys and backups",
        synthesizer=CarryingSynthesizer(rendered),
    )
    compute = ComputeStack(
        app,
        spec.stack_name(COMPUTE),
        spec=spec,
        vpc=network.vpc,
        security_groups=network.security_groups,
        state=data.for_compute,
        edge_guards=edge.guards.handle if edge else None,
        env=env,
        description=f"{spec.stack_prefix}: ECS cluster, Cloud Map, application services, load balancer, CloudFront",
        synthesizer=CarryingSynthesizer(rendered),
    )
    if edge is not None:
        compute.add_stack_dependency(edge)
    observability = ObservabilityStack(
        app,
        spec.stack_name(OBSERVABILITY),
        spec=spec,
        vpc=network.vpc,
        security_groups=network.security_groups,
        state=data.for_observability,
        platform=compute.observed,
        env=env,
        description=f"{spec.stack_prefix}: Prometheus, Grafana, alarms and dashboard",
        synthesizer=CarryingSynthesizer(rendered),
    )
    delivery = DeliveryStack(
        app,
        spec.stack_name(DELIVERY),
        spec=spec,
        vpc=network.vpc,
        security_groups=network.security_groups,
        state=data.for_delivery,
        public_url=compute.edge.public_url,
        released=compute.released,
        notifications=observability.alarms.notifications,
        env=env,
        description=f"{spec.stack_prefix}: migrations and smoke-test tasks, deployment state machine, targets probe",
        synthesizer=CarryingSynthesizer(rendered),
    )
    # The release updates the compute stack; deploy the delivery stack after it.
    delivery.add_stack_dependency(compute)
    Tags.of(app).add("project", spec.project)
    Tags.of(app).add("environment", spec.environment)
    return PlatformStacks(
        network=network, data=data, compute=compute, observability=observability, delivery=delivery, edge=edge
    )


def touch_every_resource(app: App, spec: PlatformSpec) -> None:
    """cfn-lint's W3005 note and custom resources' ``ServiceTimeout`` on every resource of the app.
    Call it once every stack is built, the CI roles' stack included: it walks what exists then,
    from Python, where an aspect would be a call from Node for each of some 700 constructs
    (docs/benchmarks.md). Outside us-east-1 it is an aspect: cross-region references make their
    resources while the app synthesizes."""
    touches = EachResource(redundant_role_dependencies, bounded_custom_resources)
    if spec.edge_in_own_stack:
        Aspects.of(app).add(touches)
        return
    for node in app.node.find_all():
        touches.visit(node)


def add_compliance_checks(app: App, spec: PlatformSpec) -> None:
    """cdk-nag packs and the reachability check, run by every synth; findings fail it unless acknowledged."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(), NIST80053R5Checks(), ReachabilityCheck(spec))
    Validations.of(app).acknowledge(
        Acknowledgment(
            id="NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            # tests/synth/test_compliance.py holds this reason true for the whole app.
            reason="Every inline policy in this app is the policy CDK writes on one role it created, "
            "holding exactly the grants made to that role; it cannot be attached to any other "
            "principal, which keeps each role's permissions in one reviewed place.",
        )
    )
