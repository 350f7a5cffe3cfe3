"""Typed bundles a workload takes from another stack: what it needs and nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns


@dataclass(frozen=True)
class ConfigSource:
    """The data stack's configuration bucket and the key its objects (and the platform's
    generated secrets) are encrypted with: where tasks read their rendered configuration."""

    bucket: s3.IBucket
    key: kms.IKey


@dataclass(frozen=True)
class PublicEntry:
    """How viewers reach what the load balancer serves: CloudFront forwards to ``listener``,
    and viewers name the platform by ``public_hosts`` (the first is the canonical one)."""

    listener: elbv2.ApplicationListener
    public_hosts: Sequence[str]


@dataclass(frozen=True)
class Notifications:
    """The alarm topic and the key it is encrypted with: whoever publishes needs both."""

    topic: sns.ITopic
    key: kms.IKey


@dataclass(frozen=True)
class EdgeGuardsHandle:
    """What the distribution takes from the us-east-1 edge stack (``EdgeGuards``)."""

    web_acl_arn: str
    viewer_request_function: cloudfront.IFunction
    viewer_certificate: acm.ICertificate | None
    """The domain's viewer certificate, where the platform has its own domain."""
