"""The release's states are assembled from one dict per phase, and the phases' states name
each other: two states of one name are refused, never merged (one would silently replace the
other and a phase would route into another's state)."""

from __future__ import annotations

import pytest

import layers.release.definition
from layers.release.definition import release_definition
from layers.release.states import State, assemble
from platform_spec.profiles import dev
from tests.release_world import plain_targets


def test_the_assembly_keeps_every_state_in_order() -> None:
    states = assemble({"A": {"Type": "Pass"}, "B": {"Type": "Pass"}}, {"C": {"Type": "Succeed"}})
    assert list(states) == ["A", "B", "C"]


def test_a_duplicate_state_name_is_refused_and_named() -> None:
    with pytest.raises(ValueError, match="'Twice'"):
        assemble({"Twice": {"Type": "Pass", "Next": "End"}, "End": {"Type": "Succeed"}}, {"Twice": {"Type": "Fail"}})


def test_the_definition_refuses_a_phase_that_reuses_another_phases_state_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real assembly, with one phase returning a state named like one of the start's."""

    def verify_reusing_start(_release: object) -> dict[str, State]:
        return {"CheckTag": {"Type": "Succeed"}}

    spec = dev()
    assert "CheckTag" in release_definition(spec, plain_targets(spec))["States"]
    monkeypatch.setattr(layers.release.definition, "verify_services", verify_reusing_start)
    with pytest.raises(ValueError, match="'CheckTag'"):
        release_definition(spec, plain_targets(spec))
