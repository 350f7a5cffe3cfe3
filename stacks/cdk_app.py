"""The CDK app: reads the profile and overrides from context, builds the stacks, synthesizes.

This is the only place that reads context. Bad input ends the app with one line on stderr and
exit status 2, before anything is synthesized. ``app.py`` runs it.
"""

from __future__ import annotations

import sys

from aws_cdk import App, CloudFormationValidatePlugin, Validations

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


def synth(*, cloudformation_validate: CloudFormationValidatePlugin | None = None) -> int:
    """Builds and synthesizes the app; the exit status. ``cloudformation_validate``: the CDK's
    built-in CloudFormation Validate plugin, made ahead (``app.py``) and registered in place of
    the one the CDK would make itself (the same plugin, the same report); None: the CDK's own."""
    app = App()
    if cloudformation_validate is not None:
        Validations.of(app).add_plugins(cloudformation_validate)
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
