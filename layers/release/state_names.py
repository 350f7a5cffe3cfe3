"""How the release's states are named, defined once: the release builds its state names with
these functions, and every reader of its definition (the access ledger, task egress, the tests)
parses them with them.

A one-off run (``layers.release.one_off``: migrations, smoke tests) is three states named after
its step, the stem the failure notice names too (``Migrations``, ``SmokeTests``):

- ``Describe<step>`` reads the task definition the stacks define (``ecs:describeTaskDefinition``)
  into the variable ``<step>Definition`` (the step's first letter lower-cased);
- ``Register<step>`` registers a copy of it with the new image, whose ARN goes into the
  variable ``<step>TaskDefinition``;
- ``Run<step>`` runs that revision to completion (``runTask.sync``).

So the task definition a ``Register<step>`` or ``Run<step>`` state uses is the one the
``Describe<step>`` state's arguments name, and a reader finds it there. States nest in Parallel
branches and Map item processors; ``all_states`` walks them all.

Plain data: no CDK, so the offline model and the tests import it freely.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

DESCRIBE = "Describe"
"""The state that reads the task definition of a one-off run."""
REGISTER = "Register"
"""The state that registers the revision with the new image."""
RUN = "Run"
"""The state that runs the revision to completion."""
ONE_OFF_KINDS = (DESCRIBE, REGISTER, RUN)


def describe_state(step: str) -> str:
    """``Describe<step>``: the first state of the one-off run ``step``."""
    return DESCRIBE + step


def register_state(step: str) -> str:
    """``Register<step>``."""
    return REGISTER + step


def run_state(step: str) -> str:
    """``Run<step>``."""
    return RUN + step


def step_of(name: str, kind: str) -> str | None:
    """The step a one-off state of ``kind`` (``DESCRIBE``, ``REGISTER`` or ``RUN``) is named after
    (``RunMigrations`` -> ``Migrations``), or None when ``name`` is no such state."""
    if kind not in ONE_OFF_KINDS:
        raise ValueError(f"{kind!r} is not a kind of one-off state ({', '.join(ONE_OFF_KINDS)})")
    step = name.removeprefix(kind)
    return step if step != name and step else None


def _variable(step: str) -> str:
    return f"{step[0].lower()}{step[1:]}"


def described_variable(step: str) -> str:
    """The variable ``Describe<step>`` assigns the task definition to (``migrationsDefinition``)."""
    return f"{_variable(step)}Definition"


def registered_variable(step: str) -> str:
    """The variable ``Register<step>`` assigns the new revision's ARN to (``migrationsTaskDefinition``)."""
    return f"{_variable(step)}TaskDefinition"


State = Mapping[str, Any]


def all_states(states: Mapping[str, State]) -> Iterator[tuple[str, State, State | None]]:
    """Every state of a ``States`` map, inside Parallel branches and Map item processors too,
    each with the Map state it runs in (the outermost one where Maps nest; None outside any)."""
    for name, state in states.items():
        yield name, state, None
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"])
        if "ItemProcessor" in state:
            for inner, inner_state, _ in all_states(state["ItemProcessor"]["States"]):
                yield inner, inner_state, state
