#!/usr/bin/env python3
"""The CDK app: reads the profile and overrides from context, builds the stacks.

This is the only place that reads context. Bad input ends the app with one
line on stderr and exit status 2, before anything is synthesized.
"""

from __future__ import annotations

import gc
import sys

from aws_cdk import App

from platform_spec import SpecError, spec_from_context
from platform_spec.ci import CONTEXT_KEYS as CI_CONTEXT_KEYS
from platform_spec.ci import ci_from_context
from platform_spec.context import platform_keys, refuse_unknown_keys, require_hosted_zone
from stacks.ci_stack import bound_platform, build_ci, use_bootstrap
from stacks.platform import PlatformStacks, add_compliance_checks, build_platform, touch_every_resource


def build(app: App) -> PlatformStacks:
    """Every stack of the profile the app's context names, with the nag packs on; with
    ``-c ci=true`` also the CI roles' stack (docs/operations.md, "CI roles")."""
    context = app.node.get_all_context()
    spec = spec_from_context(context)
    ci = ci_from_context(context)
    refuse_unknown_keys(context, (*platform_keys(spec), *CI_CONTEXT_KEYS), spec=spec)
    require_hosted_zone(spec)
    # The environment's own bootstrap (qualifier) and, where it is scoped, its roles' boundary.
    deploys = use_bootstrap(app, spec.environment)
    stacks = build_platform(app, spec)
    bound_platform(app, spec, deploys)
    if ci is not None:
        build_ci(app, ci)
    touch_every_resource(app, spec)
    add_compliance_checks(app, spec)
    return stacks


def main() -> int:
    # The modules imported (the CDK's bindings: some 230,000 objects) live as long as the process.
    # Frozen, the garbage collector skips them at each collection; frozen again with what the synth
    # made, at exit too (about 0.5 s of a dev synth, docs/benchmarks.md).
    gc.freeze()
    try:
        return _synth()
    finally:
        gc.freeze()


def _synth() -> int:
    app = App()
    try:
        build(app)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        app.synth()
    except RuntimeError as error:
        # cdk-nag findings: the message lists each one and where to acknowledge
        # it; a Python traceback below it would only bury them.
        if not str(error).startswith("ValidationFailed"):
            raise
        print(str(error).removeprefix("ValidationFailed: "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
