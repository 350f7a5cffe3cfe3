"""Every construct of layers/ says what each of its arguments is for, where editors show it.

The rule, for each class defined in a module of layers/ that subclasses ``constructs.Construct``
(directly or not) and defines its own ``__init__`` (an inherited one is checked where it is
defined): every parameter of ``__init__`` but ``self``,
``scope``, ``construct_id`` and any ``*args``/``**kwargs`` is labelled in the ``__init__``
docstring (not the class docstring) as ``name`` in double backquotes followed by a colon, as
platform_spec documents its fields. A parameter's documentation runs from its label to the next
parameter's label (or the end of the docstring); a parameter with a default must say so there,
with the word "default" in any case (and, in words, what the default is and what it means).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator

from constructs import Construct

from tests.platform_synth import ROOT

UNDOCUMENTED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
NOT_ARGUMENTS = {"self", "scope", "construct_id"}


def _constructs() -> Iterator[type[Construct]]:
    """Each Construct subclass defined in a module of layers/ (not just imported there)."""
    for path in sorted((ROOT / "layers").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, Construct) and "__init__" in vars(cls):
                yield cls


def _undocumented(cls: type[Construct]) -> list[str]:
    """``module.Class: parameter`` for each argument the rule above finds undocumented."""
    arguments = [
        parameter
        for parameter in inspect.signature(cls.__init__).parameters.values()
        if parameter.name not in NOT_ARGUMENTS and parameter.kind not in UNDOCUMENTED_KINDS
    ]
    # Its own docstring: inspect.getdoc would fall back to the parent's __init__.
    docstring = inspect.cleandoc(vars(cls)["__init__"].__doc__ or "")
    names = {argument.name for argument in arguments}
    labels: dict[str, int] = {}
    for match in re.finditer(r"``(\w+)``:", docstring):
        if match.group(1) in names:
            labels.setdefault(match.group(1), match.start())
    ends = sorted([*labels.values(), len(docstring)])
    missing = []
    for argument in arguments:
        where = f"{cls.__module__}.{cls.__qualname__}: {argument.name}"
        if argument.name not in labels:
            missing.append(where)
            continue
        start = labels[argument.name]
        documentation = docstring[start : next(end for end in ends if end > start)]
        if argument.default is not inspect.Parameter.empty and "default" not in documentation.lower():
            missing.append(f"{where} (its default)")
    return missing


def test_the_check_finds_constructs_in_every_layer() -> None:
    layers = {cls.__module__.split(".")[1] for cls in _constructs()}
    assert layers >= {"network", "data", "compute", "edge", "observability", "release", "ci", "shared"}


def test_every_construct_argument_is_documented() -> None:
    missing = [where for cls in _constructs() for where in _undocumented(cls)]
    listed = "\n".join(missing)
    assert missing == [], (
        f"document these {len(missing)} in __init__'s docstring (the rule: this module's docstring):\n{listed}"
    )


def test_the_rule_finds_a_missing_label_and_an_unstated_default() -> None:
    class Example(Construct):
        def __init__(self, scope: Construct, construct_id: str, *, a: int, b: int = 1, c: int = 2, d: int = 3) -> None:
            """``a``: mentions ``b`` and the word default. ``c``: 2 by default. ``d``: 3."""
            super().__init__(scope, construct_id)

    where = f"{__name__}.{Example.__qualname__}"
    assert _undocumented(Example) == [f"{where}: b", f"{where}: d (its default)"]
