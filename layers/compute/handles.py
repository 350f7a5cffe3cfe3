"""What the compute stack hands the others: typed, and no more than each receiver uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_servicediscovery as servicediscovery

from layers.compute.application_service import ApplicationService


@dataclass(frozen=True)
class PublicEntry:
    """How viewers reach what the load balancer serves: CloudFront forwards to ``listener``,
    and viewers name the platform by ``public_hosts`` (the first is the canonical one)."""

    listener: elbv2.ApplicationListener
    public_hosts: Sequence[str]


@dataclass(frozen=True)
class ReleasedCompute:
    """From the compute stack to the delivery stack: what a release's update of the image tags
    changes, for the role CloudFormation makes that update with."""

    services: Sequence[ApplicationService]
    hooks: Sequence[lambda_.IFunction]
    """The functions of the custom resources that read the tags."""


@dataclass(frozen=True)
class ObservedPlatform:
    """From the compute stack to the observability stack: what Prometheus discovers in, what
    the alarms watch, and where Grafana is served."""

    namespace: servicediscovery.IPrivateDnsNamespace
    listener: elbv2.ApplicationListener
    load_balancer: elbv2.ApplicationLoadBalancer
    public_hosts: tuple[str, ...]
    services: Mapping[str, ApplicationService]
