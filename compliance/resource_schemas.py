"""What the CloudFormation resource schemas say about a resource type, read from the
registry schemas cfn-lint ships (the provider schemas CloudFormation publishes)."""

from __future__ import annotations

import json
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

# Found, not imported: importing cfn-lint costs every synth about 0.3 s (sympy among its imports).
_CFN_LINT = find_spec("cfnlint")
if _CFN_LINT is None or _CFN_LINT.origin is None:
    raise ImportError("cfn-lint is not installed: `make install` installs it (requirements-dev.txt)")
_SCHEMAS = Path(_CFN_LINT.origin).resolve().parent / "data" / "schemas"


@cache
def _index(region: str) -> dict[str, str]:
    index: dict[str, str] = json.loads((_SCHEMAS / "providers" / f"{region}.json").read_text())
    return index


@cache
def schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any]:
    """The registry schema of ``resource_type``; KeyError for a type the region lacks."""
    document: dict[str, Any] = json.loads(
        (_SCHEMAS / "resources" / f"{_index(region)[resource_type]}.json").read_text()
    )
    return document


def _top_level(pointers: list[str]) -> tuple[str, ...]:
    return tuple(sorted({p.removeprefix("/properties/").split("/")[0] for p in pointers}))


def create_only_properties(resource_type: str, region: str = "us-east-1") -> tuple[str, ...]:
    """Top-level properties a change of which replaces the resource (``createOnlyProperties``)."""
    return _top_level(schema(resource_type, region).get("createOnlyProperties", []))


def name_properties(resource_type: str, region: str = "us-east-1") -> tuple[str, ...]:
    """Properties that fix the resource's physical name: its primary identifier, and any
    create-only property named ``...Name`` or ``...Identifier`` (``TopicName``, ``Name``)."""
    document = schema(resource_type, region)
    primary = _top_level(document.get("primaryIdentifier", []))
    create_only = create_only_properties(resource_type, region)
    settable = set(document.get("properties", {})) - set(_top_level(document.get("readOnlyProperties", [])))
    named = {p for p in create_only if p.endswith(("Name", "Identifier"))}
    return tuple(sorted((set(primary) | named) & settable))
