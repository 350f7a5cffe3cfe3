"""The release's states are assembled from one dict per phase, and the phases' states name
each other: two states of one name are refused, never merged (one would silently replace the
other and a phase would route into another's state). Every assembly, the definition's and the
phases', goes through ``merge_states``; the error names the state and where each comes from."""

from __future__ import annotations

from typing import Any

import pytest

import layers.release.definition
from layers.release.definition import release_definition
from layers.release.states import ReleaseContext, State, merge_states
from platform_spec.profiles import DEFAULT_PROFILE, PROFILES
from tests.release_world import plain_targets


def test_the_assembly_keeps_every_state_in_order() -> None:
    states = merge_states(("one", {"A": {"Type": "Pass"}, "B": {"Type": "Pass"}}), ("two", {"C": {"Type": "Succeed"}}))
    assert list(states) == ["A", "B", "C"]


def test_a_duplicate_state_name_is_refused_and_named() -> None:
    with pytest.raises(ValueError, match=r"^two release states are named 'Twice': one from first, one from second$"):
        merge_states(
            ("first", {"Twice": {"Type": "Pass", "Next": "End"}, "End": {"Type": "Succeed"}}),
            ("second", {"Twice": {"Type": "Fail"}}),
        )


def test_the_definition_refuses_a_phase_that_reuses_another_phases_state_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real assembly, with one phase returning a state named like one of the start's."""

    def verify_reusing_start(_release: object) -> dict[str, State]:
        return {"CheckTag": {"Type": "Succeed"}}

    spec = PROFILES[DEFAULT_PROFILE]()
    assert "CheckTag" in release_definition(spec, plain_targets(spec))["States"]
    monkeypatch.setattr(layers.release.definition, "verify_services", verify_reusing_start)
    with pytest.raises(ValueError, match="'CheckTag'"):
        release_definition(spec, plain_targets(spec))


def test_the_definition_names_both_phases_of_a_repeated_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only the state: which phases both define it, so the clash is found without a search."""

    def verify_reusing_released(_release: object) -> dict[str, State]:
        return {"Released": {"Type": "Succeed"}}

    monkeypatch.setattr(layers.release.definition, "verify_services", verify_reusing_released)
    spec = PROFILES[DEFAULT_PROFILE]()
    with pytest.raises(
        ValueError, match=r"^two release states are named 'Released': one from verify_services, one from _released$"
    ):
        release_definition(spec, plain_targets(spec))


def test_a_phase_refuses_a_helper_state_that_repeats_one_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a phase too: the states ``ReleaseContext.follow`` adds cannot replace the phase's
    (a ``**`` spread into the phase's dict would let the later one win)."""
    follow = ReleaseContext.follow

    def follow_adding_release_finished(self: ReleaseContext, wait: str, check: str, **options: Any) -> dict[str, State]:
        states = follow(self, wait, check, **options)
        return {**states, "ReleaseFinished": {"Type": "Succeed"}} if wait == "WaitForRelease" else states

    monkeypatch.setattr(ReleaseContext, "follow", follow_adding_release_finished)
    spec = PROFILES[DEFAULT_PROFILE]()
    with pytest.raises(
        ValueError,
        match=r"^two release states are named 'ReleaseFinished': "
        r"one from ReleaseContext\.follow \(release\), one from update_services$",
    ):
        release_definition(spec, plain_targets(spec))


@pytest.mark.parametrize("profile", PROFILES)
def test_the_shipped_definition_has_no_repeated_state_name(profile: str) -> None:
    """Every assembly refuses a repeat, so the definition builds only without one. That every
    state it names is one of its states, nested ones too, and every state is reached is
    tests/synth/test_delivery.py's, over the synthesized definitions."""
    spec = PROFILES[profile]()
    states = release_definition(spec, plain_targets(spec))["States"]
    assert states
