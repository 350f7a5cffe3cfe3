"""Whole templates against committed snapshots, normalised so they change only
when the infrastructure does. Update with ``make snapshots`` and review the diff."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from platform_spec.names import LAYERS
from tests.platform_synth import Synthesized, normalised


@pytest.mark.parametrize("layer", LAYERS)
def test_template_matches_snapshot(profile: Synthesized, layer: str, snapshot: SnapshotAssertion) -> None:
    assert normalised(profile.template_json(layer)) == snapshot.use_extension(JSONSnapshotExtension)
