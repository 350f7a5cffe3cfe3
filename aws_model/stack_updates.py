"""What CloudFormation calls to apply new values of some parameters to a stack whose template
stays the same (``UpdateStack`` with ``UsePreviousTemplate``), read off the template and the
resource types' registry schemas.

CloudFormation updates only the resources whose properties change. A property changes when it
reads a changed parameter, a replaced resource (its ``Ref`` or any attribute), or an attribute of
a resource updated in place other than its identity (its ``Ref``, name and ARN stay). A resource
whose changed properties include a create-only one is replaced: created, and the old one deleted
when the update completes; otherwise it is updated in place. A roll-back runs the same handlers
the other way (the new resource deleted, the updated one updated back), so it needs nothing more.

The calls are what the registry schemas list for those handlers (``handlers.<op>.permissions``,
the permissions the resource provider needs: CloudFormation user guide, "Resource type schema"),
each on the resource it acts on; a custom resource is its function invoked. A type this module
does not know how to place the calls of is an error, never skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_model.cloudformation import Deployment
from compliance.resource_schemas import create_only_properties, schema

KEPT_ATTRIBUTES = re.compile(r".*(Name|Arn)$")
"""Attributes an in-place update keeps: what names the resource (``Name``, ``ServiceArn``, ``Arn``)."""


@dataclass(frozen=True)
class Call:
    """One call CloudFormation makes, as the stack's service role, to apply the update."""

    purpose: str
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


def changed_resources(deployment: Deployment, stack: str, parameters: Sequence[str]) -> dict[str, bool]:
    """Logical id -> whether it is replaced (else updated in place), for every resource of
    ``stack`` that new values of ``parameters`` change."""
    resources = deployment.resources(stack)
    changed: dict[str, bool] = {}
    while True:
        found = {}
        for logical_id, body in resources.items():
            properties = [
                name for name, value in body.get("Properties", {}).items() if _reads(value, parameters, changed)
            ]
            if properties and logical_id not in changed:
                kind = str(body["Type"])
                create_only = () if kind.startswith("Custom::") else create_only_properties(kind)
                found[logical_id] = any(p in create_only for p in properties)
        if not found:
            return changed
        changed.update(found)


def _reads(value: Any, parameters: Sequence[str], changed: Mapping[str, bool]) -> bool:
    """Whether ``value`` reads a changed parameter, or what a changed resource no longer keeps."""
    if isinstance(value, list):
        return any(_reads(v, parameters, changed) for v in value)
    if not isinstance(value, Mapping):
        return False
    return any(_reads_directly(key, argument, parameters, changed) for key, argument in value.items()) or any(
        _reads(argument, parameters, changed) for argument in value.values()
    )


def _reads_directly(key: str, argument: Any, parameters: Sequence[str], changed: Mapping[str, bool]) -> bool:
    """Whether the intrinsic ``key`` itself reads a changed parameter or resource."""
    if key == "Ref":
        return argument in parameters or changed.get(argument) is True
    if key == "Fn::GetAtt":
        target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return target in changed and (changed[target] or not KEPT_ATTRIBUTES.fullmatch(str(attribute)))
    if key == "Fn::Sub":
        text = argument if isinstance(argument, str) else argument[0]
        names = {n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text)}
        return bool(names & set(parameters)) or any(changed.get(n) is True for n in names)
    return False


def update_calls(deployment: Deployment, stack: str, parameters: Sequence[str]) -> Iterator[Call]:
    """Every call CloudFormation makes as the stack's role to apply new ``parameters`` values."""
    changed = changed_resources(deployment, stack, parameters)
    if not changed:
        raise ValueError(f"no resource of {stack} reads {', '.join(parameters)}")
    for logical_id, replaced in changed.items():
        body = deployment.resource(stack, logical_id)
        kind = str(body["Type"])
        props: dict[str, Any] = deployment.resolve(stack, body.get("Properties", {}))
        if kind.startswith("Custom::"):
            yield Call(f"send {logical_id} to its function", "lambda:InvokeFunction", str(props["ServiceToken"]))
            continue
        handlers = schema(kind)["handlers"]
        operations = ("create", "delete") if replaced else ("update",)
        permissions = sorted({p for op in operations for p in handlers[op]["permissions"]})
        purpose = f"{'replace' if replaced else 'update'} {logical_id}"
        if kind == "AWS::ECS::TaskDefinition":
            yield from _task_definition_calls(deployment, purpose, props, permissions)
        elif kind == "AWS::ECS::Service" and not replaced:
            yield from _service_calls(deployment.ref(stack, logical_id), purpose, props, permissions)
        else:
            raise ValueError(f"{stack}/{logical_id}: what {purpose} ({kind}) calls is not known here")


def _task_definition_calls(
    deployment: Deployment, purpose: str, props: Mapping[str, Any], permissions: Sequence[str]
) -> Iterator[Call]:
    revision = (
        f"arn:{deployment.partition}:ecs:{deployment.region}:{deployment.account}:task-definition/{props['Family']}:2"
    )
    roles = [str(props[key]) for key in ("TaskRoleArn", "ExecutionRoleArn") if key in props]
    for action in permissions:
        if action == "iam:PassRole":
            for role in roles:
                yield Call(purpose, action, role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
        elif action == "iam:GetRole":
            for role in roles:
                yield Call(purpose, action, role)
        elif action == "ecs:TagResource":
            # Tags set as the revision is registered ("Grant permission to tag resources on creation").
            yield Call(purpose, action, revision, {"ecs:CreateAction": "RegisterTaskDefinition"})
        elif action.startswith("ecs:"):
            yield Call(purpose, action, revision)
        else:
            raise ValueError(f"{purpose}: where {action} acts is not known here")


def _service_calls(service: str, purpose: str, props: Mapping[str, Any], permissions: Sequence[str]) -> Iterator[Call]:
    prefix, _, path = service.partition(":service/")
    deployment_arn = f"{prefix}:service-deployment/{path}/0123456789"
    for action in permissions:
        if action in ("ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"):
            yield Call(purpose, action, deployment_arn, {"ecs:service": service})
        elif action.startswith("ecs:"):
            yield Call(purpose, action, service)
        else:
            raise ValueError(f"{purpose}: where {action} acts is not known here")
    # The update sends the service's load balancers again, with the role ECS shifts traffic with
    # ("Amazon ECS infrastructure IAM role for load balancers", ECS developer guide).
    for balancer in props.get("LoadBalancers", []):
        role = balancer.get("AdvancedConfiguration", {}).get("RoleArn")
        if role is not None:
            yield Call(purpose, "iam:PassRole", str(role), {"iam:PassedToService": "ecs.amazonaws.com"})
