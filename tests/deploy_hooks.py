"""Loading the custom-resource handlers in assets/deploy_hooks as Lambda does."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from layers.shared.deploy_hook import HOOKS_DIRECTORY


def load_hook(name: str) -> ModuleType:
    """Import a handler module with the hooks directory first on the path, as in Lambda."""
    if str(HOOKS_DIRECTORY) not in sys.path:
        sys.path.insert(0, str(HOOKS_DIRECTORY))
    return importlib.import_module(name)
