"""What the CloudFormation model's modules share: the error it raises instead of inventing a
value, AWS::NoValue, deterministic ids, and the guard against reference cycles."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from typing import Any, Final


class TemplateError(Exception):
    """A template value this resolver cannot resolve faithfully."""


class NoValue:
    """Marks AWS::NoValue until the enclosing object or list drops it."""


NO_VALUE: Final = NoValue()

HEX = "0123456789abcdef"
UPPER = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits

Facts = dict[str, Callable[[], Any]]


def as_text(value: Any, where: str) -> str:
    """``value`` as the string a template expects (numbers read as their text), else an error."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TemplateError(f"{where} resolved to {value!r}, not a string")


class Guard:
    """Detects a value that (indirectly) depends on itself instead of recursing forever."""

    def __init__(self, busy: set[tuple[str, ...]], key: tuple[str, ...]) -> None:
        self._busy, self._key = busy, key

    def __enter__(self) -> None:
        if self._key in self._busy:
            raise TemplateError(f"circular reference through {'/'.join(self._key)}")
        self._busy.add(self._key)

    def __exit__(self, *_: object) -> None:
        self._busy.discard(self._key)


def token(seed: str, length: int, alphabet: str) -> str:
    """Deterministic pseudo-random characters: the same stack and logical id always get the same id."""
    out: list[str] = []
    counter = 0
    while len(out) < length:
        digest = hashlib.sha256(f"{seed}#{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return "".join(out[:length])


def uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def constant(value: Any) -> Callable[[], Any]:
    return lambda: value
