"""What the us-east-1 edge stack hands the compute stack's distribution."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront


@dataclass(frozen=True)
class EdgeGuardsHandle:
    """What the distribution takes from the us-east-1 edge stack (``EdgeGuards``)."""

    web_acl_arn: str
    viewer_request_function: cloudfront.IFunction
    viewer_certificate: acm.ICertificate | None
    """The domain's viewer certificate, where the platform has its own domain."""
