"""The original platform: the names the shipped profiles reproduce (the seeds). Tests that hold the
shipped profiles, or the documents that describe them, to those values run only while the profiles
still name it; a platform made one's own (docs/adopting.md) skips them, saying so."""

from __future__ import annotations

import pytest

from platform_spec.profiles import PROJECT

ORIGINAL_PROJECT = "davidshaevel"

original_platform_only = pytest.mark.skipif(
    PROJECT != ORIGINAL_PROJECT,
    reason=f"the profiles name project {PROJECT!r}, not the original platform: nothing of it to reproduce",
)
