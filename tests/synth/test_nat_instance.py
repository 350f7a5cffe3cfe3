"""The dev NAT instance: its set-up script run for real against stand-ins for the
package manager, iptables and the CloudFormation CLI, and its wiring in the template.

CDK's default NAT user data installs iptables once with no retry (aws/aws-cdk#36717), so
a transient package-manager failure leaves the VPC without egress while the stack
reports success. The script must retry, and fail the deploy loudly when it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from layers.network.platform_vpc import NAT_IMAGE_GENERATION_TAG, NAT_SCRIPT, PlatformVpc
from layers.shared.log_groups import Logging
from platform_spec import NetworkSpec
from platform_spec.names import NETWORK
from tests.platform_synth import Synthesized

# Stand-ins for the commands the script calls, each recording its arguments. The
# package manager fails as often as FAILURES says; iptables remembers its rules.
_STANDINS = {
    "dnf": """
count=$(cat "$STATE/dnf-calls" 2>/dev/null || echo 0); count=$((count + 1)); echo "$count" > "$STATE/dnf-calls"
[ "$count" -gt "$FAILURES" ] || { echo "Error: Failed to download metadata for repo" >&2; exit 1; }
""",
    "iptables": """
if [ "$*" = "-t nat -S POSTROUTING" ]; then echo "-P POSTROUTING ACCEPT"; cat "$STATE/nat-rules" 2>/dev/null; exit 0; fi
case "$*" in "-t nat -A POSTROUTING "*) echo "${*#-t nat }" >> "$STATE/nat-rules";; esac
""",
    "sysctl": """
case "$1" in -w) echo "${2#*=}" > "$STATE/ip_forward";; -n) cat "$STATE/ip_forward" 2>/dev/null || echo 0;; esac
""",
    "ip": 'echo "default via 10.0.0.1 dev ens5 proto dhcp src 10.0.0.10 metric 512"',
    "curl": 'case "$*" in *api/token*) echo token;; *instance-id*) echo i-0123456789abcdef0;; esac',
    "aws": "",
    "systemctl": "",
    "service": "",
    "sleep": "",
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    calls: dict[str, list[str]]


def _run(tmp_path: Path, *, failures: int) -> Run:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in _STANDINS.items():
        command = bin_dir / name
        command.write_text(f'#!/bin/sh\necho "$*" >> "$STATE/{name}.log"\n{body}\n')
        command.chmod(0o755)
    script = tmp_path / "user-data.sh"
    script.write_text(
        "#!/bin/bash\nSTACK_NAME=dev-davidshaevel-network\nREGION=us-east-1\nRESOURCE=NatInstance\n"
        + NAT_SCRIPT.read_text()
    )
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "STATE": str(state),
        "FAILURES": str(failures),
        "FORWARDING_CONF": str(state / "forwarding.conf"),
    }
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run([bash, str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
    calls = {log.name.removesuffix(".log"): log.read_text().splitlines() for log in sorted(state.glob("*.log"))}
    return Run(result.returncode, result.stderr, calls)


def _signals(run: Run) -> list[str]:
    return [call.split("--status ")[1] for call in run.calls.get("aws", []) if "signal-resource" in call]


def test_a_transient_package_failure_is_retried_and_the_instance_forwards(tmp_path: Path) -> None:
    run = _run(tmp_path, failures=2)
    assert run.returncode == 0, run.stderr
    assert len(run.calls["dnf"]) == 3, "two failures, then the install succeeds"
    assert "-t nat -A POSTROUTING -o ens5 -j MASQUERADE" in run.calls["iptables"]
    assert (tmp_path / "state" / "forwarding.conf").read_text() == "net.ipv4.ip_forward=1\n"
    assert _signals(run) == ["SUCCESS"]
    (signal,) = run.calls["aws"]
    assert signal == (
        "cloudformation signal-resource --region us-east-1 --stack-name dev-davidshaevel-network "
        "--logical-resource-id NatInstance --unique-id i-0123456789abcdef0 --status SUCCESS"
    )


def test_a_package_manager_that_keeps_failing_fails_the_deploy(tmp_path: Path) -> None:
    run = _run(tmp_path, failures=100)
    assert run.returncode != 0
    assert len(run.calls["dnf"]) == 8
    assert _signals(run) == ["FAILURE"], "CloudFormation hears of it at once instead of a silent instance"
    assert "iptables" not in run.calls, "nothing after the failed step runs"


def _nat_instances(synth: Synthesized) -> dict[str, dict[str, Any]]:
    resources = synth.template_json(NETWORK)["Resources"]
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::EC2::Instance"}


def test_the_nat_instance_runs_the_script_and_waits_for_its_signal(dev: Synthesized) -> None:
    instances = _nat_instances(dev)
    assert len(instances) == dev.spec.network.nat_gateways
    resources = dev.template_json(NETWORK)["Resources"]
    for logical_id, instance in instances.items():
        assert instance["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT15M"}}
        parts = instance["Properties"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
        user_data = "".join(p if isinstance(p, str) else "<region>" for p in parts)
        assert f"RESOURCE={logical_id}\n" in user_data, "it signals its own resource"
        assert user_data.endswith(NAT_SCRIPT.read_text())
        role = resources[instance["Properties"]["IamInstanceProfile"]["Ref"]]["Properties"]["Roles"][0]["Ref"]
        statements = [
            s
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
            for s in r["Properties"]["PolicyDocument"]["Statement"]
        ]
        assert {"Action": "cloudformation:SignalResource", "Effect": "Allow", "Resource": {"Ref": "AWS::StackId"}} in (
            statements
        )


def test_production_uses_managed_nat_gateways(prod: Synthesized) -> None:
    assert _nat_instances(prod) == {}
    gateways = [r for r in prod.template_json(NETWORK)["Resources"].values() if r["Type"] == "AWS::EC2::NatGateway"]
    assert len(gateways) == prod.spec.network.nat_gateways


# --- The image: it moves when the spec says, and only then ---------------------------------------
# AWS publishes Amazon Linux images often. An ImageId read from SSM at every deploy (the
# CloudFormation parameter CDK's latest_amazon_linux2023 makes) replaced dev's NAT instance, and
# cut its egress mid-deploy, whenever one came out.


def _launches(template: Mapping[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """Each NAT instance's own ImageId (None: it has none), and the data of the launch template
    it launches from."""
    resources = template["Resources"]
    found = []
    for resource in resources.values():
        if resource["Type"] == "AWS::EC2::Instance":
            properties = resource["Properties"]
            launch_template = resources[properties["LaunchTemplate"]["LaunchTemplateId"]["Ref"]]
            found.append((properties.get("ImageId"), launch_template["Properties"]["LaunchTemplateData"]))
    return found


def test_the_nat_instance_names_its_image_parameter_and_generation(dev: Synthesized) -> None:
    network, template = dev.spec.network, dev.template_json(NETWORK)
    assert not [p for p in template.get("Parameters", {}).values() if "AWS::EC2::Image::Id" in p["Type"]], (
        "a parameter CloudFormation re-reads at every deploy"
    )
    found = _launches(template)
    assert len(found) == network.nat_gateways
    for own_image, data in found:
        assert own_image is None, "the launch template names the image"
        assert data["ImageId"] == f"resolve:ssm:{network.nat_image}", "EC2 reads it at launch, not CloudFormation"
        (tags,) = [t["Tags"] for t in data["TagSpecifications"] if t["ResourceType"] == "instance"]
        assert {"Key": NAT_IMAGE_GENERATION_TAG, "Value": str(network.nat_image_generation)} in tags


def _vpc_alone(network: NetworkSpec, region: str) -> Mapping[str, Any]:
    """The VPC construct alone, in a stack of its own in ``region``: seconds, not a profile's synth."""
    stack = Stack(App(), "Network", env=Environment(region=region))
    key = kms.Key(stack, "Key")
    PlatformVpc(stack, "Network", network=network, flow_logs=Logging(key=key, retention_days=30))
    return Template.from_stack(stack).to_json()


def test_the_image_changes_with_the_generation_and_nothing_else(dev: Synthesized) -> None:
    """What decides the image is what the instance launches from, its ImageId and its launch
    template's data (a new version replaces the instance too): the same in every region, and
    moved by a new generation alone."""
    network = replace(dev.spec.network, zone_ids=())
    region = dev.spec.region
    other_region = next(r for r in ("eu-west-1", "ap-southeast-2") if r != region)
    here = _launches(_vpc_alone(network, region))
    assert here
    assert all(isinstance(data["ImageId"], str) for _, data in here), "a literal, resolved by no lookup"
    assert _launches(_vpc_alone(network, other_region)) == here, "no per-region image"
    bumped = replace(network, nat_image_generation=network.nat_image_generation + 1)
    moved = _launches(_vpc_alone(bumped, region))
    assert [data["ImageId"] for _, data in moved] == [data["ImageId"] for _, data in here]
    assert all(new != old for new, old in zip(moved, here, strict=True)), "a new version of the launch template"
