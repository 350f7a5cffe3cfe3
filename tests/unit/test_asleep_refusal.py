"""The refusal a scheduled environment gives while it sleeps (layers/release/asleep.py): one line naming
the environment, its window and what to do, judged on the window's own clock; none without a
schedule. The commands that print it are tested in tests/synth/test_release_tool.py and
tests/integration/test_verify.py, the state machine's in tests/synth/test_release_asleep.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

import pytest

from layers.release.asleep import asleep_message, refusal
from platform_spec.profiles import dev
from tests.release_world import window_edges


def test_outside_the_window_the_refusal_names_the_environment_and_its_window() -> None:
    spec = dev()
    assert spec.schedule is not None, "the profile under test has a schedule"
    before, _, ends = window_edges(spec.schedule)
    expected = f"{spec.environment} is asleep: it runs {spec.schedule.describe()}; verify inside the window"
    assert refusal(spec, before.astimezone(UTC), doing="verify") == expected
    assert refusal(spec, ends.astimezone(UTC), doing="verify") == expected
    assert "\n" not in expected


def test_inside_the_window_and_without_a_schedule_nothing_is_refused() -> None:
    spec = dev()
    assert spec.schedule is not None
    before, opens, ends = window_edges(spec.schedule)
    assert refusal(spec, opens.astimezone(UTC), doing="release") is None
    assert refusal(spec, (ends - timedelta(minutes=1)).astimezone(UTC), doing="release") is None
    unscheduled = replace(spec, schedule=None)
    for at in (before, opens, ends):
        assert refusal(unscheduled, at, doing="release") is None


def test_a_platform_without_a_schedule_has_no_asleep_message() -> None:
    with pytest.raises(ValueError, match=r"has no schedule: it never sleeps$"):
        asleep_message(replace(dev(), schedule=None), doing="release")
