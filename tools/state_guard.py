"""``python -m tools.state_guard BASE_DIR NEW_DIR``: refuse a change that would replace or remove state,
or replace a resource under a name its replacement cannot have.

Compares two synthesized cloud assemblies (``make diff`` makes them from the
base commit and the working tree) and names every stateful resource that the
new templates would delete, or replace because a property CloudFormation
cannot change in place differs (or names what is replaced). It also names every
resource with a fixed name that would be replaced while the name stays:
CloudFormation creates the replacement before it deletes the old one, so the
name is still taken and the update fails ("Update behaviors of stack resources",
Replacement). Exit 1 when there is one, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.replacements import identity_kept, names_another, replacements
from compliance.resource_schemas import name_properties

# Types that hold data, and the properties whose change makes CloudFormation
# create a new resource (and delete or orphan the old one).
REPLACED_WHEN_CHANGED: dict[str, tuple[str, ...]] = {
    "AWS::RDS::DBInstance": (
        "DBInstanceIdentifier",
        "DBName",
        "Engine",
        "KmsKeyId",
        "StorageEncrypted",
        "MasterUsername",
        "CharacterSetName",
    ),
    "AWS::EFS::FileSystem": ("Encrypted", "KmsKeyId", "PerformanceMode", "AvailabilityZoneName"),
    "AWS::S3::Bucket": ("BucketName", "ObjectLockEnabled"),
    "AWS::ECR::Repository": ("RepositoryName", "EncryptionConfiguration"),
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "Origin"),
    "AWS::Backup::BackupVault": ("BackupVaultName", "EncryptionKeyArn"),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::APS::Workspace": ("KmsKeyArn",),
}
STATEFUL_TYPES = tuple(REPLACED_WHEN_CHANGED)

# Names a replacement may keep: another resource of the type may have the same one.
SHARED_NAMES = {("AWS::CertificateManager::Certificate", "DomainName"), ("AWS::RDS::DBInstance", "DBName")}
# Types without a name whose replacement clashes with the old one all the same, on these properties.
UNIQUE_WITHOUT_NAME: dict[str, tuple[str, ...]] = {
    "AWS::EFS::MountTarget": ("FileSystemId",),  # one mount target per zone of a file system
    "AWS::ElasticLoadBalancingV2::ListenerRule": ("ListenerArn", "Priority"),  # one rule per priority
}


@dataclass(frozen=True)
class StateRisk:
    stack: str
    logical_id: str
    resource_type: str
    reason: str
    name_clash: bool = False
    """A resource replaced under the name it has: not state, but a deploy that cannot succeed."""

    def __str__(self) -> str:
        return f"{self.stack}: {self.resource_type} {self.logical_id} {self.reason}"


def _templates(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(directory.glob("*.template.json"))
    }


def state_risks(base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[StateRisk]:
    risks: list[StateRisk] = []
    for stack, template in base.items():
        new_resources = new.get(stack, {}).get("Resources", {})
        for logical_id, resource in template.get("Resources", {}).items():
            kind = resource["Type"]
            if kind not in REPLACED_WHEN_CHANGED:
                continue
            after = new_resources.get(logical_id)
            if after is None:
                gone = (
                    "its stack is no longer in the app: deleting that stack would delete it"
                    if stack not in new
                    else "it is no longer in the template; renamed construct?"
                )
                risks.append(StateRisk(stack, logical_id, kind, f"would be removed ({gone})"))
            elif after["Type"] != kind:
                risks.append(StateRisk(stack, logical_id, kind, f"would be replaced by a {after['Type']}"))
            else:
                before_props, after_props = resource.get("Properties", {}), after.get("Properties", {})
                changed = [p for p in REPLACED_WHEN_CHANGED[kind] if before_props.get(p) != after_props.get(p)]
                if changed:
                    risks.append(
                        StateRisk(stack, logical_id, kind, f"would be replaced ({', '.join(changed)} changed)")
                    )
    return risks + _replaced_along(base, new, {(r.stack, r.logical_id) for r in risks})


def _fixed_names(resource: dict[str, Any], resources: dict[str, Any]) -> tuple[str, ...]:
    """The properties that name the resource with a value written in the template (not one
    CloudFormation generates, nor another resource's), or make it unique without a name."""
    kind, properties = resource["Type"], resource.get("Properties", {})
    if kind in UNIQUE_WITHOUT_NAME:
        return UNIQUE_WITHOUT_NAME[kind]
    try:
        named = name_properties(kind)
    except KeyError:  # a custom resource: its provider names it
        return ()
    return tuple(
        p
        for p in named
        if p.endswith(("Name", "Identifier"))
        and p in properties
        and (kind, p) not in SHARED_NAMES
        and not names_another(properties[p], resources)
    )


def _replaced_along(
    base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], reported: set[tuple[str, str]]
) -> list[StateRisk]:
    """Stateful resources replaced along with what they name, and any resource replaced while it
    keeps its fixed name (or what else it must not share)."""
    risks: list[StateRisk] = []
    replaced = replacements(base, new)
    for (stack, logical_id), why in sorted(replaced.items()):
        if (stack, logical_id) in reported:
            continue
        resource = new[stack]["Resources"][logical_id]
        kind = resource["Type"]
        if kind in REPLACED_WHEN_CHANGED:
            risks.append(StateRisk(stack, logical_id, kind, f"would be replaced ({why})"))
            continue
        names = _fixed_names(resource, new[stack]["Resources"])
        if names and identity_kept(base, new, stack, logical_id, names, replaced):
            kept = ", ".join(f"{p} {json.dumps(resource['Properties'][p])}" for p in names)
            risks.append(
                StateRisk(
                    stack,
                    logical_id,
                    kind,
                    f"would be replaced ({why}) but keeps {kept}: CloudFormation creates the new one before it "
                    "deletes the old, and the old one still holds it",
                    name_clash=True,
                )
            )
    return risks


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tools.state_guard BASE_CLOUD_ASSEMBLY NEW_CLOUD_ASSEMBLY", file=sys.stderr)
        return 2
    base, new = (Path(a) for a in argv)
    for directory in (base, new):
        if not any(directory.glob("*.template.json")):
            print(f"error: no templates in {directory}", file=sys.stderr)
            return 2
    before, after = _templates(base), _templates(new)
    if not set(before) & set(after):
        # A renamed (or moved) platform: cdk deploy creates the new stacks and leaves the base's alone.
        print(
            f"state guard: none of the base's stacks ({', '.join(sorted(before))}) is in this change "
            f"({', '.join(sorted(after))}): a renamed platform deploys new stacks, and cdk deploy leaves any "
            "deployed ones of the old names as they are. Nothing of theirs is replaced; delete them yourself "
            "once you no longer need their state."
        )
        return 0
    risks = state_risks(before, after)
    state = [r for r in risks if not r.name_clash]
    clashes = [r for r in risks if r.name_clash]
    for risk in state:
        print(f"STATE AT RISK: {risk}")
    for risk in clashes:
        print(f"NAME CLASH: {risk}")
    if state:
        print(
            f"{len(state)} stateful resource(s) would be replaced or removed: "
            "keep their construct ids and immutable properties"
        )
    if clashes:
        print(
            f"{len(clashes)} resource(s) would be replaced under a name that is still taken: "
            "change the name together with the property, or keep the property"
        )
    if risks:
        return 1
    print("state guard: no stateful resource would be replaced or removed, and no replacement keeps a name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
