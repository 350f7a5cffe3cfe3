"""``python -m tools.state_guard BASE_DIR NEW_DIR``: refuse a change that would replace or remove state.

Compares two synthesized cloud assemblies (``make diff`` makes them from the
base commit and the working tree) and names every stateful resource that the
new templates would delete, or replace because a property CloudFormation
cannot change in place differs. Exit 1 when there is one, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class StateRisk:
    stack: str
    logical_id: str
    resource_type: str
    reason: str

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
    for risk in risks:
        print(f"STATE AT RISK: {risk}")
    if risks:
        print(
            f"{len(risks)} stateful resource(s) would be replaced or removed: "
            "keep their construct ids and immutable properties"
        )
        return 1
    print("state guard: no stateful resource would be replaced or removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
