"""Resolve CDK-synthesized CloudFormation templates as if they were deployed.

Policies in synthesized templates are full of intrinsics (Ref, Fn::GetAtt, Fn::Join,
Fn::GetStackOutput, ...). The access ledger needs them as the concrete strings IAM will see,
so that a policy naming "the backend repository" can be matched against a request for that
repository's ARN. This module plays CloudFormation: it gives every resource a deterministic
physical id (from stack name and logical id, honouring explicit name properties as
CloudFormation does), computes the attributes CDK reads, and evaluates the intrinsics.

It never invents a value it does not know: an unknown intrinsic, attribute, stack, output or
condition raises :class:`TemplateError`, so a caller never matches against a silent placeholder.
Names and ids are stand-ins; only their shape (ARN layout, prefixes) follows AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, Final

from compliance.iam_evaluator import NamedPolicy, UnsupportedPolicy

__all__ = ["Deployment", "TemplateError"]


class TemplateError(Exception):
    """A template value this resolver cannot resolve faithfully."""


class _NoValue:
    """Marks AWS::NoValue until the enclosing object or list drops it."""


_NO_VALUE: Final = _NoValue()

_HEX = "0123456789abcdef"
_UPPER = string.ascii_uppercase + string.digits
_LOWER = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})
_ENGINE_PORTS = {"postgres": "5432", "mysql": "3306", "mariadb": "3306", "oracle": "1521", "sqlserver": "1433"}

_Facts = dict[str, Callable[[], Any]]


class Deployment:
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
        self._facts: dict[tuple[str, str], _Facts] = {}
        self._values: dict[tuple[str, str, str], Any] = {}
        self._conditions: dict[tuple[str, str], bool] = {}
        self._busy: set[tuple[str, ...]] = set()  # guards against reference cycles

    # --- Public API ---------------------------------------------------------------------------

    @property
    def stacks(self) -> list[str]:
        return list(self._templates)

    def region_of(self, stack: str) -> str:
        """Where ``stack`` is deployed."""
        return self._stack_regions.get(stack, self.region)

    def resolve(self, stack: str, value: Any) -> Any:
        """Replace every intrinsic in ``value`` with its deployed value; AWS::NoValue at the top gives None."""
        self._template(stack)
        resolved = self._resolve(stack, value)
        return None if resolved is _NO_VALUE else resolved

    def ref(self, stack: str, logical_id: str) -> str:
        return self._text(self._fact(stack, logical_id, "Ref"), f"{stack}/{logical_id} Ref")

    def get_att(self, stack: str, logical_id: str, attribute: str) -> str:
        return self._text(self._fact(stack, logical_id, attribute), f"{stack}/{logical_id}.{attribute}")

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

    def output(self, stack: str, output_name: str) -> Any:
        outputs = self._template(stack).get("Outputs", {})
        if output_name not in outputs:
            raise TemplateError(f"stack {stack} has no output {output_name}")
        body = outputs[output_name]
        if "Condition" in body and not self._condition(stack, body["Condition"]):
            raise TemplateError(f"output {output_name} of stack {stack} is not created: its condition is false")
        return self.resolve(stack, body.get("Value"))

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
        elif kind in _POLICY_PROPERTIES:
            property_name, attribute = _POLICY_PROPERTIES[kind]
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

    # --- Intrinsics ---------------------------------------------------------------------------

    def _template(self, stack: str) -> Mapping[str, Any]:
        if stack not in self._templates:
            raise TemplateError(f"stack {stack} is not in this deployment (stacks: {', '.join(self._templates)})")
        return self._templates[stack]

    def _resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(stack, key, argument)
            resolved = {k: self._resolve(stack, v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            items = [self._resolve(stack, v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        return value

    def _intrinsic(self, stack: str, name: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[str, Any], Any]] = {
            "Ref": self._fn_ref,
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Join": self._fn_join,
            "Fn::Sub": self._fn_sub,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::Base64": self._fn_base64,
            "Fn::GetAZs": self._fn_get_azs,
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::If": self._fn_if,
            "Fn::ImportValue": self._fn_import_value,
            "Fn::GetStackOutput": self._fn_get_stack_output,
        }
        if name in _CONDITION_FUNCTIONS:
            raise TemplateError(f"stack {stack}: condition function {name} used outside Conditions and Fn::If")
        if name not in handlers:
            raise TemplateError(f"stack {stack}: intrinsic function {name} is not supported")
        return handlers[name](stack, argument)

    def _fn_ref(self, stack: str, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"stack {stack}: Ref takes a name, got {name!r}")
        pseudo = self._pseudo(stack, name)
        if pseudo is not None:
            return pseudo
        template = self._template(stack)
        if name in template.get("Parameters", {}):
            return self._parameter(stack, name, template["Parameters"][name])
        if name in template.get("Resources", {}):
            return self._fact(stack, name, "Ref")
        raise TemplateError(f"stack {stack}: Ref to unknown name {name}")

    def _pseudo(self, stack: str, name: str) -> Any:
        stack_uuid = _token(f"{stack}/stack-id", 32, _HEX)
        values: dict[str, Any] = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region_of(stack),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region_of(stack)}:{self.account}:stack/{stack}/"
            + _uuid(stack_uuid),
            "AWS::NoValue": _NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        if name.startswith("AWS::") and name not in values:
            raise TemplateError(f"stack {stack}: pseudo parameter {name} is not supported")
        return values.get(name)

    def _parameter(self, stack: str, name: str, declaration: Mapping[str, Any]) -> Any:
        kind = str(declaration.get("Type", "String"))
        if "Default" not in declaration:
            raise TemplateError(f"stack {stack}: parameter {name} has no Default to deploy with")
        default = declaration["Default"]
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            return f"resolved-ssm:{default}"
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [item.strip() for item in str(default).split(",")]
        return str(default)

    def _fn_get_att(self, stack: str, argument: Any) -> Any:
        if isinstance(argument, str) and "." in argument:
            logical_id, attribute = argument.split(".", 1)
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            logical_id, attribute = argument[0], self._resolve(stack, argument[1])
        else:
            raise TemplateError(f"stack {stack}: malformed Fn::GetAtt {argument!r}")
        if not isinstance(attribute, str):
            raise TemplateError(f"stack {stack}: Fn::GetAtt attribute resolved to {attribute!r}")
        return self._fact(stack, logical_id, attribute)

    def _fn_join(self, stack: str, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::Join {argument!r}")
        items = self._resolve(stack, argument[1])
        if not isinstance(items, list):
            raise TemplateError(f"stack {stack}: Fn::Join list resolved to {items!r}")
        return argument[0].join(self._text(item, f"stack {stack} Fn::Join element") for item in items)

    def _fn_sub(self, stack: str, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], self._resolve(stack, argument[1])
            if not isinstance(variables, dict):
                raise TemplateError(f"stack {stack}: Fn::Sub variables resolved to {variables!r}")
        else:
            raise TemplateError(f"stack {stack}: malformed Fn::Sub {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} stays literal
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self._fact(stack, logical_id, attribute)
            else:
                value = self._fn_ref(stack, name)
            return self._text(value, f"stack {stack} Fn::Sub ${{{name}}}")

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_select(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"stack {stack}: malformed Fn::Select {argument!r}")
        index, items = self._resolve(stack, argument[0]), self._resolve(stack, argument[1])
        if not isinstance(items, list):
            raise TemplateError(f"stack {stack}: Fn::Select list resolved to {items!r}")
        try:
            position = int(index)
        except (TypeError, ValueError):
            raise TemplateError(f"stack {stack}: Fn::Select index {index!r} is not a number") from None
        if not 0 <= position < len(items):
            raise TemplateError(f"stack {stack}: Fn::Select index {position} is outside a list of {len(items)}")
        return items[position]

    def _fn_split(self, stack: str, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::Split {argument!r}")
        source = self._text(self._resolve(stack, argument[1]), f"stack {stack} Fn::Split source")
        return source.split(argument[0])

    def _fn_base64(self, stack: str, argument: Any) -> str:
        text = self._text(self._resolve(stack, argument), f"stack {stack} Fn::Base64")
        return base64.b64encode(text.encode()).decode()

    def _fn_get_azs(self, stack: str, argument: Any) -> list[str]:
        region = self._text(self._resolve(stack, argument), f"stack {stack} Fn::GetAZs") or self.region_of(stack)
        return [f"{region}a", f"{region}b", f"{region}c"]

    def _fn_find_in_map(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise TemplateError(f"stack {stack}: malformed Fn::FindInMap {argument!r}")
        names = [self._text(self._resolve(stack, a), f"stack {stack} Fn::FindInMap") for a in argument[:3]]
        mapping = self._template(stack).get("Mappings", {}).get(names[0], {})
        found = mapping.get(names[1], {}).get(names[2], _NO_VALUE)
        if found is not _NO_VALUE:
            return self._resolve(stack, found)
        if len(argument) == 4 and isinstance(argument[3], Mapping) and "DefaultValue" in argument[3]:
            return self._resolve(stack, argument[3]["DefaultValue"])
        raise TemplateError(f"stack {stack}: Fn::FindInMap found no {names[0]}/{names[1]}/{names[2]}")

    def _fn_if(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::If {argument!r}")
        return self._resolve(stack, argument[1] if self._condition(stack, argument[0]) else argument[2])

    def _fn_import_value(self, stack: str, argument: Any) -> Any:
        name = self._text(self._resolve(stack, argument), f"stack {stack} Fn::ImportValue")
        for other, template in self._templates.items():
            for output_name, body in template.get("Outputs", {}).items():
                export = body.get("Export")
                if isinstance(export, Mapping) and self.resolve(other, export.get("Name")) == name:
                    return self.output(other, output_name)
        raise TemplateError(f"stack {stack}: Fn::ImportValue {name} matches no export of this deployment")

    def _fn_get_stack_output(self, stack: str, argument: Any) -> Any:
        if not isinstance(argument, Mapping) or not {"StackName", "OutputName"} <= set(argument):
            raise TemplateError(f"stack {stack}: malformed Fn::GetStackOutput {argument!r}")
        arguments = self._resolve(stack, dict(argument))
        other, output_name = arguments["StackName"], arguments["OutputName"]
        if other not in self._templates:
            raise TemplateError(f"stack {stack}: Fn::GetStackOutput names stack {other}, not in this deployment")
        # Without Region it reads the consumer's own region (CloudFormation, "Fn::GetStackOutput").
        region = arguments.get("Region", self.region_of(stack))
        if region != self.region_of(other):
            raise TemplateError(
                f"stack {stack}: Fn::GetStackOutput looks for {other} in {region}, but it is in {self.region_of(other)}"
            )
        return self.output(other, output_name)

    # --- Conditions ---------------------------------------------------------------------------

    def _created(self, stack: str, logical_id: str) -> bool:
        condition = self._template(stack).get("Resources", {}).get(logical_id, {}).get("Condition")
        return condition is None or self._condition(stack, condition)

    def _condition(self, stack: str, name: str) -> bool:
        key = (stack, name)
        if key not in self._conditions:
            conditions = self._template(stack).get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"stack {stack}: unknown condition {name}")
            with _Guard(self._busy, ("condition", stack, name)):
                self._conditions[key] = self._condition_value(stack, conditions[name], name)
        return self._conditions[key]

    def _condition_value(self, stack: str, expression: Any, where: str) -> bool:
        if not (isinstance(expression, Mapping) and len(expression) == 1):
            raise TemplateError(f"stack {stack}: condition {where} cannot be evaluated: {expression!r}")
        (function, argument), *_ = expression.items()
        if function == "Condition" and isinstance(argument, str):
            return self._condition(stack, argument)
        if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            left, right = (self._resolve(stack, a) for a in argument)
            return bool(_comparable(left) == _comparable(right))
        if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            return not self._condition_value(stack, argument[0], where)
        if function in ("Fn::And", "Fn::Or") and isinstance(argument, list):
            values = [self._condition_value(stack, a, where) for a in argument]
            return all(values) if function == "Fn::And" else any(values)
        raise TemplateError(f"stack {stack}: condition {where} uses {function}, which cannot be evaluated")

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
            facts = _facts_for(_Resource(self, stack, logical_id, body))
            self._facts[(stack, logical_id)] = facts
        if attribute not in facts:
            raise TemplateError(
                f"{stack}/{logical_id}: attribute {attribute} of {body.get('Type')} is not known to this resolver"
            )
        with _Guard(self._busy, key):
            value = facts[attribute]()
        self._values[key] = value
        return value

    @staticmethod
    def _text(value: Any, where: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise TemplateError(f"{where} resolved to {value!r}, not a string")


class _Guard:
    """Detects a value that (indirectly) depends on itself instead of recursing forever."""

    def __init__(self, busy: set[tuple[str, ...]], key: tuple[str, ...]) -> None:
        self._busy, self._key = busy, key

    def __enter__(self) -> None:
        if self._key in self._busy:
            raise TemplateError(f"circular reference through {'/'.join(self._key)}")
        self._busy.add(self._key)

    def __exit__(self, *_: object) -> None:
        self._busy.discard(self._key)


def _token(seed: str, length: int, alphabet: str) -> str:
    """Deterministic pseudo-random characters: the same stack and logical id always get the same id."""
    out: list[str] = []
    counter = 0
    while len(out) < length:
        digest = hashlib.sha256(f"{seed}#{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return "".join(out[:length])


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def _comparable(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else str(value) if isinstance(value, int | float) else value


def _secret_name(arn: str) -> str:
    """The secret's name in its ARN, without the six random characters Secrets Manager appends."""
    _, _, tail = arn.partition(":secret:")
    return tail.rsplit("-", 1)[0]


class _Resource:
    """One resource seen by the fact builders: its resolved properties and deterministic ids."""

    def __init__(self, deployment: Deployment, stack: str, logical_id: str, body: Mapping[str, Any]) -> None:
        self.deployment = deployment
        self.stack = stack
        self.logical_id = logical_id
        self.type = str(body.get("Type"))
        self._raw = body.get("Properties", {})

    def prop(self, name: str) -> Any:
        return self.deployment.resolve(self.stack, self._raw[name]) if name in self._raw else None

    def text(self, name: str) -> str | None:
        value = self.prop(name)
        return None if value is None else Deployment._text(value, f"{self.stack}/{self.logical_id}.{name}")

    def token(self, length: int, alphabet: str = _HEX, salt: str = "") -> str:
        return _token(f"{self.stack}/{self.logical_id}/{salt}", length, alphabet)

    def uuid(self, salt: str = "") -> str:
        return _uuid(self.token(32, _HEX, salt))

    def name(self, prop: str | None, *, max_len: int = 255, lower: bool = False) -> str:
        """The explicit name if the template sets one, else CloudFormation's stack-logicalid-random form."""
        explicit = self.text(prop) if prop else None
        if explicit is not None:
            return explicit.lower() if lower else explicit
        suffix = self.token(12, _UPPER, "name")
        generated = f"{self.stack}-{self.logical_id}"[: max_len - len(suffix) - 1] + "-" + suffix
        return generated.lower() if lower else generated

    @property
    def region(self) -> str:
        """Where this resource's stack is deployed."""
        return self.deployment.region_of(self.stack)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        d = self.deployment
        return f"arn:{d.partition}:{service}:{self.region if regional else ''}:{d.account}:{resource}"

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise TemplateError(f"{self.stack}/{self.logical_id}: {self.type} needs property {name} for this value")
        return value


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _facts_for(r: _Resource) -> _Facts:
    builder = _BUILDERS.get(r.type)
    if builder is not None:
        return builder(r)
    # Any other type gets a stable Ref and no attributes, so a GetAtt on it fails loudly.
    return {"Ref": _constant(f"{r.logical_id}-physical-{r.token(12, _LOWER)}")}


def _named(r: _Resource, prop: str, *, max_len: int = 255, lower: bool = False) -> Callable[[], str]:
    return lambda: r.name(prop, max_len=max_len, lower=lower)


def _role(r: _Resource) -> _Facts:
    name = _named(r, "RoleName", max_len=64)
    return {
        "Ref": name,
        "Arn": lambda: r.arn("iam", f"role{r.text('Path') or '/'}{name()}", regional=False),
        "RoleId": _constant("AROA" + r.token(17, _UPPER)),
    }


def _managed_policy(r: _Resource) -> _Facts:
    name = _named(r, "ManagedPolicyName", max_len=128)

    def arn() -> str:
        return r.arn("iam", f"policy{r.text('Path') or '/'}{name()}", regional=False)

    return {"Ref": arn, "PolicyArn": arn, "PolicyId": _constant("ANPA" + r.token(17, _UPPER))}


def _instance_profile(r: _Resource) -> _Facts:
    name = _named(r, "InstanceProfileName", max_len=128)
    return {
        "Ref": name,
        "Arn": lambda: r.arn("iam", f"instance-profile{r.text('Path') or '/'}{name()}", regional=False),
    }


def _bucket(r: _Resource) -> _Facts:
    name = _named(r, "BucketName", max_len=63, lower=True)
    region = r.region
    return {
        "Ref": name,
        "Arn": lambda: f"arn:{r.deployment.partition}:s3:::{name()}",
        "DomainName": lambda: f"{name()}.s3.amazonaws.com",
        "RegionalDomainName": lambda: f"{name()}.s3.{region}.amazonaws.com",
        "DualStackDomainName": lambda: f"{name()}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": lambda: f"http://{name()}.s3-website-{region}.amazonaws.com",
    }


def _kms_key(r: _Resource) -> _Facts:
    key_id = _constant(r.uuid())
    return {"Ref": key_id, "KeyId": key_id, "Arn": lambda: r.arn("kms", f"key/{key_id()}")}


def _log_group(r: _Resource) -> _Facts:
    name = _named(r, "LogGroupName", max_len=512)
    return {"Ref": name, "Arn": lambda: r.arn("logs", f"log-group:{name()}:*")}


def _topic(r: _Resource) -> _Facts:
    def name() -> str:
        explicit = r.text("TopicName")
        if explicit is not None:
            return explicit
        fifo = r.prop("FifoTopic") in (True, "true")
        return r.name(None, max_len=251) + (".fifo" if fifo else "")

    def arn() -> str:
        return r.arn("sns", name())

    return {"Ref": arn, "TopicArn": arn, "TopicName": name}


def _repository(r: _Resource) -> _Facts:
    name = _named(r, "RepositoryName", lower=True)
    d = r.deployment
    return {
        "Ref": name,
        "Arn": lambda: r.arn("ecr", f"repository/{name()}"),
        "RepositoryUri": lambda: f"{d.account}.dkr.ecr.{r.region}.amazonaws.com/{name()}",
    }


def _secret(r: _Resource) -> _Facts:
    def arn() -> str:
        name = r.text("Name") or f"{r.logical_id}-{r.token(12, _ALNUM, 'name')}"
        return r.arn("secretsmanager", f"secret:{name}-{r.token(6, _ALNUM, 'secret')}")

    return {"Ref": arn, "Id": arn}


def _db_instance(r: _Resource) -> _Facts:
    identifier = _named(r, "DBInstanceIdentifier", max_len=63, lower=True)

    def port() -> str:
        explicit = r.text("Port")
        if explicit is not None:
            return explicit
        engine = (r.text("Engine") or "").lower()
        family = next((f for f in _ENGINE_PORTS if engine.startswith(f) or engine.startswith("aurora-" + f)), None)
        if family is None:
            raise TemplateError(f"{r.stack}/{r.logical_id}: no default port known for engine {engine!r}")
        return _ENGINE_PORTS[family]

    def master_secret() -> str:
        if r.prop("ManageMasterUserPassword") not in (True, "true"):
            raise TemplateError(
                f"{r.stack}/{r.logical_id}: MasterUserSecret exists only with ManageMasterUserPassword true"
            )
        return r.arn("secretsmanager", f"secret:rds!db-{r.uuid('master')}-{r.token(6, _ALNUM, 'master')}")

    return {
        "Ref": identifier,
        "Endpoint.Address": lambda: f"{identifier()}.{r.token(12, _LOWER)}.{r.region}.rds.amazonaws.com",
        "Endpoint.Port": port,
        "DbiResourceId": _constant("db-" + r.token(26, _UPPER, "dbi")),
        "DBInstanceArn": lambda: r.arn("rds", f"db:{identifier()}"),
        "MasterUserSecret.SecretArn": master_secret,
    }


def _identified(
    prefix: str, length: int, *, attributes: tuple[str, ...] = (), arn: tuple[str, str] | None = None
) -> Callable[[_Resource], _Facts]:
    """Types whose Ref is a generated id such as vpc-0123...; ``arn`` is (service, resource path before the id)."""

    def build(r: _Resource) -> _Facts:
        ident = _constant(prefix + r.token(length))
        facts: _Facts = {"Ref": ident, **dict.fromkeys(attributes, ident)}
        if arn is not None:
            service, path = arn
            facts["Arn"] = lambda: r.arn(service, path + ident())
        return facts

    return build


def _name_ref(prop: str, *, lower: bool = False) -> Callable[[_Resource], _Facts]:
    return lambda r: {"Ref": _named(r, prop, lower=lower)}


def _ecs_cluster(r: _Resource) -> _Facts:
    name = _named(r, "ClusterName")
    return {"Ref": name, "Arn": lambda: r.arn("ecs", f"cluster/{name()}")}


def _ecs_service(r: _Resource) -> _Facts:
    name = _named(r, "ServiceName")

    def arn() -> str:
        cluster = r.text("Cluster") or "default"
        cluster_name = cluster.split(":cluster/", 1)[1] if cluster.startswith("arn:") else cluster
        return r.arn("ecs", f"service/{cluster_name}/{name()}")

    return {"Ref": arn, "ServiceArn": arn, "Name": name}


def _task_definition(r: _Resource) -> _Facts:
    def arn() -> str:
        return r.arn("ecs", f"task-definition/{r.name('Family')}:1")

    return {"Ref": arn, "TaskDefinitionArn": arn}


def _function(r: _Resource) -> _Facts:
    name = _named(r, "FunctionName", max_len=64)
    return {"Ref": name, "Arn": lambda: r.arn("lambda", f"function:{name()}")}


def _state_machine(r: _Resource) -> _Facts:
    name = _named(r, "StateMachineName", max_len=80)

    def arn() -> str:
        return r.arn("states", f"stateMachine:{name()}")

    return {"Ref": arn, "Arn": arn, "Name": name}


def _alarm(r: _Resource) -> _Facts:
    name = _named(r, "AlarmName")
    return {"Ref": name, "Arn": lambda: r.arn("cloudwatch", f"alarm:{name()}")}


def _events_rule(r: _Resource) -> _Facts:
    name = _named(r, "Name", max_len=64)
    return {"Ref": name, "Arn": lambda: r.arn("events", f"rule/{name()}")}


def _load_balancer(r: _Resource) -> _Facts:
    name = _named(r, "Name", max_len=32)
    kinds = {"application": "app", "network": "net", "gateway": "gwy"}

    def full_name() -> str:
        kind = r.text("Type") or "application"
        if kind not in kinds:
            raise TemplateError(f"{r.stack}/{r.logical_id}: unknown load balancer Type {kind!r}")
        return f"{kinds[kind]}/{name()}/{r.token(16)}"

    def dns_name() -> str:
        internal = "internal-" if r.text("Scheme") == "internal" else ""
        return f"{internal}{name()}-{r.token(10, string.digits)}.{r.region}.elb.amazonaws.com"

    def arn() -> str:
        return r.arn("elasticloadbalancing", f"loadbalancer/{full_name()}")

    return {
        "Ref": arn,
        "LoadBalancerArn": arn,
        "LoadBalancerFullName": full_name,
        "LoadBalancerName": name,
        "DNSName": dns_name,
    }


def _target_group(r: _Resource) -> _Facts:
    name = _named(r, "Name", max_len=32)

    def full_name() -> str:
        return f"targetgroup/{name()}/{r.token(16)}"

    def arn() -> str:
        return r.arn("elasticloadbalancing", full_name())

    return {"Ref": arn, "TargetGroupArn": arn, "TargetGroupFullName": full_name, "TargetGroupName": name}


def _listener(r: _Resource) -> _Facts:
    def arn() -> str:
        balancer = r.required("LoadBalancerArn")
        return balancer.replace(":loadbalancer/", ":listener/", 1) + "/" + r.token(16)

    return {"Ref": arn, "ListenerArn": arn}


def _listener_rule(r: _Resource) -> _Facts:
    def arn() -> str:
        listener = r.required("ListenerArn")
        return listener.replace(":listener/", ":listener-rule/", 1) + "/" + r.token(16)

    return {"Ref": arn, "RuleArn": arn}


def _vpc(r: _Resource) -> _Facts:
    ident = _constant("vpc-" + r.token(17))
    return {
        "Ref": ident,
        "VpcId": ident,
        "CidrBlock": lambda: r.required("CidrBlock"),
        "DefaultSecurityGroup": _constant("sg-" + r.token(17, salt="default-sg")),
        "DefaultNetworkAcl": _constant("acl-" + r.token(17, salt="default-acl")),
    }


def _subnet(r: _Resource) -> _Facts:
    ident = _constant("subnet-" + r.token(17))
    return {
        "Ref": ident,
        "SubnetId": ident,
        "AvailabilityZone": lambda: r.required("AvailabilityZone"),
        "CidrBlock": lambda: r.required("CidrBlock"),
        "VpcId": lambda: r.required("VpcId"),
    }


def _security_group(r: _Resource) -> _Facts:
    ident = _constant("sg-" + r.token(17))
    return {"Ref": ident, "GroupId": ident, "VpcId": lambda: r.required("VpcId")}


def _elastic_ip(r: _Resource) -> _Facts:
    digest = r.token(2, string.digits)
    return {
        "Ref": _constant(f"203.0.113.{int(digest) + 1}"),  # documentation range, never a real address
        "PublicIp": _constant(f"203.0.113.{int(digest) + 1}"),
        "AllocationId": _constant("eipalloc-" + r.token(17)),
    }


def _instance(r: _Resource) -> _Facts:
    return {
        "Ref": _constant("i-" + r.token(17)),
        "AvailabilityZone": lambda: r.required("AvailabilityZone"),
        "PrivateIp": _constant(f"10.0.{int(r.token(2, string.digits))}.{int(r.token(2, string.digits, 'ip')) + 1}"),
    }


def _launch_template(r: _Resource) -> _Facts:
    ident = _constant("lt-" + r.token(17))
    return {
        "Ref": ident,
        "LaunchTemplateId": ident,
        "LatestVersionNumber": _constant("1"),
        "DefaultVersionNumber": _constant("1"),
    }


def _namespace(r: _Resource) -> _Facts:
    ident = _constant("ns-" + r.token(16, _LOWER))
    return {
        "Ref": ident,
        "Id": ident,
        "Arn": lambda: r.arn("servicediscovery", f"namespace/{ident()}"),
        "HostedZoneId": _constant("Z" + r.token(20, _UPPER, "zone")),
    }


def _discovery_service(r: _Resource) -> _Facts:
    ident = _constant("srv-" + r.token(16, _LOWER))
    return {
        "Ref": ident,
        "Id": ident,
        "Arn": lambda: r.arn("servicediscovery", f"service/{ident()}"),
        "Name": _named(r, "Name"),
    }


def _distribution(r: _Resource) -> _Facts:
    ident = _constant("E" + r.token(13, _UPPER))
    return {"Ref": ident, "Id": ident, "DomainName": _constant(f"d{r.token(13, _LOWER, 'domain')}.cloudfront.net")}


def _vpc_origin(r: _Resource) -> _Facts:
    ident = _constant("vo_" + r.token(22, _ALNUM))
    return {"Ref": ident, "Id": ident, "Arn": lambda: r.arn("cloudfront", f"vpcorigin/{ident()}", regional=False)}


def _workspace(r: _Resource) -> _Facts:
    ident = _constant("ws-" + r.uuid())

    def arn() -> str:
        return r.arn("aps", f"workspace/{ident()}")

    endpoint = f"https://aps-workspaces.{r.region}.amazonaws.com/workspaces/{ident()}/"
    return {"Ref": arn, "Arn": arn, "WorkspaceId": ident, "PrometheusEndpoint": _constant(endpoint)}


def _web_acl(r: _Resource) -> _Facts:
    name = _named(r, "Name", max_len=128)
    ident = _constant(r.uuid())

    def arn() -> str:
        scope = r.required("Scope")
        if scope not in ("CLOUDFRONT", "REGIONAL"):
            raise TemplateError(f"{r.stack}/{r.logical_id}: unknown WebACL Scope {scope!r}")
        d = r.deployment
        # CloudFront web ACLs live in us-east-1 under "global", whatever the stack's region.
        region, path = ("us-east-1", "global") if scope == "CLOUDFRONT" else (r.region, "regional")
        return f"arn:{d.partition}:wafv2:{region}:{d.account}:{path}/webacl/{name()}/{ident()}"

    return {
        "Ref": lambda: f"{name()}|{ident()}|{r.required('Scope')}",
        "Arn": arn,
        "Id": ident,
        "LabelNamespace": lambda: f"awswaf:{r.deployment.account}:webacl:{name()}:",
    }


def _ip_set(r: _Resource) -> _Facts:
    name = _named(r, "Name", max_len=128)
    ident = _constant(r.uuid())

    def arn() -> str:
        d = r.deployment
        region, path = ("us-east-1", "global") if r.required("Scope") == "CLOUDFRONT" else (r.region, "regional")
        return f"arn:{d.partition}:wafv2:{region}:{d.account}:{path}/ipset/{name()}/{ident()}"

    return {"Ref": lambda: f"{name()}|{ident()}|{r.required('Scope')}", "Arn": arn, "Id": ident}


def _cloudfront_function(r: _Resource) -> _Facts:
    def arn() -> str:
        return r.arn("cloudfront", f"function/{r.required('Name')}", regional=False)

    def stage() -> str:
        return "LIVE" if r.prop("AutoPublish") is True else "DEVELOPMENT"

    return {"Ref": arn, "FunctionARN": arn, "FunctionMetadata.FunctionARN": arn, "Stage": stage}


def _certificate(r: _Resource) -> _Facts:
    """ACM returns the certificate's ARN as its Ref, in the region of its stack."""
    return {"Ref": lambda: r.arn("acm", f"certificate/{r.uuid()}")}


def _backup_vault(r: _Resource) -> _Facts:
    name = _named(r, "BackupVaultName", max_len=50)
    return {
        "Ref": name,
        "BackupVaultName": name,
        "BackupVaultArn": lambda: r.arn("backup", f"backup-vault:{name()}"),
    }


def _backup_plan(r: _Resource) -> _Facts:
    ident = _constant(r.uuid())
    return {
        "Ref": ident,
        "BackupPlanId": ident,
        "BackupPlanArn": lambda: r.arn("backup", f"backup-plan:{ident()}"),
        "VersionId": _constant(r.token(32, _ALNUM, "version")),
    }


def _backup_selection(r: _Resource) -> _Facts:
    ident = _constant(r.uuid())
    return {"Ref": ident, "Id": ident, "SelectionId": ident}


_BUILDERS: dict[str, Callable[[_Resource], _Facts]] = {
    "AWS::IAM::Role": _role,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::IAM::InstanceProfile": _instance_profile,
    "AWS::IAM::Policy": lambda r: {"Ref": _constant(f"{r.stack[:5]}-{r.logical_id[:5]}-{r.token(13, _UPPER)}")},
    "AWS::S3::Bucket": _bucket,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": lambda r: {"Ref": lambda: r.required("AliasName")},
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SNS::Topic": _topic,
    "AWS::ECR::Repository": _repository,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::RDS::DBInstance": _db_instance,
    "AWS::RDS::DBSubnetGroup": _name_ref("DBSubnetGroupName", lower=True),
    "AWS::RDS::DBParameterGroup": _name_ref("DBParameterGroupName", lower=True),
    "AWS::EFS::FileSystem": _identified(
        "fs-", 17, attributes=("FileSystemId",), arn=("elasticfilesystem", "file-system/")
    ),
    "AWS::EFS::AccessPoint": _identified(
        "fsap-", 17, attributes=("AccessPointId",), arn=("elasticfilesystem", "access-point/")
    ),
    "AWS::EFS::MountTarget": _identified("fsmt-", 17),
    "AWS::ECS::Cluster": _ecs_cluster,
    "AWS::ECS::Service": _ecs_service,
    "AWS::ECS::TaskDefinition": _task_definition,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _name_ref("DashboardName"),
    "AWS::Events::Rule": _events_rule,
    "AWS::SSM::Parameter": _name_ref("Name"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group,
    "AWS::ElasticLoadBalancingV2::Listener": _listener,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _listener_rule,
    "AWS::EC2::VPC": _vpc,
    "AWS::EC2::Subnet": _subnet,
    "AWS::EC2::SecurityGroup": _security_group,
    "AWS::EC2::InternetGateway": _identified("igw-", 17, attributes=("InternetGatewayId",)),
    "AWS::EC2::RouteTable": _identified("rtb-", 17, attributes=("RouteTableId",)),
    "AWS::EC2::NatGateway": _identified("nat-", 17, attributes=("NatGatewayId",)),
    "AWS::EC2::EIP": _elastic_ip,
    "AWS::EC2::Instance": _instance,
    "AWS::EC2::LaunchTemplate": _launch_template,
    "AWS::EC2::FlowLog": _identified("fl-", 17, attributes=("Id",)),
    "AWS::EC2::SecurityGroupIngress": _identified("sgr-", 17, attributes=("Id",)),
    "AWS::EC2::SecurityGroupEgress": _identified("sgr-", 17, attributes=("Id",)),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace,
    "AWS::ServiceDiscovery::Service": _discovery_service,
    "AWS::CloudFront::Distribution": _distribution,
    "AWS::CloudFront::VpcOrigin": _vpc_origin,
    "AWS::APS::Workspace": _workspace,
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::WAFv2::IPSet": _ip_set,
    "AWS::CloudFront::Function": _cloudfront_function,
    "AWS::CertificateManager::Certificate": _certificate,
    "AWS::EC2::VPCEndpoint": _identified("vpce-", 17, attributes=("Id",)),
    "AWS::Backup::BackupVault": _backup_vault,
    "AWS::Backup::BackupPlan": _backup_plan,
    "AWS::Backup::BackupSelection": _backup_selection,
}

# Resource types whose policy is a property of the resource itself: (property, attribute giving its ARN).
_POLICY_PROPERTIES: dict[str, tuple[str, str]] = {
    "AWS::KMS::Key": ("KeyPolicy", "Arn"),
    "AWS::EFS::FileSystem": ("FileSystemPolicy", "Arn"),
    "AWS::ECR::Repository": ("RepositoryPolicyText", "Arn"),
}
