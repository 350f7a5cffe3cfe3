"""The access ledger: every run-time AWS call the platform depends on, and whether the
synthesized policies let it happen.

Each entry names who calls (a role of the platform, an AWS service, or an AWS-owned
account), the action, the resource and any KMS key involved, and why the platform needs
it. Entries are read off the synthesized templates, which follow from the spec: every
container of every task definition pulls its image, writes its logs and reads its
secrets; every init container that copies from S3 reads what its command names; every
alarm publishes to its topic; every encrypted log group is written through its key;
and so on. A service added to the spec adds its entries without an edit here.

``check_ledger`` evaluates each entry with ``compliance.iam_evaluator`` against every
policy that applies in the deployment (the caller's identity policies, the resource's
own policy, key policies), explicit denies first, and returns the entries that fail
with the statement (or the absence of one) that decides it.

``python -m compliance.access_ledger cdk.out`` prints the table for a synthesized profile.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.cloudformation_values import Deployment
from compliance.iam_evaluator import Decision, NamedPolicy, Principal, Request, evaluate
from compliance.stack_updates import update_calls

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


def ledger(
    deployment: Deployment, *, external_secrets: Mapping[str, ExternalSecret] | None = None
) -> list[LedgerEntry]:
    """Every run-time call the deployed templates depend on. ``external_secrets``: the secrets tasks
    read that the deployment does not create, by the ARN the task definition names."""
    reader = _Reader(deployment, external_secrets or {})
    return [
        *reader.task_definitions(),
        *reader.exec_sessions(),
        *reader.functions(),
        *reader.state_machines(),
        *reader.alarms(),
        *reader.encrypted_log_groups(),
        *reader.access_logs(),
        *reader.flow_logs(),
        *reader.audit_trails(),
        *reader.nat_instances(),
        *reader.schedules(),
    ]


def _task_states(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Task state, inside Map and Parallel states too; a Task inside a Map whose items
    are a literal list carries them as ``__map_items__``."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _task_states(branch["States"])
        if "ItemProcessor" in state:
            items = state.get("Items") if isinstance(state.get("Items"), list) else []
            for inner, task in _task_states(state["ItemProcessor"]["States"]):
                yield inner, {**task, "__map_items__": items}


def _described_task_definitions(tasks: list[tuple[str, Mapping[str, Any]]], step: str) -> list[str]:
    """The task definition ``Describe<step>`` reads to register the revision ``Run<step>`` runs."""
    return [
        str(state["Arguments"]["TaskDefinition"])
        for name, state in tasks
        if name == f"Describe{step}" and state["Resource"].endswith(":ecs:describeTaskDefinition")
    ]


def _is_key(arn: str) -> bool:
    return re.fullmatch(r"arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key/.+", arn) is not None


def _logical_id(value: Any) -> str | None:
    """The logical id a raw ``Ref`` or ``Fn::GetAtt`` names, else None."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


class _Reader:
    """Reads the entries off the templates of one deployment."""

    def __init__(self, deployment: Deployment, external_secrets: Mapping[str, ExternalSecret]) -> None:
        self.d = deployment
        self.external_secrets = external_secrets
        self.partition, self.region, self.account = deployment.partition, deployment.region, deployment.account

    # --- helpers --------------------------------------------------------------------------

    def _all(self, resource_type: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        for stack in self.d.stacks:
            for logical_id, body in self.d.resources(stack, resource_type).items():
                yield stack, logical_id, body

    def _props(self, stack: str, body: Mapping[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = self.d.resolve(stack, body.get("Properties", {}))
        return resolved

    def _role(self, stack: str, raw: Any, label: str) -> Caller:
        logical_id = _logical_id(raw)
        if logical_id is None:
            raise ValueError(f"{stack}: cannot tell which role {raw!r} is")
        return Caller(
            label=label, principal=Principal("AWS", self.d.role_arn(stack, logical_id)), role=(stack, logical_id)
        )

    def _service(self, name: str) -> Caller:
        return Caller(label=name, principal=Principal("Service", name))

    def _find(self, resource_type: str, attribute: str, value: str) -> tuple[str, str]:
        """The resource of ``resource_type`` whose ``attribute`` (or Ref) has ``value``."""
        for stack, logical_id, _ in self._all(resource_type):
            actual = (
                self.d.ref(stack, logical_id) if attribute == "Ref" else self.d.get_att(stack, logical_id, attribute)
            )
            if actual == value:
                return stack, logical_id
        raise ValueError(f"no {resource_type} with {attribute} {value!r} in the deployment")

    def _log_stream(self, group: str, stream: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{group}:log-stream:{stream}"

    def _log_group_arn(self, group: str, *, region: str | None = None) -> str:
        return f"arn:{self.partition}:logs:{region or self.region}:{self.account}:log-group:{group}"

    def _via(self, service: str) -> dict[str, str]:
        return {"kms:ViaService": f"{service}.{self.region}.amazonaws.com"}

    def _bucket_key(self, bucket_name: str) -> str | None:
        stack, logical_id = self._find("AWS::S3::Bucket", "Ref", bucket_name)
        props = self._props(stack, self.d.resource(stack, logical_id))
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])
        key: str | None = rules[0].get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        return key

    def _secret_key(self, secret_arn: str) -> str | None:
        for stack, logical_id, body in self._all("AWS::SecretsManager::Secret"):
            if self.d.ref(stack, logical_id) == secret_arn:
                key: str | None = self._props(stack, body).get("KmsKeyId")
                return key
        for stack, logical_id, body in self._all("AWS::RDS::DBInstance"):
            if self.d.get_att(stack, logical_id, "MasterUserSecret.SecretArn") == secret_arn:
                master: str | None = self._props(stack, body).get("MasterUserSecret", {}).get("KmsKeyId")
                return master
        raise ValueError(f"no secret {secret_arn} in the deployment, nor named as an external secret")

    def _s3_read(self, caller: Caller, purpose: str, bucket: str, object_key: str) -> list[LedgerEntry]:
        arn = f"arn:{self.partition}:s3:::{bucket}/{object_key}"
        key = self._bucket_key(bucket)
        entries: list[LedgerEntry] = [
            Entry(purpose, caller, "s3:GetObject", arn, key=key),
            EndpointPassage(purpose, "s3:GetObject", arn),
        ]
        if key is not None:
            entries.append(Entry(purpose, caller, "kms:Decrypt", key, key=key, context=self._via("s3")))
        return entries

    # --- tasks --------------------------------------------------------------------------------

    def task_definitions(self) -> Iterator[LedgerEntry]:
        for stack, _, body in self._all("AWS::ECS::TaskDefinition"):
            raw = body["Properties"]
            props = self._props(stack, body)
            containers = props["ContainerDefinitions"]
            name = next(c["Name"] for c in containers if c.get("Essential", True))
            execution = self._role(stack, raw["ExecutionRoleArn"], f"{name} task's execution role")
            task = self._role(stack, raw["TaskRoleArn"], f"{name} task's role")
            for container in containers:
                yield from self._launch(execution, container)
                yield from self._s3_loader(task, container)
                yield from self._database(task, container)
            yield from self._file_systems(task, props)

    def _pulled_through(self, repository: str) -> bool:
        """Whether ``repository`` is under a pull-through cache rule's prefix."""
        return any(
            repository.startswith(f"{self._props(stack, body)['EcrRepositoryPrefix']}/")
            for stack, _, body in self._all("AWS::ECR::PullThroughCacheRule")
        )

    def _launch(self, execution: Caller, container: Mapping[str, Any]) -> Iterator[LedgerEntry]:
        """What the execution role does to start a container: pull, log, read secrets."""
        name = container["Name"]
        image = str(container["Image"])
        registry = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/"
        if image.startswith(registry):
            repository = image.removeprefix(registry).rsplit(":", 1)[0].split("@")[0]
            arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{repository}"
            purpose = f"{name}: pull its image"
            yield Entry(purpose, execution, "ecr:GetAuthorizationToken", "*")
            yield EndpointPassage(purpose, "ecr:GetAuthorizationToken", "*", service="ecr.api")
            for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"):
                yield Entry(purpose, execution, action, arn)
                yield EndpointPassage(purpose, action, arn, service="ecr.dkr")
            if self._pulled_through(repository):
                # A pull through the cache imports the image, and creates its repository the first
                # time (Amazon ECR user guide, "IAM permissions required to sync an upstream registry").
                imported = f"{name}: import its image through the pull-through cache"
                for action in ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
                    yield Entry(imported, execution, action, arn)
                    yield EndpointPassage(imported, action, arn, service="ecr.dkr")
            layer = f"arn:{self.partition}:s3:::prod-{self.region}-starport-layer-bucket/layer-digest"
            yield EndpointPassage(purpose, "s3:GetObject", layer)
        options = container.get("LogConfiguration", {}).get("Options", {})
        if "awslogs-group" in options:
            stream = self._log_stream(options["awslogs-group"], f"{options['awslogs-stream-prefix']}/{name}/task-id")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Entry(f"{name}: send its logs", execution, action, stream)
                yield EndpointPassage(f"{name}: send its logs", action, stream, service="logs")
        for secret in container.get("Secrets", []):
            yield from self._secret(execution, f"{name}: read {secret['Name']}", str(secret["ValueFrom"]))

    def _secret(self, execution: Caller, purpose: str, value_from: str) -> Iterator[LedgerEntry]:
        """ECS reads a secret with the execution role ("Required IAM permissions for Amazon ECS
        secrets"): GetSecretValue on a Secrets Manager secret (``valueFrom`` may add a JSON key,
        version stage and id after the ARN), GetParameters on an SSM parameter; each decrypted
        through its service with the key that encrypts it."""
        parameter = ":ssm:" in value_from
        arn = value_from if parameter else ":".join(value_from.split(":")[:7])
        action, service = (
            ("ssm:GetParameters", "ssm") if parameter else ("secretsmanager:GetSecretValue", "secretsmanager")
        )
        external = self.external_secrets.get(arn)
        yield EndpointPassage(purpose, action, external.arn if external else arn, service=service)
        if external is not None:
            yield Entry(purpose, execution, action, external.arn, key=external.key_arn)
            if external.key_arn is not None:
                yield Entry(
                    purpose,
                    execution,
                    "kms:Decrypt",
                    external.key_arn,
                    key=external.key_arn,
                    context=self._via(service),
                    outside_policy=default_key_policy(external.key_arn, self.account),
                )
            return
        key = self._secret_key(arn)
        yield Entry(purpose, execution, action, arn, key=key)
        if key is not None:
            yield Entry(purpose, execution, "kms:Decrypt", key, key=key, context=self._via(service))

    def _s3_loader(self, task: Caller, container: Mapping[str, Any]) -> Iterator[LedgerEntry]:
        """An init container that copies from S3 (``s3 cp [--recursive] s3://bucket/key dest``)."""
        command = [str(part) for part in container.get("Command", [])]
        if command[:2] != ["s3", "cp"]:
            return
        recursive = "--recursive" in command
        source = next(part for part in command if part.startswith("s3://"))
        bucket, _, key = source.removeprefix("s3://").partition("/")
        purpose = f"{container['Name']}: copy s3://{bucket}/{key}"
        if not recursive:
            yield from self._s3_read(task, purpose, bucket, key)
            yield from self._configured_calls(task, bucket, key)
            return
        yield Entry(purpose, task, "s3:ListBucket", f"arn:{self.partition}:s3:::{bucket}", context={"s3:prefix": key})
        yield EndpointPassage(purpose, "s3:ListBucket", f"arn:{self.partition}:s3:::{bucket}")
        for object_key in self._objects_under(bucket, key):
            yield from self._s3_read(task, purpose, bucket, object_key)
            yield from self._configured_calls(task, bucket, object_key)

    def _configured_calls(self, task: Caller, bucket: str, object_key: str) -> Iterator[Entry]:
        """What a configuration file the task copies makes it call: a Prometheus configuration
        remote-writes to a managed workspace of the deployment, an Alertmanager configuration
        publishes to topics of the deployment (each named by its ARN in the file)."""
        contents = [
            str(props["Content"])
            for stack, _, body in self._all("Custom::ConfigObject")
            if (props := self._props(stack, body))["Bucket"] == bucket and props["Key"] == object_key
        ]
        for stack, logical_id, _ in self._all("AWS::APS::Workspace"):
            endpoint = self.d.get_att(stack, logical_id, "PrometheusEndpoint")
            if any(endpoint in content for content in contents):
                arn = self.d.get_att(stack, logical_id, "Arn")
                yield Entry("prometheus: remote-write samples", task, "aps:RemoteWrite", arn)
        for stack, logical_id, _ in self._all("AWS::SNS::Topic"):
            topic = self.d.ref(stack, logical_id)
            if any(topic in content for content in contents):
                yield from self._publish(task, f"publish to {topic.rsplit(':', 1)[-1]} (as configured)", topic)

    def _objects_under(self, bucket: str, prefix: str) -> list[str]:
        keys = [
            str(props["Key"])
            for stack, _, body in self._all("Custom::ConfigObject")
            if (props := self._props(stack, body))["Bucket"] == bucket and str(props["Key"]).startswith(prefix)
        ]
        if not keys:
            raise ValueError(f"nothing in the deployment writes under s3://{bucket}/{prefix}")
        return keys

    def _database(self, task: Caller, container: Mapping[str, Any]) -> Iterator[Entry]:
        environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
        if environment.get("DB_IAM_AUTH") != "true":
            return
        stack, logical_id = self._find("AWS::RDS::DBInstance", "Endpoint.Address", environment["DB_HOST"])
        resource_id = self.d.get_att(stack, logical_id, "DbiResourceId")
        user = environment["DB_USER"]
        yield Entry(
            f"{container['Name']}: sign in to PostgreSQL as {user} with IAM authentication",
            task,
            "rds-db:connect",
            f"arn:{self.partition}:rds-db:{self.region}:{self.account}:dbuser:{resource_id}/{user}",
        )

    def _file_systems(self, task: Caller, props: Mapping[str, Any]) -> Iterator[Entry]:
        writers = {
            m["SourceVolume"]
            for c in props["ContainerDefinitions"]
            for m in c.get("MountPoints", [])
            if not m.get("ReadOnly", False)
        }
        for volume in props.get("Volumes", []):
            efs = volume.get("EFSVolumeConfiguration")
            if efs is None or efs.get("AuthorizationConfig", {}).get("IAM") != "ENABLED":
                continue
            fs = self._find("AWS::EFS::FileSystem", "Ref", efs["FilesystemId"])
            point = self._find("AWS::EFS::AccessPoint", "Ref", efs["AuthorizationConfig"]["AccessPointId"])
            fs_arn = self.d.get_att(*fs, "Arn")
            context = {"elasticfilesystem:AccessPointArn": self.d.get_att(*point, "Arn")}
            actions = ["elasticfilesystem:ClientMount"]
            if volume["Name"] in writers:
                actions.append("elasticfilesystem:ClientWrite")
            for action in actions:
                yield Entry(
                    f"mount volume {volume['Name']} through its access point", task, action, fs_arn, context=context
                )

    def exec_sessions(self) -> Iterator[LedgerEntry]:
        """ECS Exec into a service's tasks: the agent's channels, the session log, its key
        (ECS developer guide, "Monitor Amazon ECS containers with ECS Exec": IAM permissions)."""
        for stack, logical_id, body in self._all("AWS::ECS::Service"):
            props = self._props(stack, body)
            if not props.get("EnableExecuteCommand"):
                continue
            task_stack, task_id = self._find("AWS::ECS::TaskDefinition", "Ref", props["TaskDefinition"])
            raw = self.d.resource(task_stack, task_id)["Properties"]
            task = self._role(task_stack, raw["TaskRoleArn"], f"{logical_id} task's role")
            purpose = f"{logical_id}: ECS Exec session"
            for action in (
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
                "logs:DescribeLogGroups",
            ):
                yield Entry(purpose, task, action, "*")
                yield EndpointPassage(purpose, action, "*", service=action.split(":")[0])
            cluster = self._find("AWS::ECS::Cluster", "Ref", props["Cluster"])
            configuration = self._props(cluster[0], self.d.resource(*cluster))["Configuration"]
            exec_config = configuration["ExecuteCommandConfiguration"]
            group = exec_config["LogConfiguration"]["CloudWatchLogGroupName"]
            for action in ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"):
                yield Entry(purpose, task, action, self._log_stream(group, "ecs-execute-command-session"))
                yield EndpointPassage(
                    purpose, action, self._log_stream(group, "ecs-execute-command-session"), service="logs"
                )
            key = exec_config.get("KmsKeyId")
            if key is not None:
                yield Entry(purpose, task, "kms:Decrypt", key, key=key)
                yield EndpointPassage(purpose, "kms:Decrypt", key, service="kms")

    # --- functions and hooks ------------------------------------------------------------------

    def functions(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::Lambda::Function"):
            raw = body["Properties"]
            props = self._props(stack, body)
            role = self._role(stack, raw["Role"], f"function {logical_id}'s role")
            group = props.get("LoggingConfig", {}).get("LogGroup")
            if group is not None:
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                    yield Entry(f"{logical_id}: send its logs", role, action, self._log_stream(group, "stream"))
            function_arn = self.d.get_att(stack, logical_id, "Arn")
            yield from self._config_objects(role, function_arn)
            yield from self._image_checks(role, function_arn)
            yield from self._mirror_warmups(role, function_arn)

    def _custom_resources(self, resource_type: str, function_arn: str) -> Iterator[dict[str, Any]]:
        for stack, _, body in self._all(resource_type):
            props = self._props(stack, body)
            if props["ServiceToken"] == function_arn:
                yield props

    def _config_objects(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        for props in self._custom_resources("Custom::ConfigObject", function_arn):
            bucket, object_key, key = props["Bucket"], props["Key"], props["KmsKeyArn"]
            arn = f"arn:{self.partition}:s3:::{bucket}/{object_key}"
            yield Entry(f"write {object_key}", role, "s3:PutObject", arn, key=key)
            yield Entry(f"write {object_key}", role, "kms:GenerateDataKey", key, key=key, context=self._via("s3"))
            # The clean-up after a change deletes the previous version's object.
            earlier = re.sub(r"[0-9a-f]{16}", "0" * 16, object_key)
            yield Entry(
                f"delete {earlier}, written by an earlier deploy",
                role,
                "s3:DeleteObject",
                f"arn:{self.partition}:s3:::{bucket}/{earlier}",
            )

    def _image_checks(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        for props in self._custom_resources("Custom::ImagesPresent", function_arn):
            for image in props["Images"]:
                arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{image['Repository']}"
                yield Entry(f"check {image['Repository']}:{image['Tag']} is pushed", role, "ecr:DescribeImages", arn)

    def _mirror_warmups(self, role: Caller, function_arn: str) -> Iterator[Entry]:
        """The cache warmer fetches each pin's manifest by tag, which imports it the first time
        (layers/data/mirror_warmer.py)."""
        for props in self._custom_resources("Custom::MirrorWarmer", function_arn):
            yield Entry("warm the image cache: sign in to the registry", role, "ecr:GetAuthorizationToken", "*")
            for image in props["Images"]:
                arn = f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{image['Repository']}"
                purpose = f"warm the image cache: fetch {image['Repository']}:{image['Tag']}"
                for action in ("ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
                    yield Entry(purpose, role, action, arn)

    # --- the deployment state machine -----------------------------------------------------------

    def state_machines(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::StepFunctions::StateMachine"):
            raw = body["Properties"]
            role = self._role(stack, raw["RoleArn"], f"state machine {logical_id}'s role")
            definition = json.loads(self._props(stack, body)["DefinitionString"])
            tasks = list(_task_states(definition["States"]))
            for name, state in tasks:
                yield from self._integration(role, name, state, tasks)
            yield from self._execution_records(role)

    def _integration(
        self, role: Caller, name: str, state: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> Iterator[Entry]:
        """What one Task state calls, on the resources its arguments (or its Map's items) name."""
        resource = str(state["Resource"])
        arguments = state.get("Arguments", {})
        purpose = f"release: {name}"
        sdk = re.fullmatch(r"arn:aws:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<api>[A-Za-z0-9]+)", resource)
        if resource == "arn:aws:states:::ecs:runTask.sync":
            yield from self._run_task_sync(role, purpose, arguments, _described_task_definitions(tasks, name[3:]))
        elif resource == "arn:aws:states:::sns:publish":
            yield from self._publish(role, purpose, str(arguments["TopicArn"]))
        elif sdk is not None:
            action = f"{sdk['service']}:{sdk['api'][0].upper()}{sdk['api'][1:]}"
            targets = (
                self._database_targets(arguments)
                if sdk["service"] == "rds"
                else self._sdk_targets(sdk["service"], name, arguments, tasks)
            )
            for target in targets:
                yield Entry(purpose, role, action, target)
            if action == "cloudformation:UpdateStack":
                yield Entry(
                    purpose,
                    role,
                    "iam:PassRole",
                    str(arguments["RoleARN"]),
                    context={"iam:PassedToService": "cloudformation.amazonaws.com"},
                )
                yield from self._stack_update(name, arguments, tasks)
        else:
            raise ValueError(f"state {name}: the ledger does not know integration {resource}")

    def _stack_update(
        self, name: str, arguments: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> Iterator[Entry]:
        """CloudFormation applying the release's tags as the role the update passes it (its
        service role: "CloudFormation service role", CloudFormation user guide), once for every
        update state of the definition (``compliance/stack_updates.py``)."""
        updates = [n for n, s in tasks if str(s["Resource"]).endswith(":cloudformation:updateStack")]
        if name != updates[0]:
            return
        stack, role_arn = str(arguments["StackName"]), str(arguments["RoleARN"])
        role_stack, role_id = self._find("AWS::IAM::Role", "Arn", role_arn)
        caller = Caller(f"CloudFormation as {role_id}", Principal("AWS", role_arn), role=(role_stack, role_id))
        # The parameters the update sets: those its Parameters expression names.
        named = str(arguments["Parameters"])
        parameters = [p for p in self.d.parameters(stack) if re.search(rf"[\"']{re.escape(p)}[\"']", named)]
        for call in update_calls(self.d, stack, parameters):
            yield Entry(f"release: {call.purpose}", caller, call.action, call.resource, context=call.context)

    def _sdk_targets(
        self, service: str, name: str, arguments: Mapping[str, Any], tasks: list[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        """The resources an aws-sdk call acts on, as the deployment names them."""
        if service == "ecs" and name.startswith("Register"):
            # A new revision of the family Describe<step> read.
            described = _described_task_definitions(tasks, name.removeprefix("Register"))
            if not described:
                raise ValueError(f"state {name}: no Describe state names the task definition it copies")
            return [f"{arn.rsplit(':', 1)[0]}:2" for arn in described]
        if service == "cloudformation":
            return [self.d.resolve(str(arguments["StackName"]), {"Ref": "AWS::StackId"})]
        if service == "ecr":
            return [
                f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{item['repository']}"
                for _, state in tasks
                for item in state.get("__map_items__", [])
            ] or ["*"]
        if service == "ecs" and "Services" in arguments:
            released = {str(a["StackName"]) for _, s in tasks if (a := s.get("Arguments", {})) and "StackName" in a}
            return [
                self.d.ref(stack, lid)
                for stack in sorted(released)
                for lid in self.d.resources(stack, "AWS::ECS::Service")
            ]
        if service == "ecs" and "TaskDefinition" in arguments and isinstance(arguments["TaskDefinition"], str):
            return ["*"]  # describeTaskDefinition has no resource-level permissions
        return ["*"]

    def _database_targets(self, arguments: Mapping[str, Any]) -> list[str]:
        """An RDS call on one instance: the platform's own, named by its identifier (which must
        be the deployment's), acts on that instance's ARN."""
        identifier = str(arguments["DbInstanceIdentifier"])
        stack, logical_id = self._find("AWS::RDS::DBInstance", "Ref", identifier)
        return [str(self.d.get_att(stack, logical_id, "DBInstanceArn"))]

    def _run_task_sync(
        self, role: Caller, purpose: str, arguments: Mapping[str, Any], task_definitions: list[str]
    ) -> Iterator[Entry]:
        """runTask.sync runs a revision registered from a task definition the definition names,
        in the cluster it names, and follows it through an EventBridge rule it keeps itself
        (Step Functions developer guide, "IAM policies for Amazon ECS/Fargate")."""
        cluster = str(arguments["Cluster"])
        context = {"ecs:cluster": cluster}
        if not task_definitions:
            raise ValueError(f"{purpose}: no Describe state names the task definition it runs")
        for task_definition in task_definitions:
            stack, logical_id = self._find("AWS::ECS::TaskDefinition", "Ref", task_definition)
            props = self._props(stack, self.d.resource(stack, logical_id))
            family = task_definition.rsplit(":", 1)[0]
            yield Entry(purpose, role, "ecs:RunTask", f"{family}:2", context=context)
            for role_arn in (props["TaskRoleArn"], props["ExecutionRoleArn"]):
                yield Entry(
                    purpose, role, "iam:PassRole", role_arn, context={"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                )
        task = f"arn:{self.partition}:ecs:{self.region}:{self.account}:task/{cluster.rsplit('/', maxsplit=1)[-1]}/0123"
        for action in ("ecs:DescribeTasks", "ecs:StopTask"):
            yield Entry(purpose, role, action, task, context=context)
        rule = f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{ECS_SYNC_RULE}"
        for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
            yield Entry(purpose, role, action, rule)

    def _publish(self, role: Caller, purpose: str, topic: str) -> Iterator[Entry]:
        stack, logical_id = self._find("AWS::SNS::Topic", "Ref", topic)
        key = self._props(stack, self.d.resource(stack, logical_id)).get("KmsMasterKeyId")
        yield Entry(purpose, role, "sns:Publish", topic, key=key)
        if key is not None:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Entry(purpose, role, action, key, key=key, context=self._via("sns"))

    def _execution_records(self, role: Caller) -> Iterator[Entry]:
        """Logging every execution to CloudWatch Logs and tracing it with X-Ray (Step Functions
        developer guide, "Logging using CloudWatch Logs" and "AWS X-Ray" IAM policies)."""
        for action in EXECUTION_LOG_ACTIONS:
            yield Entry("release: log every execution", role, action, "*")
        for action in TRACE_ACTIONS:
            yield Entry("release: trace every execution", role, action, "*")

    # --- alarms, logs, deliveries -----------------------------------------------------------

    def alarms(self) -> Iterator[Entry]:
        """CloudWatch publishes an alarm's state changes to its topics (re:Post, "Why didn't I
        receive an SNS notification for my CloudWatch alarm trigger?")."""
        cloudwatch = self._service("cloudwatch.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::CloudWatch::Alarm"):
            props = self._props(stack, body)
            alarm_arn = self.d.get_att(stack, logical_id, "Arn")
            context = {"aws:SourceArn": alarm_arn, "aws:SourceAccount": self.account}
            for topic in sorted({*props.get("AlarmActions", []), *props.get("OKActions", [])}):
                topic_stack, topic_id = self._find("AWS::SNS::Topic", "Ref", topic)
                key = self._props(topic_stack, self.d.resource(topic_stack, topic_id)).get("KmsMasterKeyId")
                purpose = f"alarm {logical_id}: notify"
                yield Entry(purpose, cloudwatch, "sns:Publish", topic, key=key, context=context)
                if key is not None:
                    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                        yield Entry(purpose, cloudwatch, action, key, key=key, context=context)

    def encrypted_log_groups(self) -> Iterator[Entry]:
        """CloudWatch Logs encrypts each group with its key (CloudWatch Logs user guide,
        "Encrypt log data in CloudWatch Logs using AWS KMS": the key policy)."""
        for stack, logical_id, body in self._all("AWS::Logs::LogGroup"):
            key = self._props(stack, body).get("KmsKeyId")
            if key is None:
                continue
            # The service principal and the group's ARN are those of the stack's own region.
            region = self.d.region_of(stack)
            logs = self._service(f"logs.{region}.amazonaws.com")
            group = self.d.ref(stack, logical_id)
            context = {"kms:EncryptionContext:aws:logs:arn": self._log_group_arn(group, region=region)}
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Entry(f"log group {group}: encrypted at rest", logs, action, key, key=key, context=context)

    def access_logs(self) -> Iterator[Entry | AclDelivery]:
        yield from self._load_balancer_logs()
        yield from self._distribution_logs()
        yield from self._bucket_logs()

    def _load_balancer_logs(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            attributes = {a["Key"]: a["Value"] for a in self._props(stack, body).get("LoadBalancerAttributes", [])}
            if attributes.get("access_logs.s3.enabled") != "true":
                continue
            bucket, prefix = attributes["access_logs.s3.bucket"], attributes.get("access_logs.s3.prefix", "")
            path = f"{prefix}/" if prefix else ""
            arn = (
                f"arn:{self.partition}:s3:::{bucket}/{path}AWSLogs/{self.account}/elasticloadbalancing/"
                f"{self.region}/2026/01/01/log.gz"
            )
            if self.region in ELB_LOG_ACCOUNTS:
                account = ELB_LOG_ACCOUNTS[self.region]
                caller = Caller(
                    label=f"Elastic Load Balancing ({account})",
                    principal=Principal("AWS", f"arn:{self.partition}:iam::{account}:role/log-delivery"),
                    external=True,
                )
            else:
                caller = self._service(ELB_LOG_SERVICE)
            yield Entry(f"load balancer {logical_id}: access logs", caller, "s3:PutObject", arn)

    def _distribution_logs(self) -> Iterator[AclDelivery]:
        for stack, logical_id, body in self._all("AWS::CloudFront::Distribution"):
            logging = self._props(stack, body)["DistributionConfig"].get("Logging")
            if logging is None:
                continue
            domain = str(logging["Bucket"])
            bucket = self._find("AWS::S3::Bucket", "RegionalDomainName", domain) if ".s3." in domain else None
            if bucket is None:
                raise ValueError(f"{stack}/{logical_id} logs to {domain}, not a bucket of the deployment")
            yield AclDelivery(f"distribution {logical_id}: standard logs", bucket)

    def _bucket_logs(self) -> Iterator[Entry]:
        """S3 server access logs (S3 user guide, "Enabling Amazon S3 server access logging":
        the logging.s3.amazonaws.com principal and its source conditions)."""
        s3_logging = self._service("logging.s3.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::S3::Bucket"):
            logging = self._props(stack, body).get("LoggingConfiguration")
            if logging is None:
                continue
            source = self.d.ref(stack, logical_id)
            arn = f"arn:{self.partition}:s3:::{logging['DestinationBucketName']}/{logging.get('LogFilePrefix', '')}log"
            context = {"aws:SourceArn": f"arn:{self.partition}:s3:::{source}", "aws:SourceAccount": self.account}
            yield Entry(f"bucket {source}: server access logs", s3_logging, "s3:PutObject", arn, context=context)

    def audit_trails(self) -> Iterator[Entry]:
        """CloudTrail delivers a trail's log files and digests to its bucket, encrypted with its key,
        and its events through its role to its log group (CloudTrail user guide, "Amazon S3 bucket
        policy for CloudTrail" and "Configure AWS KMS key policies for CloudTrail")."""
        cloudtrail = self._service("cloudtrail.amazonaws.com")
        for stack, logical_id, body in self._all("AWS::CloudTrail::Trail"):
            props = self._props(stack, body)
            trail = f"arn:{self.partition}:cloudtrail:{self.region}:{self.account}:trail/{props['TrailName']}"
            source = {"aws:SourceArn": trail, "aws:SourceAccount": self.account}
            bucket, key = props["S3BucketName"], props.get("KMSKeyId")
            purpose = f"trail {props['TrailName']}: log files"
            yield Entry(purpose, cloudtrail, "s3:GetBucketAcl", f"arn:{self.partition}:s3:::{bucket}", context=source)
            log_file = f"AWSLogs/{self.account}/CloudTrail/{self.region}/2026/01/01/log.json.gz"
            yield Entry(
                purpose,
                cloudtrail,
                "s3:PutObject",
                f"arn:{self.partition}:s3:::{bucket}/{log_file}",
                key=key,
                context={**source, "s3:x-amz-acl": "bucket-owner-full-control"},
            )
            if key is not None:
                context = {**source, "kms:EncryptionContext:aws:cloudtrail:arn": trail}
                yield Entry(purpose, cloudtrail, "kms:GenerateDataKey", key, key=key, context=context)
            if "CloudWatchLogsRoleArn" in body["Properties"]:
                role = self._role(stack, body["Properties"]["CloudWatchLogsRoleArn"], f"trail {logical_id}'s role")
                group = str(props["CloudWatchLogsLogGroupArn"]).removesuffix(":*").rsplit(":log-group:", 1)[1]
                stream = self._log_stream(group, f"{self.account}_CloudTrail_{self.region}")
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                    yield Entry(f"trail {props['TrailName']}: events", role, action, stream)

    def flow_logs(self) -> Iterator[Entry]:
        for stack, logical_id, body in self._all("AWS::EC2::FlowLog"):
            raw, props = body["Properties"], self._props(stack, body)
            if props.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
                continue
            role = self._role(stack, raw["DeliverLogsPermissionArn"], f"flow log {logical_id}'s role")
            stream = self._log_stream(props["LogGroupName"], "eni-0123456789abcdef0-all")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield Entry("VPC flow logs", role, action, stream)

    def nat_instances(self) -> Iterator[Entry]:
        """An instance with a CreationPolicy signals its own stack when it is ready."""
        for stack, logical_id, body in self._all("AWS::EC2::Instance"):
            if "ResourceSignal" not in body.get("CreationPolicy", {}):
                continue
            profile = self.d.resource(stack, str(_logical_id(body["Properties"]["IamInstanceProfile"])))
            role = self._role(stack, profile["Properties"]["Roles"][0], f"instance {logical_id}'s role")
            stack_id = self.d.resolve(stack, {"Ref": "AWS::StackId"})
            yield Entry(f"{logical_id}: report that NAT works", role, "cloudformation:SignalResource", stack_id)

    def schedules(self) -> Iterator[Entry]:
        """EventBridge Scheduler calls a universal target's API as the schedule's role
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html):
        the database's and the NAT instance's stop and start, on what the input names."""
        for stack, logical_id, body in self._all("AWS::Scheduler::Schedule"):
            target = self._props(stack, body)["Target"]
            call = re.fullmatch(r"arn:[a-z-]+:scheduler:::aws-sdk:(?P<service>[a-z0-9]+):(?P<api>\w+)", target["Arn"])
            if call is None:
                raise ValueError(f"{stack}/{logical_id}: the ledger does not know target {target['Arn']}")
            role = self._role(stack, body["Properties"]["Target"]["RoleArn"], f"schedule {logical_id}'s role")
            action = f"{call['service']}:{call['api'][0].upper()}{call['api'][1:]}"
            for resource in self._scheduled_resources(call["service"], json.loads(target["Input"])):
                yield Entry(f"schedule {logical_id}", role, action, resource)

    def _scheduled_resources(self, service: str, arguments: Mapping[str, Any]) -> list[str]:
        prefix = f"arn:{self.partition}:{service}:{self.region}:{self.account}"
        if service == "rds":
            return [f"{prefix}:db:{arguments['DbInstanceIdentifier']}"]
        if service == "ec2":
            return [f"{prefix}:instance/{instance}" for instance in arguments["InstanceIds"]]
        raise ValueError(f"the ledger does not know what a scheduled {service} call acts on")


def render(entries: Sequence[LedgerEntry], deployment: Deployment) -> str:
    """The ledger as a Markdown table, each row with its verdict."""
    lines = ["| purpose | caller | action | resource | KMS key | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    for entry in entries:
        decision = entry.check(deployment)
        verdict = ("allowed: " if decision.allowed else "REFUSED: ") + decision.reason
        if isinstance(entry, Entry):
            lines.append(
                f"| {entry.purpose} | {entry.caller.label} | `{entry.action}` | `{entry.resource}` "
                f"| {f'`{entry.key}`' if entry.key else ''} | {verdict} |"
            )
        elif isinstance(entry, EndpointPassage):
            lines.append(
                f"| {entry.purpose} | {entry.service} endpoint | `{entry.action}` | `{entry.resource}` |  | {verdict} |"
            )
        else:
            lines.append(f"| {entry.purpose} | CloudFront | object ACL | `{entry.bucket[1]}` |  | {verdict} |")
    return "\n".join(lines)


def deployment_of(cloud_assembly: Path, *, region: str | None = None) -> Deployment:
    """The stacks of a cloud assembly, each in the region its manifest names (``region`` for
    those whose environment names none)."""
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(cloud_assembly.glob("*.template.json"))
    }
    if not templates:
        raise ValueError(f"no templates in {cloud_assembly}")
    regions = assembly_regions(cloud_assembly)
    home = region or max(set(regions.values()), key=list(regions.values()).count, default="us-east-1")
    return Deployment(
        templates, region=home, stack_regions={s: r for s, r in regions.items() if r != home and s in templates}
    )


def assembly_regions(cloud_assembly: Path) -> dict[str, str]:
    """Each stack's region as the cloud assembly's manifest names it (``aws://account/region``)."""
    manifest = (
        json.loads((cloud_assembly / "manifest.json").read_text())
        if (cloud_assembly / "manifest.json").exists()
        else {}
    )
    regions = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
            if region and region != "unknown-region":
                regions[name] = region
    return regions


def main(argv: Sequence[str]) -> int:
    from compliance.external_secrets import external_secrets  # noqa: PLC0415 (it imports this module)
    from platform_spec import SpecError, spec_from_context  # noqa: PLC0415

    if len(argv) != 2:
        print(
            "usage: python -m compliance.access_ledger CLOUD_ASSEMBLY PROFILE (the profile it was synthesized from)",
            file=sys.stderr,
        )
        return 2
    try:
        spec = spec_from_context({"env": argv[1]})
        deployment = deployment_of(Path(argv[0]), region=spec.region)
        entries = ledger(deployment, external_secrets=external_secrets(spec, account=deployment.account))
    except (ValueError, SpecError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(entries, deployment))
    failures = check_ledger(deployment, entries)
    print(f"\n{len(entries)} calls, {len(failures)} refused")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
