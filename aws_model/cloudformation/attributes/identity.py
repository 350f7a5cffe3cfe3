"""The attributes CloudFormation gives resources of IAM: roles,
managed policies, instance profiles."""

from __future__ import annotations

from aws_model.cloudformation.physical import Resource, named
from aws_model.cloudformation.values import UPPER, Facts, constant


def role(r: Resource) -> Facts:
    name = named(r, "RoleName", max_len=64)
    return {
        "Ref": name,
        "Arn": lambda: r.arn("iam", f"role{r.text('Path') or '/'}{name()}", regional=False),
        "RoleId": constant("AROA" + r.token(17, UPPER)),
    }


def managed_policy(r: Resource) -> Facts:
    name = named(r, "ManagedPolicyName", max_len=128)

    def arn() -> str:
        return r.arn("iam", f"policy{r.text('Path') or '/'}{name()}", regional=False)

    return {"Ref": arn, "PolicyArn": arn, "PolicyId": constant("ANPA" + r.token(17, UPPER))}


def instance_profile(r: Resource) -> Facts:
    name = named(r, "InstanceProfileName", max_len=128)
    return {
        "Ref": name,
        "Arn": lambda: r.arn("iam", f"instance-profile{r.text('Path') or '/'}{name()}", regional=False),
    }
