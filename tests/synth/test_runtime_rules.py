"""Run-time rules of AWS that the templates must obey, each encoded from its documentation
and checked on every container, service and resource of both profiles.

Each would have passed cfn-lint, cdk-nag and the reachability check while the platform
failed in AWS: the page beside each test says which rule and where it is written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aws_model.cloudformation import Deployment
from compliance.custom_resource_timeouts import is_custom_resource
from compliance.resource_schemas import create_only_properties
from platform_spec.names import LAYERS
from tests.platform_synth import Synthesized
from tests.templates import deployment_of

ROOT_USER = "0:0"


@dataclass(frozen=True)
class TaskDefinition:
    stack: str
    logical_id: str
    properties: dict[str, Any]  # resolved as deployed

    @property
    def containers(self) -> list[dict[str, Any]]:
        containers: list[dict[str, Any]] = self.properties["ContainerDefinitions"]
        return containers

    @property
    def label(self) -> str:
        essential = next(c["Name"] for c in self.containers if c.get("Essential", True))
        return f"{self.stack}/{essential}"


def task_definitions(deployment: Deployment) -> Iterator[TaskDefinition]:
    for stack in deployment.stacks:
        for logical_id, body in deployment.resources(stack, "AWS::ECS::TaskDefinition").items():
            yield TaskDefinition(stack, logical_id, deployment.resolve(stack, body["Properties"]))


# --- 1. Every container runs as a stated user, who can write every path it writes -------------
#
# ECS developer guide, "Bind mounts" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
# bind-mounts.html): "By default, the volume permissions are set to 0755 and the owner as root",
# unless the image declares a VOLUME at the same path (aws/containers-roadmap#938 suggests an init
# container). Grafana (uid 472) exits at start when it cannot create its plugins directory under
# /var/lib/grafana (packaging/docker/run.sh in grafana/grafana).


def test_every_container_states_the_user_it_runs_as(profile: Synthesized) -> None:
    for task in task_definitions(deployment_of(profile)):
        for container in task.containers:
            assert re.fullmatch(r"\d+:\d+", container.get("User", "")), f"{task.label}: {container['Name']}"


def _owners(task: TaskDefinition) -> dict[str, dict[str, Any]]:
    """Containers that run as root, exit, and hand volumes over: name -> definition."""
    return {
        c["Name"]: c
        for c in task.containers
        if c.get("User") == ROOT_USER and c.get("Essential") is False and c.get("EntryPoint") == ["sh", "-c"]
    }


def _writes(task: TaskDefinition) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(container, mount point, volume) for every writable mount of a container that is not root."""
    volumes = {v["Name"]: v for v in task.properties.get("Volumes", [])}
    for container in task.containers:
        if container["User"] == ROOT_USER:
            continue
        for mount in container.get("MountPoints", []):
            if not mount.get("ReadOnly", False):
                yield container, mount, volumes[mount["SourceVolume"]]


def _uid_gid(user: str) -> tuple[int, int]:
    uid, gid = user.split(":")
    return int(uid), int(gid)


def test_each_writable_path_waits_for_the_step_that_hands_it_over(profile: Synthesized) -> None:
    """Static half: an EFS volume writes as its access point's user; a task volume is handed to
    the container's user by a root step the container waits for (condition SUCCESS)."""
    deployment = deployment_of(profile)
    problems = []
    for task in task_definitions(deployment):
        owners = _owners(task)
        for container, mount, volume in _writes(task):
            where = f"{task.label}: {container['Name']} ({container['User']}) writing {mount['ContainerPath']}"
            efs = volume.get("EFSVolumeConfiguration")
            if efs is not None:
                point = _access_point(deployment, efs["AuthorizationConfig"]["AccessPointId"])
                user = f"{point['PosixUser']['Uid']}:{point['PosixUser']['Gid']}"
                creation = point["RootDirectory"]["CreationInfo"]
                if user != container["User"] or creation["OwnerUid"] != point["PosixUser"]["Uid"]:
                    problems.append(f"{where}: access point writes as {user}, directory owned by {creation}")
                continue
            waited = {d["ContainerName"] for d in container.get("DependsOn", []) if d["Condition"] == "SUCCESS"}
            handing = [
                n
                for n in waited & set(owners)
                if any(m["SourceVolume"] == volume["Name"] for m in owners[n].get("MountPoints", []))
            ]
            if not handing:
                problems.append(f"{where}: no root step hands volume {volume['Name']} over before it starts")
    assert problems == []


def _access_point(deployment: Deployment, access_point_id: str) -> dict[str, Any]:
    for stack in deployment.stacks:
        for logical_id, body in deployment.resources(stack, "AWS::EFS::AccessPoint").items():
            if deployment.ref(stack, logical_id) == access_point_id:
                resolved: dict[str, Any] = deployment.resolve(stack, body["Properties"])
                return resolved
    raise AssertionError(f"no access point {access_point_id}")


def _root_can_chown() -> str | None:
    if os.geteuid() != 0:
        return "running the hand-over steps needs root (chown), as in CI"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    return None


@pytest.mark.skipif(_root_can_chown() is not None, reason=str(_root_can_chown()))
def test_the_hand_over_steps_really_make_each_path_writable(profile: Synthesized) -> None:
    """Executed half: each task's volumes are made as Fargate makes them (root, 0755), the
    owner step's own script runs on them, and then each container's user creates a directory
    and a file in each path it writes, as Grafana's start script does."""
    deployment = deployment_of(profile)
    problems = []
    for task in task_definitions(deployment):
        writes = [(c, m, v) for c, m, v in _writes(task) if "EFSVolumeConfiguration" not in v]
        if not writes:
            continue
        sandbox = Path(tempfile.mkdtemp(prefix="volumes-", dir="/tmp"))
        try:
            sandbox.chmod(0o755)
            directories = {}
            for volume in task.properties["Volumes"]:
                if "EFSVolumeConfiguration" not in volume:
                    directory = sandbox / volume["Name"]
                    directory.mkdir(mode=0o755)
                    os.chown(directory, 0, 0)
                    directories[volume["Name"]] = directory
            for owner in _owners(task).values():
                script = owner["Command"][0]
                mounts = sorted(owner["MountPoints"], key=lambda m: -len(m["ContainerPath"]))
                for mount in mounts:
                    script = script.replace(mount["ContainerPath"], str(directories[mount["SourceVolume"]]))
                subprocess.run(["sh", "-c", script], check=True, capture_output=True, text=True)
            for container, mount, volume in writes:
                uid, gid = _uid_gid(container["User"])
                probe = subprocess.run(
                    ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                     "sh", "-c", 'mkdir "$1/plugins" && echo ok > "$1/plugins/probe"', "-",
                     str(directories[volume["Name"]])],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if probe.returncode != 0:
                    problems.append(
                        f"{task.label}: {container['Name']} ({container['User']}) cannot write "
                        f"{mount['ContainerPath']}: {probe.stderr.strip()}"
                    )
        finally:
            shutil.rmtree(sandbox)
    assert problems == []


def test_without_the_hand_over_grafana_could_not_write_its_data(kinds: Synthesized) -> None:
    """The proof fails on what the platform shipped before: Grafana's volumes with no owner step
    (in the variant that runs Grafana whether the profile does or not)."""
    assert kinds.spec.grafana is not None
    deployment = deployment_of(kinds)
    (grafana,) = [t for t in task_definitions(deployment) if t.label.endswith(f"/{kinds.spec.grafana.name}")]
    for container in grafana.containers:
        container["DependsOn"] = [d for d in container.get("DependsOn", []) if d["ContainerName"] != "volume-owner"]
    waiting = {d["ContainerName"] for c in grafana.containers for d in c.get("DependsOn", [])}
    assert "volume-owner" not in waiting
    unowned = [m["ContainerPath"] for c, m, v in _writes(grafana) if "EFSVolumeConfiguration" not in v]
    assert unowned == ["/var/lib/grafana", "/tmp"]


# --- 2. ECS Exec needs a writable root filesystem -------------------------------------------
#
# ECS developer guide, "Monitor Amazon ECS containers with ECS Exec", considerations
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html): "The SSM agent
# requires that the container file system is able to be written to ... making the root file
# system read-only using the readonlyRootFilesystem task definition parameter ... isn't
# supported." (aws/containers-roadmap#1359.) The guide also recommends initProcessEnabled.


def test_ecs_exec_gets_a_writable_root_and_an_init_process_and_nothing_else_does(profile: Synthesized) -> None:
    deployment = deployment_of(profile)
    exec_tasks: dict[str, bool] = {}
    for stack in deployment.stacks:
        for body in deployment.resources(stack, "AWS::ECS::Service").values():
            props = deployment.resolve(stack, body["Properties"])
            exec_tasks[props["TaskDefinition"]] = bool(props.get("EnableExecuteCommand"))
    checked = 0
    for task in task_definitions(deployment):
        exec_on = exec_tasks.get(deployment.ref(task.stack, task.logical_id), False)
        for container in task.containers:
            where = f"{task.label}: {container['Name']}"
            assert container["ReadonlyRootFilesystem"] is (not exec_on), where
            assert container.get("LinuxParameters", {}).get("InitProcessEnabled", False) is exec_on, where
        checked += exec_on
    expected = sum(s.ecs_exec for s in profile.spec.services) + profile.spec.prometheus.ecs_exec
    expected += bool(profile.spec.grafana and profile.spec.grafana.ecs_exec)
    assert checked == expected


# --- 4. Grafana behind CloudFront accepts the browser's requests ------------------------------
#
# Grafana's CSRF check (pkg/middleware/csrf/csrf.go in grafana/grafana; grafana/grafana#46321):
# a request carrying the login cookie and an Origin header passes only when the Origin's host
# equals the Host header's host, a host in one of csrf_additional_headers, or an entry of
# csrf_trusted_origins. CloudFront forwards the viewer's Origin but, with the
# AllViewerExceptHostHeader policy, sends the origin's name (the load balancer's) as Host.


def grafana_csrf_allows(*, origin: str, host: str, trusted_origins: str) -> bool:
    origin_host = re.sub(r"^https?://", "", origin).split("/")[0].split(":")[0]
    return origin_host == host.split(":", maxsplit=1)[0] or origin_host in trusted_origins.split()


def _grafana_environment(deployment: Deployment, name: str) -> dict[str, str]:
    (grafana,) = [c for t in task_definitions(deployment) for c in t.containers if c["Name"] == name]
    return {e["Name"]: e["Value"] for e in grafana["Environment"]}


def _viewer_host(deployment: Deployment) -> tuple[str, str]:
    """(the host viewers use, the host CloudFront sends to the load balancer)."""
    for stack in deployment.stacks:
        for logical_id, body in deployment.resources(stack, "AWS::CloudFront::Distribution").items():
            aliases = body["Properties"]["DistributionConfig"].get("Aliases", [])
            viewer = aliases[0] if aliases else deployment.get_att(stack, logical_id, "DomainName")
            (balancer,) = deployment.resources(stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
            return viewer, deployment.get_att(stack, balancer, "DNSName")
    raise AssertionError("no distribution")


def test_grafana_accepts_a_signed_in_browser_through_cloudfront(kinds: Synthesized) -> None:
    grafana = kinds.spec.grafana
    assert grafana is not None
    deployment = deployment_of(kinds)
    viewer, balancer = _viewer_host(deployment)
    environment = _grafana_environment(deployment, grafana.name)
    assert environment["GF_SERVER_ROOT_URL"] == f"https://{viewer}{grafana.route}/"
    assert environment["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    trusted = environment.get("GF_SECURITY_CSRF_TRUSTED_ORIGINS", "")
    assert grafana_csrf_allows(origin=f"https://{viewer}", host=balancer, trusted_origins=trusted)
    assert not grafana_csrf_allows(origin="https://attacker.example", host=balancer, trusted_origins=trusted)
    # What the platform shipped before: no trusted origin, so every signed-in POST was refused.
    assert not grafana_csrf_allows(origin=f"https://{viewer}", host=balancer, trusted_origins="")


# --- 7. Custom resources answer within a bounded time ----------------------------------------
#
# AWS::CloudFormation::CustomResource, ServiceTimeout (https://docs.aws.amazon.com/
# AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html):
# "The default value is 3600 seconds (1 hour)": a handler that dies holds the stack that long.


def test_every_custom_resource_has_a_bounded_service_timeout(profile: Synthesized) -> None:
    checked = 0
    for layer in LAYERS:
        resources = profile.template_json(layer)["Resources"]
        for logical_id, resource in resources.items():
            if not is_custom_resource(resource["Type"]):
                continue
            timeout = int(resource["Properties"].get("ServiceTimeout", 3600))
            function = resources[resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]["Properties"]
            # At most what a Lambda handler can run (900 s): a dead handler holds the stack
            # no longer than a live one could have worked (the bootstrap waits for its task).
            assert 60 <= timeout <= 900, f"{layer}/{logical_id}"
            assert timeout >= min(function["Timeout"], 300), f"{layer}/{logical_id} waits less than its handler"
            checked += 1
    assert checked >= 3


# --- 9. Weak cross-stack references ----------------------------------------------------------
#
# The templates read other stacks' outputs with Fn::GetStackOutput (cdk.json:
# @aws-cdk/core:defaultCrossStackReferences = weak). aws/aws-cdk#38010: CloudFormation resolved
# each occurrence with its own DescribeStacks call, and a template with 75 occurrences (of 9
# outputs) failed with Throttling; since July 2026 it resolves each (stack, output, region) once
# (the issue, closed once the reporter confirmed the fix on CloudFormation's side). So what still
# adds up is the number of distinct outputs a template reads, which grows with the services.
# aws/aws-cdk#38829: their values are unknown in a change set, so CloudFormation plans to replace
# every resource whose replacement-only property reads one, and what depends on it.

THROTTLED_REPORT = 75
DISTINCT_CEILING = 40


def _weak_references(value: Any) -> set[str]:
    """The distinct (stack, output, region) a template reads, each as JSON."""
    if isinstance(value, Mapping):
        found = {json.dumps(value["Fn::GetStackOutput"], sort_keys=True)} if "Fn::GetStackOutput" in value else set()
        return found.union(*(_weak_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_weak_references(v) for v in value))
    return set()


def test_no_template_reads_near_as_many_outputs_as_were_throttled(profile: Synthesized) -> None:
    counts = {layer: len(_weak_references(profile.template_json(layer))) for layer in LAYERS}
    assert max(counts.values()) <= DISTINCT_CEILING < THROTTLED_REPORT, counts


def test_the_distinct_outputs_read_are_counted() -> None:
    """The count the ceiling holds is of distinct outputs: one read twice counts once."""
    read = {"Fn::GetStackOutput": {"StackName": "a", "OutputName": "b", "Region": "r"}}
    template = {"Resources": {"One": {"Properties": {"X": read, "Y": [read, dict(read)]}}}}
    assert len(_weak_references(template)) == 1
    other = {"Fn::GetStackOutput": {"StackName": "a", "OutputName": "c", "Region": "r"}}
    assert len(_weak_references({"X": [read, {"Z": other}]})) == 2


STATEFUL = ("AWS::RDS::DBInstance", "AWS::EFS::FileSystem", "AWS::S3::Bucket", "AWS::KMS::Key",
            "AWS::ECR::Repository", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret",
            "AWS::Backup::BackupVault", "AWS::APS::Workspace", "AWS::SNS::Topic")  # fmt: skip


def planned_replacements(template: Mapping[str, Any], region: str) -> set[str]:
    """Resources a change set could plan to replace because a weak reference is unknown in it:
    a replacement-only property (the registry schema's createOnlyProperties) that reads one,
    or reads a resource planned for replacement; to a fixed point."""
    resources = template["Resources"]
    planned: set[str] = set()

    def reads(value: Any) -> bool:
        if isinstance(value, Mapping):
            if "Fn::GetStackOutput" in value:
                return True
            target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
            if isinstance(target, str) and target in planned:
                return True
            return any(reads(v) for v in value.values())
        if isinstance(value, list):
            return any(reads(v) for v in value)
        return False

    changed = True
    while changed:
        changed = False
        for logical_id, resource in resources.items():
            if logical_id in planned or resource["Type"].startswith("Custom::"):
                continue
            try:
                create_only = create_only_properties(resource["Type"], region)
            except KeyError:
                continue
            properties = resource.get("Properties", {})
            if any(reads(properties.get(p)) for p in create_only):
                planned.add(logical_id)
                changed = True
    return planned


def test_no_stateful_resource_reads_a_weak_reference_where_it_would_be_replaced(profile: Synthesized) -> None:
    for layer in LAYERS:
        template = profile.template_json(layer)
        planned = planned_replacements(template, profile.spec.region)
        stateful = sorted(p for p in planned if template["Resources"][p]["Type"] in STATEFUL)
        assert stateful == [], layer


def test_the_replacement_analysis_sees_a_weak_reference_in_a_replacement_only_property() -> None:
    template = {
        "Resources": {
            "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {"DBSubnetGroupName": {
                "Fn::GetStackOutput": {"StackName": "network", "OutputName": "Name"}}}},
            "Database": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBSubnetGroupName": {"Ref": "Subnets"}}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {
                "Fn::GetStackOutput": {"StackName": "data", "OutputName": "Key"}}}},
        }
    }  # fmt: skip
    assert planned_replacements(template, "us-east-1") == {"Subnets", "Database"}
