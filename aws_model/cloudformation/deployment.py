"""A deployment: the stacks of one account as CloudFormation would create them, and the IAM
policies that apply to a role or govern a resource, resolved to the strings IAM sees."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aws_model.cloudformation.intrinsics import Intrinsics
from aws_model.cloudformation.physical import Resource
from aws_model.cloudformation.resource_table import POLICY_PROPERTIES, facts_for
from aws_model.cloudformation.values import Facts, Guard, TemplateError, as_text
from aws_model.iam import NamedPolicy, UnsupportedPolicy

__all__ = ["Deployment"]


class Deployment(Intrinsics):
    """A set of stacks deployed together in one account (stack name -> template JSON), in one
    region but for the stacks ``stack_regions`` places elsewhere."""

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        *,
        account: str = "111122223333",
        region: str = "us-east-1",
        stack_regions: Mapping[str, str] | None = None,
        partition: str = "aws",
        aws_managed_policies: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``region``: where the stacks are; ``stack_regions``: the stacks deployed elsewhere (a
        platform's us-east-1 edge stack). ``aws_managed_policies`` maps an AWS-managed policy ARN
        to its document, when a caller knows it."""
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"account must be 12 digits, got {account!r}")
        self.account = account
        self.region = region
        self._stack_regions = dict(stack_regions or {})
        unknown = sorted(set(self._stack_regions) - set(templates))
        if unknown:
            raise ValueError(f"stack_regions names stacks not in the deployment: {', '.join(unknown)}")
        self.partition = partition
        self._templates = dict(templates)
        self._aws_managed = dict(aws_managed_policies or {})
        self._facts: dict[tuple[str, str], Facts] = {}
        self._values: dict[tuple[str, str, str], Any] = {}
        self._conditions: dict[tuple[str, str], bool] = {}
        self._busy: set[tuple[str, ...]] = set()  # guards against reference cycles

    # --- Public API ---------------------------------------------------------------------------

    @property
    def stacks(self) -> list[str]:
        return list(self._templates)

    def ref(self, stack: str, logical_id: str) -> str:
        return as_text(self._fact(stack, logical_id, "Ref"), f"{stack}/{logical_id} Ref")

    def get_att(self, stack: str, logical_id: str, attribute: str) -> str:
        return as_text(self._fact(stack, logical_id, attribute), f"{stack}/{logical_id}.{attribute}")

    def resource(self, stack: str, logical_id: str) -> Mapping[str, Any]:
        resources = self._template(stack).get("Resources", {})
        if logical_id not in resources:
            raise TemplateError(f"stack {stack} has no resource {logical_id}")
        body: Mapping[str, Any] = resources[logical_id]
        return body

    def resources(self, stack: str, resource_type: str | None = None) -> dict[str, Mapping[str, Any]]:
        """The resources CloudFormation would create (those whose Condition holds), optionally of one type."""
        return {
            logical_id: body
            for logical_id, body in self._template(stack).get("Resources", {}).items()
            if (resource_type is None or body.get("Type") == resource_type) and self._created(stack, logical_id)
        }

    def parameters(self, stack: str) -> list[str]:
        """The names of ``stack``'s parameters."""
        return list(self._template(stack).get("Parameters", {}))

    def role_arn(self, stack: str, role_logical_id: str) -> str:
        self._expect_type(stack, role_logical_id, "AWS::IAM::Role")
        return self.get_att(stack, role_logical_id, "Arn")

    def identity_policies(self, stack: str, role_logical_id: str) -> list[NamedPolicy]:
        """Every policy that applies to the role: inline, attached from any stack, and managed ARNs."""
        role = self._expect_type(stack, role_logical_id, "AWS::IAM::Role")
        role_name = self.ref(stack, role_logical_id)
        properties = self._properties(stack, role)
        policies: list[NamedPolicy] = []
        for inline in properties.get("Policies", []):
            name = f"{stack}/{role_logical_id}/{inline.get('PolicyName', '?')}"
            policies.append(NamedPolicy(name=name, document=self._document(inline.get("PolicyDocument"), name)))

        attached_arns: set[str] = set()
        for other in self._templates:
            for logical_id, body in self.resources(other).items():
                kind = body.get("Type")
                if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                    continue
                props = self._properties(other, body)
                roles = [props.get("RoleName")] if kind == "AWS::IAM::RolePolicy" else props.get("Roles", [])
                if role_name not in roles:
                    continue
                if kind == "AWS::IAM::ManagedPolicy":
                    attached_arns.add(self.ref(other, logical_id))
                name = f"{other}/{logical_id}"
                policies.append(NamedPolicy(name=name, document=self._document(props.get("PolicyDocument"), name)))

        for arn in properties.get("ManagedPolicyArns", []):
            if arn not in attached_arns:
                policies.append(self._managed_policy(arn, f"{stack}/{role_logical_id}"))
                attached_arns.add(arn)
        return policies

    def resource_policy(self, arn: str) -> NamedPolicy | None:
        """The resource-based policy that governs ``arn``, or None when the resource has none."""
        found: list[NamedPolicy] = []
        for stack in self._templates:
            for logical_id, body in self.resources(stack).items():
                policy = self._policy_for(stack, logical_id, body, arn)
                if policy is not None:
                    found.append(policy)
        if len(found) > 1:
            raise TemplateError(f"{arn} is governed by several policies ({', '.join(p.name for p in found)})")
        return found[0] if found else None

    # --- Policies -----------------------------------------------------------------------------

    def _policy_for(self, stack: str, logical_id: str, body: Mapping[str, Any], arn: str) -> NamedPolicy | None:
        name = f"{stack}/{logical_id}"
        document = self._governing_document(stack, logical_id, body, arn)
        if document is None:
            return None
        if body.get("Type") == "AWS::Logs::ResourcePolicy":
            # CloudWatch Logs takes the policy as a JSON string.
            try:
                document = json.loads(document)
            except (TypeError, json.JSONDecodeError) as error:
                raise TemplateError(f"{name}: PolicyDocument is not a JSON string ({error})") from None
        return NamedPolicy(name=name, document=self._document(document, name))

    def _governing_document(self, stack: str, logical_id: str, body: Mapping[str, Any], arn: str) -> Any:
        """The resolved policy of this resource if it governs ``arn``, else None."""
        kind = str(body.get("Type"))
        raw = body.get("Properties", {})
        covers = False
        property_name = "PolicyDocument"
        if kind == "AWS::S3::BucketPolicy":
            # A bucket policy covers the bucket and every object in it.
            bucket_arn = f"arn:{self.partition}:s3:::{self.resolve(stack, raw.get('Bucket'))}"
            covers = arn == bucket_arn or arn.startswith(bucket_arn + "/")
        elif kind == "AWS::SNS::TopicPolicy":
            covers = arn in self.resolve(stack, raw.get("Topics", []))
        elif kind == "AWS::SecretsManager::ResourcePolicy":
            covers = self.resolve(stack, raw.get("SecretId")) in (arn, _secret_name(arn))
            property_name = "ResourcePolicy"
        elif kind == "AWS::Logs::ResourcePolicy":
            # Logs resource policies are account-wide; their statements name the log groups.
            region = self.region_of(stack)
            covers = arn.startswith(f"arn:{self.partition}:logs:{region}:{self.account}:log-group:")
        elif kind in POLICY_PROPERTIES:
            property_name, attribute = POLICY_PROPERTIES[kind]
            covers = property_name in raw and self._fact(stack, logical_id, attribute) == arn
        return self.resolve(stack, raw.get(property_name)) if covers else None

    def _managed_policy(self, arn: Any, where: str) -> NamedPolicy:
        if not isinstance(arn, str):
            raise TemplateError(f"{where}: managed policy ARN resolved to {arn!r}, not a string")
        if arn.startswith(f"arn:{self.partition}:iam::aws:policy/"):
            if arn not in self._aws_managed:
                raise UnsupportedPolicy(
                    f"{where} uses AWS-managed policy {arn}; pass its document in aws_managed_policies to evaluate it"
                )
            return NamedPolicy(name=arn, document=self._document(self._aws_managed[arn], arn))
        for stack in self._templates:
            for logical_id in self.resources(stack, "AWS::IAM::ManagedPolicy"):
                if self.ref(stack, logical_id) == arn:
                    name = f"{stack}/{logical_id}"
                    document = self._properties(stack, self.resource(stack, logical_id)).get("PolicyDocument")
                    return NamedPolicy(name=name, document=self._document(document, name))
        raise UnsupportedPolicy(f"{where} uses managed policy {arn}, which is not part of this deployment")

    @staticmethod
    def _document(document: Any, name: str) -> Mapping[str, Any]:
        if not isinstance(document, Mapping):
            raise TemplateError(f"{name}: policy document is missing or not an object")
        return document

    def _properties(self, stack: str, body: Mapping[str, Any]) -> dict[str, Any]:
        resolved = self.resolve(stack, body.get("Properties", {}))
        if not isinstance(resolved, dict):
            raise TemplateError(f"stack {stack}: Properties resolved to {resolved!r}")
        return resolved

    def _expect_type(self, stack: str, logical_id: str, kind: str) -> Mapping[str, Any]:
        body = self.resource(stack, logical_id)
        if body.get("Type") != kind:
            raise TemplateError(f"{stack}/{logical_id} is a {body.get('Type')}, not an {kind}")
        return body

    # --- Physical ids and attributes ----------------------------------------------------------

    def _fact(self, stack: str, logical_id: str, attribute: str) -> Any:
        key = (stack, logical_id, attribute)
        if key in self._values:
            return self._values[key]
        body = self.resource(stack, logical_id)
        if not self._created(stack, logical_id):
            raise TemplateError(f"{stack}/{logical_id} is not created: its condition is false")
        facts = self._facts.get((stack, logical_id))
        if facts is None:
            facts = facts_for(Resource(self, stack, logical_id, body))
            self._facts[(stack, logical_id)] = facts
        if attribute not in facts:
            raise TemplateError(
                f"{stack}/{logical_id}: attribute {attribute} of {body.get('Type')} is not known to this resolver"
            )
        with Guard(self._busy, key):
            value = facts[attribute]()
        self._values[key] = value
        return value


def _secret_name(arn: str) -> str:
    """The secret's name in its ARN, without the six random characters Secrets Manager appends."""
    _, _, tail = arn.partition(":secret:")
    return tail.rsplit("-", 1)[0]
