"""Whole templates of the shipped profiles against committed snapshots, normalised so they change
only when the infrastructure does. Update with ``make snapshots`` and review the diff."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.platform_synth import PROFILE_NAMES, Synthesized, normalised, profile_spec

# Every stack of every profile: a profile outside us-east-1 has its edge stack too.
STACKS = [(name, layer) for name in PROFILE_NAMES for layer in profile_spec(name).layers]


@pytest.mark.parametrize(("name", "layer"), STACKS, ids=[f"{name}-{layer}" for name, layer in STACKS])
def test_template_matches_snapshot(
    synthesized: dict[str, Synthesized], name: str, layer: str, snapshot: SnapshotAssertion
) -> None:
    assert normalised(synthesized[name].template_json(layer)) == snapshot.use_extension(JSONSnapshotExtension)
