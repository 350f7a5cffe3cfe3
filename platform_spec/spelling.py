"""A profile that misspells or leaves out a field of a spec dataclass, as one line naming it.

Python reports both as a ``TypeError`` from the dataclass's generated ``__init__``
("ServiceSpec.__init__() got an unexpected keyword argument 'contaner_port'"), with a
traceback through the profile. ``built`` turns that into a ``SpecError`` naming the class,
the field, the line of the profile that wrote it and, for a near miss, the field meant.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from platform_spec.errors import SpecError

T = TypeVar("T")

_UNEXPECTED = re.compile(r"^(?P<cls>\w+)\.__init__\(\) got an unexpected keyword argument '(?P<name>\w+)'$")
_MISSING = re.compile(r"^(?P<cls>\w+)\.__init__\(\) missing \d+ required (?:keyword-only )?arguments?: (?P<names>.+)$")
_ROOT = Path(__file__).resolve().parent.parent


def built(builder: Callable[[], T]) -> T:
    """``builder()``, with a misspelt or missing spec field reported as a ``SpecError``."""
    try:
        return builder()
    except TypeError as error:
        translated = spelling_error(error)
        if translated is None:
            raise
        raise translated from None


def spelling_error(error: TypeError) -> SpecError | None:
    """The ``SpecError`` for a bad field of a spec dataclass; ``None`` for any other ``TypeError``."""
    message = str(error)
    if (unexpected := _UNEXPECTED.match(message)) is not None:
        fields = _fields_of(unexpected["cls"])
        if fields is None:
            return None
        name = unexpected["name"]
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f"did you mean {close[0]}?" if close else f"its fields are {', '.join(sorted(fields))}"
        return SpecError(
            f"{unexpected['cls']}.{name}", name, f"{unexpected['cls']} has no such field{_where(error)}; {hint}"
        )
    if (missing := _MISSING.match(message)) is not None:
        if _fields_of(missing["cls"]) is None:
            return None
        names = missing["names"].replace("'", "")
        return SpecError(f"{missing['cls']}", None, f"{names} must be given{_where(error)} (the field has no default)")
    return None


def _fields_of(class_name: str) -> list[str] | None:
    """The fields of the spec dataclass of that name, if the spec has one."""
    for module_name, module in list(sys.modules.items()):
        if module_name != "platform_spec" and not module_name.startswith("platform_spec."):
            continue
        candidate = getattr(module, class_name, None)
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return [field.name for field in dataclasses.fields(candidate) if field.init]
    return None


def _where(error: TypeError) -> str:
    """`` at FILE:LINE`` for the last line of the project's own code the error passed through."""
    location = ""
    traceback: TracebackType | None = error.__traceback__
    while traceback is not None:
        path = Path(traceback.tb_frame.f_code.co_filename)
        if path.is_absolute() and path.resolve().is_relative_to(_ROOT):
            relative = path.resolve().relative_to(_ROOT)
            if relative.parts[0] != ".venv" and path.name != Path(__file__).name:
                location = f" at {relative}:{traceback.tb_lineno}"
        traceback = traceback.tb_next
    return location
