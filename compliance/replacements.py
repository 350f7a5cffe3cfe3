"""Which resources a deploy replaces, and what a resource reads from other stacks, read from
synthesized templates (plain data in, plain data out: no CDK).

CloudFormation replaces a resource when one of its replacement-only properties (the registry
schema's ``createOnlyProperties``, ``compliance.resource_schemas``) takes another value. A
property that names another resource (``Ref``, ``Fn::GetAtt``, ``${Name}`` in ``Fn::Sub``) or
another stack's output (``Fn::GetStackOutput``, ``Fn::ImportValue``) takes another value when
what it names is replaced, so replacement carries along those references.

A weak reference (``Fn::GetStackOutput``) is resolved only when CloudFormation creates or
updates the resource that holds it (CloudFormation template reference, "Fn::GetStackOutput":
"If the referenced stack or output is later deleted or modified, the consuming stack is not
automatically updated"). :class:`Fingerprints` gives each output a fingerprint of what would
replace the resources behind it, so a reader can carry it and change whenever they are replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from compliance.resource_schemas import create_only_properties

Templates = Mapping[str, Mapping[str, Any]]
Read = tuple[str, str]
"""(stack name, output name) of one ``Fn::GetStackOutput``."""

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
FINGERPRINT_LENGTH = 16


def create_only(resource_type: str) -> tuple[str, ...]:
    """The replacement-only properties of a type; none for a type without a registry schema
    (a custom resource: its provider alone decides, through the physical id it returns)."""
    try:
        return create_only_properties(resource_type)
    except KeyError:
        return ()


def weak_reads(value: Any) -> set[Read]:
    """Every output ``value`` reads through ``Fn::GetStackOutput``."""
    found: set[Read] = set()
    for kind, *target in _references(value, resources={}):
        if kind == "weak":
            found.add((target[0], target[1]))
    return found


def _references(value: Any, *, resources: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """("resource", logical id) for each resource of ``resources`` that ``value`` names,
    ("weak", stack, output) and ("export", name) for each output of another stack it reads."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item, resources=resources)
    elif isinstance(value, Mapping):
        if len(value) == 1:
            (function, argument), *_ = value.items()
            named, whole = _named_by(function, argument, resources)
            yield from named
            if whole:
                return
        for item in value.values():
            yield from _references(item, resources=resources)


def _named_by(function: str, argument: Any, resources: Mapping[str, Any]) -> tuple[list[tuple[str, ...]], bool]:
    """What one intrinsic function names, and whether that is all (its arguments name nothing else)."""
    if function == "Ref":
        return ([("resource", argument)] if argument in resources else []), True
    if function == "Fn::GetAtt":
        target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
        return ([("resource", target)] if target in resources else []), False
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        names = [n for n in _SUB_NAME.findall(text) if n in resources and n not in variables]
        return [("resource", name) for name in names], False
    if function == "Fn::GetStackOutput" and isinstance(argument, Mapping):
        stack, output = argument.get("StackName"), argument.get("OutputName")
        if isinstance(stack, str) and isinstance(output, str):
            return [("weak", stack, output)], True
    if function == "Fn::ImportValue" and isinstance(argument, str):
        return [("export", argument)], True
    return [], False


def _exports(templates: Templates) -> dict[str, Read]:
    return {
        body["Export"]["Name"]: (stack, name)
        for stack, template in templates.items()
        for name, body in template.get("Outputs", {}).items()
        if isinstance(body.get("Export", {}).get("Name"), str)
    }


class Fingerprints:
    """A fingerprint of the replacement inputs of each resource and output of ``templates``
    (stack name -> template): its type and replacement-only properties, in which every resource
    or output they name stands for its own fingerprint. It changes exactly when CloudFormation
    would replace the resource (or a resource the output reads), by these rules."""

    def __init__(self, templates: Templates) -> None:
        self._templates = templates
        self._exports = _exports(templates)
        self._known: dict[tuple[str, ...], str] = {}
        self._busy: set[tuple[str, ...]] = set()

    def resource(self, stack: str, logical_id: str) -> str:
        body = self._templates[stack]["Resources"][logical_id]
        properties = body.get("Properties", {})
        inputs = {name: properties[name] for name in create_only(body["Type"]) if name in properties}
        return self._fingerprint(("resource", stack, logical_id), [body["Type"], inputs], stack)

    def output(self, stack: str, output: str) -> str:
        template = self._templates.get(stack)
        if template is None or output not in template.get("Outputs", {}):
            raise KeyError(f"{stack} has no output {output}")
        return self._fingerprint(("output", stack, output), template["Outputs"][output].get("Value"), stack)

    def reads(self, reads: set[Read]) -> str:
        """One fingerprint for everything a resource reads from other stacks."""
        return _digest([[stack, output, self.output(stack, output)] for stack, output in sorted(reads)])

    def _fingerprint(self, key: tuple[str, ...], value: Any, stack: str) -> str:
        if key not in self._known:
            if key in self._busy:
                raise ValueError(f"a reference cycle through {'/'.join(key[1:])}")
            self._busy.add(key)
            resources = self._templates[stack].get("Resources", {})
            named = sorted({(kind, *rest) for kind, *rest in _references(value, resources=resources)})
            self._known[key] = _digest([list(key), value, [self._of(stack, reference) for reference in named]])
            self._busy.discard(key)
        return self._known[key]

    def _of(self, stack: str, reference: tuple[str, ...]) -> str:
        kind, *target = reference
        if kind == "resource":
            return self.resource(stack, target[0])
        read = (target[0], target[1]) if kind == "weak" else self._exports.get(target[0])
        if read is None or read[0] not in self._templates:
            return _digest(list(reference))  # outside this app: all that is known is its name
        return self.output(*read)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def replacements(base: Templates, new: Templates) -> dict[tuple[str, str], str]:
    """(stack, logical id) -> why, for each resource in both ``base`` and ``new``, of the same
    type, that deploying ``new`` over ``base`` replaces: a replacement-only property changed,
    or names something replaced (in its stack, or an output of another)."""
    replaced: dict[tuple[str, str], str] = {}
    for stack, template in new.items():
        before = base.get(stack, {}).get("Resources", {})
        for logical_id, body in template.get("Resources", {}).items():
            old = before.get(logical_id)
            if old is None or old["Type"] != body["Type"]:
                continue
            changed = [
                name
                for name in create_only(body["Type"])
                if old.get("Properties", {}).get(name) != body.get("Properties", {}).get(name)
            ]
            if changed:
                replaced[(stack, logical_id)] = f"{', '.join(changed)} changed"
    exports = _exports(new)
    growing = True
    while growing:
        growing = False
        for stack, template in new.items():
            for logical_id in template.get("Resources", {}):
                if (stack, logical_id) in replaced or logical_id not in base.get(stack, {}).get("Resources", {}):
                    continue
                reason = _names_replaced(new, exports, stack, logical_id, replaced)
                if reason is not None:
                    replaced[(stack, logical_id)] = reason
                    growing = True
    return replaced


def _names_replaced(
    new: Templates,
    exports: Mapping[str, Read],
    stack: str,
    logical_id: str,
    replaced: Mapping[tuple[str, str], str],
) -> str | None:
    """Why the resource is replaced along with one it names in a replacement-only property, if it is."""
    resources = new[stack]["Resources"]
    body = resources[logical_id]
    for name in create_only(body["Type"]):
        for reference in _references(body.get("Properties", {}).get(name), resources=resources):
            for target in _replaced_behind(new, exports, stack, reference, replaced):
                return f"{name} names {target[0]}/{target[1]}, which is replaced"
    return None


def _replaced_behind(
    new: Templates,
    exports: Mapping[str, Read],
    stack: str,
    reference: tuple[str, ...],
    replaced: Mapping[tuple[str, str], str],
) -> list[tuple[str, str]]:
    """The replaced resources that ``reference`` (from ``stack``) names, directly or through an output."""
    kind, *target = reference
    if kind == "resource":
        return [(stack, target[0])] if (stack, target[0]) in replaced else []
    read = (target[0], target[1]) if kind == "weak" else exports.get(target[0])
    if read is None:
        return []
    return [resource for resource in output_targets(new, *read) if resource in replaced]


def output_targets(templates: Templates, stack: str, output: str) -> set[tuple[str, str]]:
    """(stack, logical id) of each resource whose value the output holds."""
    template = templates.get(stack, {})
    value = template.get("Outputs", {}).get(output, {}).get("Value")
    resources = template.get("Resources", {})
    return {(stack, target) for kind, target, *_ in _references(value, resources=resources) if kind == "resource"}


def identity_kept(
    base: Templates,
    new: Templates,
    stack: str,
    logical_id: str,
    properties: tuple[str, ...],
    replaced: Mapping[tuple[str, str], str],
) -> bool:
    """Whether the replaced resource's ``properties`` (its name, or what else it must not share)
    keep their value, and it stays where it is: nothing replaced is named by them, nor by any
    other replacement-only property (a Cloud Map service in a new namespace may take its name)."""
    before = base[stack]["Resources"][logical_id].get("Properties", {})
    body = new[stack]["Resources"][logical_id]
    after = body.get("Properties", {})
    if any(before.get(p) != after.get(p) for p in properties):
        return False
    exports = _exports(new)
    resources = new[stack]["Resources"]
    for name in {*properties, *create_only(body["Type"])}:
        for reference in _references(after.get(name), resources=resources):
            if _replaced_behind(new, exports, stack, reference, replaced):
                return False
    return True


def names_another(value: Any, resources: Mapping[str, Any]) -> bool:
    """Whether ``value`` holds what another resource is (one of ``resources``, or another stack's output)."""
    return next(_references(value, resources=resources), None) is not None
