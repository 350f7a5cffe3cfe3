"""The attributes CloudFormation gives what runs and
watches (ECS, Lambda, Step Functions, CloudWatch alarms, EventBridge rules, Amazon Managed
Service for Prometheus), and of the types whose Ref is a generated id or their name."""

from __future__ import annotations

from collections.abc import Callable

from aws_model.cloudformation.physical import Resource, named
from aws_model.cloudformation.values import Facts, constant


def identified(
    prefix: str, length: int, *, attributes: tuple[str, ...] = (), arn: tuple[str, str] | None = None
) -> Callable[[Resource], Facts]:
    """Types whose Ref is a generated id such as vpc-0123...; ``arn`` is (service, resource path before the id)."""

    def build(r: Resource) -> Facts:
        ident = constant(prefix + r.token(length))
        facts: Facts = {"Ref": ident, **dict.fromkeys(attributes, ident)}
        if arn is not None:
            service, path = arn
            facts["Arn"] = lambda: r.arn(service, path + ident())
        return facts

    return build


def name_ref(prop: str, *, lower: bool = False) -> Callable[[Resource], Facts]:
    return lambda r: {"Ref": named(r, prop, lower=lower)}


def ecs_cluster(r: Resource) -> Facts:
    name = named(r, "ClusterName")
    return {"Ref": name, "Arn": lambda: r.arn("ecs", f"cluster/{name()}")}


def ecs_service(r: Resource) -> Facts:
    name = named(r, "ServiceName")

    def arn() -> str:
        cluster = r.text("Cluster") or "default"
        cluster_name = cluster.split(":cluster/", 1)[1] if cluster.startswith("arn:") else cluster
        return r.arn("ecs", f"service/{cluster_name}/{name()}")

    return {"Ref": arn, "ServiceArn": arn, "Name": name}


def task_definition(r: Resource) -> Facts:
    def arn() -> str:
        return r.arn("ecs", f"task-definition/{r.name('Family')}:1")

    return {"Ref": arn, "TaskDefinitionArn": arn}


def function(r: Resource) -> Facts:
    name = named(r, "FunctionName", max_len=64)
    return {"Ref": name, "Arn": lambda: r.arn("lambda", f"function:{name()}")}


def state_machine(r: Resource) -> Facts:
    name = named(r, "StateMachineName", max_len=80)

    def arn() -> str:
        return r.arn("states", f"stateMachine:{name()}")

    return {"Ref": arn, "Arn": arn, "Name": name}


def alarm(r: Resource) -> Facts:
    name = named(r, "AlarmName")
    return {"Ref": name, "Arn": lambda: r.arn("cloudwatch", f"alarm:{name()}")}


def events_rule(r: Resource) -> Facts:
    name = named(r, "Name", max_len=64)
    return {"Ref": name, "Arn": lambda: r.arn("events", f"rule/{name()}")}


def workspace(r: Resource) -> Facts:
    ident = constant("ws-" + r.uuid())

    def arn() -> str:
        return r.arn("aps", f"workspace/{ident()}")

    endpoint = f"https://aps-workspaces.{r.region}.amazonaws.com/workspaces/{ident()}/"
    return {"Ref": arn, "Arn": arn, "WorkspaceId": ident, "PrometheusEndpoint": constant(endpoint)}
