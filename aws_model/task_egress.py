"""Task egress: can every task reach, over the network, what it needs to start and run?

The access ledger asks whether a call is *allowed*; this asks whether it can *arrive*.
On Fargate (platform version 1.4.0 and later) the image pull, the awslogs driver and the
secrets a task definition names all travel through the task's own network interface, so
its security groups decide them (Amazon ECS developer guide, "Migrating to Linux platform
version 1.4.0": https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-version-migration.html).

For every task definition the deployment runs (as a service, from the release state
machine, from a custom resource, or from a stack output the verify command uses) this
module lists the destinations it needs and, for each security group it runs in, whether
the group's rules reach them:

- an AWS service with an interface endpoint whose private DNS is on: every call in the VPC
  resolves to the endpoint, so the task's group must allow 443 out to the endpoint's group
  (or to any address) *and* the endpoint's group must admit the task's group;
- S3: 443 out to any address or to the S3 prefix list (through the gateway endpoint);
- any other AWS service, or an image outside the account's ECR: 443 out to any address,
  through the NAT.

A database sign-in with IAM authentication needs no call: the token is signed locally. A
URL in a container's environment whose host is outside the platform's private DNS namespace
(the smoke tests' public URL) is a call to the internet.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_model.cloudformation import Deployment, TemplateError
from compliance.security_group_rules import EGRESS, INGRESS, group_rules
from layers.release.state_names import DESCRIBE, RUN, all_states, describe_state, step_of
from platform_spec.names import PROBE_SECURITY_GROUP, PROBE_TASK_DEFINITION

HTTPS = 443
_URL = re.compile(r"^https?://")
INTERNET = "internet"
S3 = "s3"


@dataclass(frozen=True)
class Need:
    """A destination ``task`` reaches over HTTPS, and why."""

    task: str
    destination: str
    """An AWS service's endpoint name (``ecr.api``, ``logs``), ``s3``, or ``internet``."""
    reason: str


@dataclass(frozen=True)
class Problem:
    need: Need
    group: str
    why: str

    def __str__(self) -> str:
        return (
            f"{self.need.task} in {self.group}: cannot reach {self.need.destination} ({self.need.reason}): {self.why}"
        )


@dataclass(frozen=True)
class _Rule:
    """One rule that admits TCP 443, by what it names on the other side."""

    cidr: str | None = None
    prefix_list: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class _Endpoint:
    service: str
    private_dns: bool
    groups: tuple[str, ...]


def _covers_https(rule: Mapping[str, Any]) -> bool:
    protocol = str(rule.get("IpProtocol"))
    if protocol == "-1":
        return True
    return protocol in ("tcp", "6") and int(rule.get("FromPort", -1)) <= HTTPS <= int(rule.get("ToPort", -1))


def _rule(rule: Mapping[str, Any], group_key: str) -> _Rule:
    return _Rule(
        cidr=rule.get("CidrIp"),
        prefix_list=rule.get("DestinationPrefixListId") or rule.get("SourcePrefixListId"),
        group=rule.get(group_key),
    )


class _Network:
    """The deployment's security groups, their HTTPS rules, and its interface endpoints."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.names: dict[str, str] = {}
        self.egress: dict[str, list[_Rule]] = {}
        self.ingress: dict[str, list[_Rule]] = {}
        for stack in deployment.stacks:
            for logical_id, body in deployment.resources(stack, "AWS::EC2::SecurityGroup").items():
                group = deployment.get_att(stack, logical_id, "GroupId")
                description = deployment.resolve(stack, body.get("Properties", {}).get("GroupDescription"))
                self.names[group] = str(description or logical_id)
        # Every rule, inline on its group or a resource of its own, as the reachability check reads them.
        for stack in deployment.stacks:
            resources = deployment.resources(stack)
            for direction, rules, key in (
                (EGRESS, self.egress, "DestinationSecurityGroupId"),
                (INGRESS, self.ingress, "SourceSecurityGroupId"),
            ):
                for entry in group_rules(resources, direction):
                    rule = deployment.resolve(stack, entry.rule)
                    if rule is not None and _covers_https(rule):
                        group = str(deployment.resolve(stack, entry.group))
                        rules.setdefault(group, []).append(_rule(rule, key))
        self.endpoints: dict[str, _Endpoint] = {}
        self.gateway_s3 = False
        for stack in deployment.stacks:
            for body in deployment.resources(stack, "AWS::EC2::VPCEndpoint").values():
                props = deployment.resolve(stack, body["Properties"])
                service = str(props["ServiceName"]).split(".", 3)[-1]
                if props.get("VpcEndpointType") == "Interface":
                    self.endpoints[service] = _Endpoint(
                        service, bool(props.get("PrivateDnsEnabled")), tuple(props.get("SecurityGroupIds", []))
                    )
                elif service == S3:
                    self.gateway_s3 = True

    def name(self, group: str) -> str:
        return self.names.get(group, group)

    def _out_anywhere(self, group: str) -> bool:
        return any(
            r.cidr is not None and ipaddress.ip_network(r.cidr).prefixlen == 0 for r in self.egress.get(group, [])
        )

    def reach(self, group: str, destination: str, *, s3_prefix_list: str) -> str | None:
        """Why ``group`` cannot reach ``destination`` over HTTPS, or None if it can."""
        endpoint = self.endpoints.get(destination)
        if endpoint is not None and endpoint.private_dns:
            return self._through_endpoint(group, endpoint)
        if self._out_anywhere(group):
            return None
        if destination == S3:
            if self.gateway_s3 and any(r.prefix_list == s3_prefix_list for r in self.egress.get(group, [])):
                return None
            return "no egress on 443 to any address or to S3's prefix list through the gateway endpoint"
        return "no egress on 443 to any address, and no interface endpoint for it"

    def _through_endpoint(self, group: str, endpoint: _Endpoint) -> str | None:
        out = self._out_anywhere(group) or any(r.group in endpoint.groups for r in self.egress.get(group, []))
        if not out:
            return f"no egress on 443 to the {endpoint.service} endpoint's group"
        if not any(r.group == group for g in endpoint.groups for r in self.ingress.get(g, [])):
            return f"the {endpoint.service} endpoint's group does not admit it on 443 (private DNS sends it there)"
        return None


def _first_essential(containers: list[Mapping[str, Any]]) -> str:
    return str(next(c["Name"] for c in containers if c.get("Essential", True)))


class _Tasks:
    """What each task definition needs, and the groups it runs in."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.registry = f"{deployment.account}.dkr.ecr.{deployment.region}.amazonaws.com/"
        self.by_arn: dict[str, tuple[str, str]] = {
            deployment.ref(stack, logical_id): (stack, logical_id)
            for stack in deployment.stacks
            for logical_id in deployment.resources(stack, "AWS::ECS::TaskDefinition")
        }

    def label(self, arn: str) -> str:
        stack, logical_id = self.by_arn[arn]
        props = self.d.resolve(stack, self.d.resource(stack, logical_id)["Properties"])
        return f"{_first_essential(props['ContainerDefinitions'])} task ({stack}/{logical_id})"

    def needs(self, arn: str, *, ecs_exec: bool, namespace: str) -> Iterator[Need]:
        stack, logical_id = self.by_arn[arn]
        props = self.d.resolve(stack, self.d.resource(stack, logical_id)["Properties"])
        task = self.label(arn)
        for container in props["ContainerDefinitions"]:
            name = container["Name"]
            image = str(container["Image"])
            if image.startswith(self.registry):
                for destination in ("ecr.api", "ecr.dkr", S3):
                    yield Need(task, destination, f"{name} pulls {image} from ECR")
            else:
                yield Need(task, INTERNET, f"{name} pulls {image}")
            if container.get("LogConfiguration", {}).get("LogDriver") == "awslogs":
                yield Need(task, "logs", f"{name} sends its logs with awslogs")
            for secret in container.get("Secrets", []):
                service = str(secret["ValueFrom"]).split(":")[2]
                yield Need(task, service, f"{name} reads {secret['Name']}")
            command = [str(part) for part in container.get("Command", [])]
            if command[:2] == ["s3", "cp"]:
                yield Need(task, S3, f"{name} copies from S3")
            for variable in container.get("Environment", []):
                host = urlsplit(str(variable["Value"])).hostname if _URL.match(str(variable["Value"])) else None
                if host is not None and not (host == namespace or host.endswith(f".{namespace}")):
                    yield Need(task, INTERNET, f"{name} calls {variable['Name']}={variable['Value']}")
        if ecs_exec:
            yield Need(task, "ssmmessages", "ECS Exec's agent opens its channels")
            yield Need(task, "kms", "ECS Exec's session is encrypted with a KMS key")

    def placements(self) -> Iterator[tuple[str, tuple[str, ...], bool]]:
        """(task definition ARN, its security groups, whether ECS Exec is on) for each way the
        deployment runs a task."""
        d = self.d
        for stack in d.stacks:
            for body in d.resources(stack, "AWS::ECS::Service").values():
                props = d.resolve(stack, body["Properties"])
                groups = props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
                yield str(props["TaskDefinition"]), tuple(groups), bool(props.get("EnableExecuteCommand"))
            for body in d.resources(stack).values():
                if str(body["Type"]).startswith("Custom::"):
                    props = d.resolve(stack, body.get("Properties", {}))
                    if "TaskDefinition" in props and "SecurityGroups" in props:
                        yield str(props["TaskDefinition"]), tuple(props["SecurityGroups"]), False
            for body in d.resources(stack, "AWS::StepFunctions::StateMachine").values():
                definition = json.loads(d.resolve(stack, body["Properties"]["DefinitionString"]))
                yield from _state_machine_runs(definition["States"])
            # The verify command runs the targets probe from the delivery stack's outputs.
            try:
                probe = str(d.output(stack, PROBE_TASK_DEFINITION)), str(d.output(stack, PROBE_SECURITY_GROUP))
            except TemplateError:
                continue
            yield probe[0], (probe[1],), False


def _state_machine_runs(states: Mapping[str, Any]) -> Iterator[tuple[str, tuple[str, ...], bool]]:
    """runTask states run a revision registered from the task definition ``Describe<step>`` names
    (``layers.release.state_names``)."""
    found = [(name, state) for name, state, _ in all_states(states) if state.get("Type") == "Task"]
    described = {
        step: str(state["Arguments"]["TaskDefinition"])
        for name, state in found
        if str(state.get("Resource", "")).endswith(":ecs:describeTaskDefinition")
        and (step := step_of(name, DESCRIBE)) is not None
    }
    for name, state in found:
        if re.search(r":::ecs:runTask(\.sync)?$", str(state.get("Resource", ""))):
            step = step_of(name, RUN)
            if step is None or step not in described:
                raise ValueError(
                    f"state {name}: no {describe_state(step or '<step>')} names the task definition it runs"
                )
            groups = state["Arguments"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
            yield described[step], tuple(groups), False


def egress_problems(deployment: Deployment, *, s3_prefix_list: str, namespace: str) -> list[Problem | str]:
    """Every need some group of a task cannot reach, and every task nothing runs; ``namespace``
    is the platform's private DNS namespace, whose names stay inside the VPC."""
    network, tasks = _Network(deployment), _Tasks(deployment)
    problems: list[Problem | str] = []
    placed: set[str] = set()
    for arn, groups, ecs_exec in tasks.placements():
        if arn not in tasks.by_arn:
            problems.append(f"something runs {arn}, which is no task definition of the deployment")
            continue
        placed.add(arn)
        if not groups:
            problems.append(f"{tasks.label(arn)} runs in no security group")
        for need in tasks.needs(arn, ecs_exec=ecs_exec, namespace=namespace):
            for group in groups:
                why = network.reach(group, need.destination, s3_prefix_list=s3_prefix_list)
                if why is not None:
                    problems.append(Problem(need, network.name(group), why))
    problems.extend(
        f"{tasks.label(arn)}: nothing in the deployment says where it runs" for arn in tasks.by_arn if arn not in placed
    )
    return problems
