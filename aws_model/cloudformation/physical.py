"""One resource as the attribute builders see it: its resolved properties, its deterministic
ids, and the names CloudFormation gives it (explicit, or stack-logicalid-random)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_model.cloudformation.values import HEX, UPPER, TemplateError, as_text, token, uuid

if TYPE_CHECKING:
    from aws_model.cloudformation.deployment import Deployment


class Resource:
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
        return None if value is None else as_text(value, f"{self.stack}/{self.logical_id}.{name}")

    def token(self, length: int, alphabet: str = HEX, salt: str = "") -> str:
        return token(f"{self.stack}/{self.logical_id}/{salt}", length, alphabet)

    def uuid(self, salt: str = "") -> str:
        return uuid(self.token(32, HEX, salt))

    def name(self, prop: str | None, *, max_len: int = 255, lower: bool = False) -> str:
        """The explicit name if the template sets one, else CloudFormation's stack-logicalid-random form."""
        explicit = self.text(prop) if prop else None
        if explicit is not None:
            return explicit.lower() if lower else explicit
        suffix = self.token(12, UPPER, "name")
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


def named(r: Resource, prop: str, *, max_len: int = 255, lower: bool = False) -> Callable[[], str]:
    return lambda: r.name(prop, max_len=max_len, lower=lower)
