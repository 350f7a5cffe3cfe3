"""S3 for the application subnets through a gateway endpoint: no NAT, and only the buckets
the tasks read."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct


def ecr_layer_bucket_arn() -> str:
    """Where ECR keeps image layers: a task pulling a private image reads them from S3 (Amazon
    ECR user guide, "Amazon ECR interface VPC endpoints", the S3 gateway endpoint's policy)."""
    return f"arn:{Aws.PARTITION}:s3:::prod-{Aws.REGION}-starport-layer-bucket/*"


class S3GatewayEndpoint(Construct):
    """A gateway endpoint (no hourly charge) on the application subnets' route tables, whose
    policy lets requests through only to ``bucket_names`` and ECR's layer bucket: a task
    cannot move data to any other bucket through it."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, bucket_names: list[str]) -> None:
        """``vpc``: the platform's VPC, whose application subnets' route tables get the endpoint.
        ``bucket_names``: the buckets tasks may read through it (the config bucket, which holds the
        rendered Prometheus, Alertmanager and Grafana configuration)."""
        super().__init__(scope, construct_id)
        self.endpoint = vpc.add_gateway_endpoint(
            "Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
        )
        buckets = [f"arn:{Aws.PARTITION}:s3:::{name}" for name in bucket_names]
        self.endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="PlatformBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[*buckets, *(f"{bucket}/*" for bucket in buckets)],
            )
        )
        self.endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="EcrImageLayers",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[ecr_layer_bucket_arn()],
            )
        )
