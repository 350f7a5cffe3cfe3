"""The edge's viewer-request function, rendered at synth: 404 for the internal paths."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import unquote

from layers.shared.rendered_config import render_asset

INTERNAL_PATHS_TEMPLATE = "edge/internal-paths.js.j2"


def normalised_path(path: str) -> str:
    """What the edge function compares: decoded, empty and ``.`` segments dropped, ``..``
    resolved, lower-cased. Node servers resolve dot segments, and Express matches routes
    without regard to case, so each of those spellings would reach the same handler."""
    kept: list[str] = []
    for segment in unquote(path, errors="strict").split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return "/" + "/".join(kept).lower()


def render_internal_paths_function(internal_paths: Sequence[str]) -> str:
    """The viewer-request function's code, answering 404 to exactly these paths and, for a path
    ending in ``/*``, to that path and everything under it."""
    exact = [p for p in internal_paths if not p.endswith("/*")]
    prefixes = [p.removesuffix("/*") for p in internal_paths if p.endswith("/*")]
    # The paths go in as JSON literals; the shared environment does not escape (autoescape off).
    return render_asset(
        INTERNAL_PATHS_TEMPLATE,
        internal_paths=json.dumps(list(dict.fromkeys(normalised_path(p) for p in exact))),
        internal_prefixes=json.dumps(list(dict.fromkeys(normalised_path(p) for p in prefixes))),
    )
