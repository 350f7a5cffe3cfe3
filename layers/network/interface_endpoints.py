"""Interface VPC endpoints for what the application tasks need to start, so their HTTPS
egress can end inside the VPC, each with a policy that lets only this account through."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

# Actions of each service that name no resource, so a request carries no ``aws:ResourceAccount``
# to test: only the caller's account is checked for them. ECR's token is per registry, not per
# repository (Amazon ECR user guide, "Amazon ECR interface VPC endpoints (AWS PrivateLink)":
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html); ECS Exec's channels
# are not resources (Amazon ECS developer guide, "Monitor Amazon ECS containers with ECS Exec").
RESOURCE_LESS_ACTIONS: dict[str, tuple[str, ...]] = {
    "ecr.api": ("ecr:GetAuthorizationToken",),
    "ecr.dkr": ("ecr:GetAuthorizationToken",),
    "ssmmessages": ("ssmmessages:*",),
    # ECS Exec lists the account's log groups before it writes its session log.
    "logs": ("logs:DescribeLogGroups",),
}


# Where each service keeps this account's resources (Service Authorization Reference, each
# service's resource types), region and account filled in.
RESOURCE_PATTERNS: dict[str, str] = {
    "ecr.api": "ecr:{region}:{account}:repository/*",
    "ecr.dkr": "ecr:{region}:{account}:repository/*",
    "logs": "logs:{region}:{account}:log-group:*",
    "secretsmanager": "secretsmanager:{region}:{account}:secret:*",
    "ssm": "ssm:{region}:{account}:parameter/*",
    "kms": "kms:{region}:{account}:key/*",
}


def account_resources(service: str) -> list[str]:
    """The ARNs of this account's resources of ``service``: none for a service whose actions all
    name no resource (ECS Exec's channels)."""
    if RESOURCE_LESS_ACTIONS.get(service) == (f"{service}:*",):
        return []
    pattern = RESOURCE_PATTERNS.get(service, f"{service.split('.', maxsplit=1)[0]}:{{region}}:{{account}}:*")
    return [f"arn:{Aws.PARTITION}:" + pattern.format(region=Aws.REGION, account=Aws.ACCOUNT_ID)]


def endpoint_policy_statements(service: str) -> list[iam.PolicyStatement]:
    """What an endpoint for ``service`` lets through: any call a principal of this account makes on
    a resource of this account (by ARN, and ``aws:PrincipalAccount``, ``aws:ResourceAccount``), and
    its resource-less actions for this account's principals. Credentials of another account, or a
    resource of another account (say, moving data into someone else's log group or secret), are
    refused at the endpoint whatever IAM says (AWS PrivateLink guide, "Control access to VPC
    endpoints using endpoint policies":
    https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html; IAM user guide,
    "AWS global condition context keys": aws:PrincipalAccount, aws:ResourceAccount).

    ECR's image layers are the documented exception to "resources of this account": they live in
    an AWS-owned S3 bucket, which tasks reach through the S3 gateway endpoint, whose own policy
    names that bucket (``s3_gateway_endpoint.py``), never through these."""
    this_account = {"aws:PrincipalAccount": Aws.ACCOUNT_ID}
    statements = []
    resources = account_resources(service)
    if resources:
        statements.append(
            iam.PolicyStatement(
                sid="ThisAccountsPrincipalsOnThisAccountsResources",
                principals=[iam.AnyPrincipal()],
                actions=["*"],
                resources=resources,
                conditions={"StringEquals": {**this_account, "aws:ResourceAccount": Aws.ACCOUNT_ID}},
            )
        )
    resource_less = RESOURCE_LESS_ACTIONS.get(service, ())
    if resource_less:
        statements.append(
            iam.PolicyStatement(
                sid="ThisAccountsPrincipalsResourceLessActions",
                principals=[iam.AnyPrincipal()],
                actions=list(resource_less),
                resources=["*"],
                conditions={"StringEquals": this_account},
            )
        )
    return statements


class InterfaceEndpoints(Construct):
    """One interface endpoint per name of ``services`` (``ecr.api``, ``logs``, …) in the
    application subnets of every zone, with private DNS: every task in the VPC that calls one
    of these services reaches it here. ``security_group`` admits only the task groups the spec
    declares (``open=False``: no rule from the whole VPC). Each endpoint's policy admits only
    this account (``endpoint_policy_statements``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        services: tuple[str, ...],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        """``vpc``: the platform's VPC, in whose application subnets the endpoints sit. ``services``: the
        endpoint service names (``platform_spec.connections.endpoint_services``: what the enclosed tasks
        call). ``security_group``: the network stack's sealed endpoints group, which the spec's paths
        open to those tasks only."""
        super().__init__(scope, construct_id)
        self.endpoints = {name: self._build_endpoint(vpc, name, security_group) for name in services}

    def _build_endpoint(self, vpc: ec2.IVpc, name: str, security_group: ec2.ISecurityGroup) -> ec2.InterfaceVpcEndpoint:
        endpoint = vpc.add_interface_endpoint(
            name.replace(".", "-"),
            service=ec2.InterfaceVpcEndpointAwsService(name),
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[security_group],
            private_dns_enabled=True,
            open=False,
        )
        for statement in endpoint_policy_statements(name):
            endpoint.add_to_policy(statement)
        return endpoint
