"""The access ledger's entries: who calls (a role of the platform, an AWS service, or an
AWS-owned account), the action, the resource and any KMS key involved, and why the platform needs
it; each decides itself against the deployment's policies (``aws_model.iam``). Also the calls that
need no IAM permission but a bucket's ACL settings, and the passage through a VPC endpoint's
policy."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_model.cloudformation import Deployment
from aws_model.iam import Decision, NamedPolicy, Principal, Request, evaluate

# Accounts that deliver Application Load Balancer access logs in the older regions
# (Elastic Load Balancing user guide, "Enable access logs", bucket policy); newer regions
# deliver as the service principal below.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "eu-central-1": "054676820928",
}
ELB_LOG_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
# The rule the runTask.sync integration keeps for its task-state events (Step Functions
# developer guide, "IAM policies for Amazon ECS/Fargate").
ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
ACL_OWNERSHIP = ("BucketOwnerPreferred", "ObjectWriter")
# What a state machine needs to log its executions to CloudWatch Logs and trace them with
# X-Ray; none of these actions has resource-level permissions.
EXECUTION_LOG_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)


# What an endpoint created without a policy has (AWS PrivateLink guide, "Control access to VPC
# endpoints using endpoint policies": the default endpoint policy).
DEFAULT_ENDPOINT_POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class ExternalSecret:
    """A secret a task reads that no stack of the deployment creates (the spec names it): the ARN IAM
    authorizes a read against, and the customer managed key that encrypts it, if any."""

    arn: str
    """The secret's complete ARN (for a Secrets Manager secret named without its suffix, one with
    a suffix of the form Secrets Manager appends), or the SSM parameter's ARN."""
    key_arn: str | None = None
    """``None``: the service's AWS managed key, which any principal of the account may use through
    the service ("AWS managed keys", KMS developer guide)."""


def default_key_policy(key_arn: str, account: str) -> NamedPolicy:
    """The key policy a customer managed key is created with unless told otherwise ("Default key
    policy", KMS developer guide): the account's IAM policies decide. A key of the user's own is
    assumed to keep it (docs/adopting.md, "Settings and secrets")."""
    return NamedPolicy(
        name=f"{key_arn} (assumed: the default key policy)",
        document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    )


@dataclass(frozen=True)
class Caller:
    """Who makes a call: a role of the deployment, an AWS service, or an AWS-owned account."""

    label: str
    principal: Principal
    role: tuple[str, str] | None = None
    """(stack, logical id) of the role, whose identity policies apply."""
    external: bool = False


@dataclass(frozen=True)
class Entry:
    """One run-time call the platform depends on."""

    purpose: str
    caller: Caller
    action: str
    resource: str
    key: str | None = None
    """The KMS key the call uses, for the table; a call *on* a key has it as its resource."""
    context: Mapping[str, str | bool | Sequence[str]] = field(default_factory=dict)
    outside_policy: NamedPolicy | None = None
    """The resource's policy where the resource is not in the deployment (a user's own key)."""

    def check(self, deployment: Deployment) -> Decision:
        context: dict[str, str | bool | Sequence[str]] = {"aws:SecureTransport": True, **self.context}
        identity = deployment.identity_policies(*self.caller.role) if self.caller.role else []
        return evaluate(
            Request(principal=self.caller.principal, action=self.action, resource=self.resource, context=context),
            account=deployment.account,
            identity_policies=identity,
            resource_policy=self.outside_policy or deployment.resource_policy(self.resource),
            resource_is_kms_key=_is_key(self.resource),
            external_principal=self.caller.external,
        )

    @property
    def row(self) -> str:
        return f"{self.purpose}: {self.caller.label} -> {self.action} on {self.resource}"


@dataclass(frozen=True)
class AclDelivery:
    """A delivery that writes with an object ACL instead of an IAM permission: CloudFront's
    standard logs. The bucket must have ACLs enabled and no KMS default encryption
    (CloudFront developer guide, "Configure standard logging (legacy)": bucket permissions)."""

    purpose: str
    bucket: tuple[str, str]

    def check(self, deployment: Deployment) -> Decision:
        stack, logical_id = self.bucket
        properties = deployment.resource(stack, logical_id).get("Properties", {})
        rules = properties.get("OwnershipControls", {}).get("Rules", [{}])
        ownership = rules[0].get("ObjectOwnership", "BucketOwnerEnforced")
        if ownership not in ACL_OWNERSHIP:
            return Decision(False, f"{stack}/{logical_id} has ObjectOwnership {ownership}: ACLs are disabled")
        encryption = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])
        algorithm = encryption[0].get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "AES256")
        if algorithm != "AES256":
            return Decision(False, f"{stack}/{logical_id} encrypts with {algorithm} by default")
        return Decision(True, f"{stack}/{logical_id} accepts ACL-granted deliveries ({ownership}, SSE-S3)")

    @property
    def row(self) -> str:
        return f"{self.purpose}: CloudFront log delivery -> object ACL write to {self.bucket[1]}"


@dataclass(frozen=True)
class EndpointPassage:
    """A request from the VPC to a service it has an endpoint for: the S3 gateway endpoint on the
    application subnets' route tables, or an interface endpoint whose private DNS sends every task
    of the VPC to it. Its policy must let the request through too (AWS PrivateLink guide, "Control
    access to VPC endpoints using endpoint policies"). Without an endpoint the request leaves
    through the NAT, and nothing here applies.

    ``principal``: the caller's ARN; by default a role of this account stands for the platform's
    own tasks. A principal of another account is judged on the endpoint's policy alone (its own
    account's IAM is not ours to see), so the ledger can show that stolen credentials do not pass."""

    purpose: str
    action: str
    resource: str
    service: str = "s3"
    """The endpoint's service, as its name ends (``com.amazonaws.<region>.<service>``)."""
    principal: str | None = None

    def check(self, deployment: Deployment) -> Decision:
        endpoints = [
            (stack, logical_id, body)
            for stack in deployment.stacks
            for logical_id, body in deployment.resources(stack, "AWS::EC2::VPCEndpoint").items()
            if str(deployment.resolve(stack, body["Properties"]["ServiceName"])).endswith(f".{self.service}")
        ]
        if not endpoints:
            return Decision(True, f"no {self.service} endpoint: the request goes out through the NAT")
        principal = self.principal or f"arn:{deployment.partition}:iam::{deployment.account}:role/task"
        context: dict[str, str | bool | Sequence[str]] = {"aws:SecureTransport": True}
        owner = re.fullmatch(r"arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):.+", self.resource)
        if owner is not None:
            context["aws:ResourceAccount"] = owner.group(1)
        for stack, logical_id, body in endpoints:
            # Without a policy of its own an endpoint has the default one: full access to anyone.
            document = body["Properties"].get("PolicyDocument", DEFAULT_ENDPOINT_POLICY)
            policy = NamedPolicy(name=f"{stack}/{logical_id}", document=deployment.resolve(stack, document))
            request = Request(
                principal=Principal("AWS", principal), action=self.action, resource=self.resource, context=context
            )
            decision = evaluate(
                request,
                account=deployment.account,
                identity_policies=[],
                resource_policy=policy,
                external_principal=not principal.startswith(f"arn:{deployment.partition}:iam::{deployment.account}:"),
            )
            if not decision.allowed:
                return Decision(False, f"the {self.service} endpoint refuses it: {decision.reason}")
        return Decision(True, f"the {self.service} endpoint's policy lets it through")

    @property
    def row(self) -> str:
        return f"{self.purpose}: through the {self.service} endpoint -> {self.action} on {self.resource}"


LedgerEntry = Entry | AclDelivery | EndpointPassage


@dataclass(frozen=True)
class Failure:
    entry: LedgerEntry
    reason: str

    def __str__(self) -> str:
        return f"{self.entry.row}: {self.reason}"


def check_ledger(deployment: Deployment, entries: Sequence[LedgerEntry]) -> list[Failure]:
    """Every entry whose call the deployment's policies would refuse, with the reason."""
    failures = []
    for entry in entries:
        decision = entry.check(deployment)
        if not decision.allowed:
            failures.append(Failure(entry, decision.reason))
    return failures


def _is_key(arn: str) -> bool:
    return re.fullmatch(r"arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key/.+", arn) is not None
