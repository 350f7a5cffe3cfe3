"""Picking what a test needs from the profile under test, saying what was missing when nothing fits
(a bare ``next()`` ends in ``StopIteration``, which names nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import pytest

T = TypeVar("T")


def first(items: Iterable[T], what: str) -> T:
    """The first of ``items``, which the platform must have: the test fails naming ``what``."""
    for item in items:
        return item
    pytest.fail(f"found no {what}", pytrace=False)


def first_or_skip(items: Iterable[T], what: str) -> T:
    """The first of ``items``, which a platform may do without: where there is none, the test (or
    its module, at import) is skipped, saying the profiles have no ``what``."""
    for item in items:
        return item
    pytest.skip(f"the profiles have no {what}: nothing to check", allow_module_level=True)
