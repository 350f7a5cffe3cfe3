"""One checkov run over every template of both profiles and the CI stack, started as soon as
the profiles are synthesized (tests/background.py): its start-up is most of its time."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnResource, Stack

from compliance.checkov_findings import start_checkov
from platform_spec.ci import ci
from platform_spec.names import LAYERS
from stacks.ci_stack import build_ci
from tests.platform_synth import Synthesized, new_app

# The CI stack's template is checked too, as a profile of its own.
CI = "ci"


def _construct_paths(stack: Stack) -> dict[tuple[str, str], str]:
    """(stack name, logical id) -> construct path inside the stack, for every resource."""
    return {
        (stack.stack_name, stack.resolve(construct.logical_id)): construct.node.path.removeprefix(f"{stack.node.path}/")
        for construct in stack.node.find_all()
        if isinstance(construct, CfnResource)
    }


@dataclass
class CheckovRun:
    process: subprocess.Popen[str]
    profile_of: dict[Path, str]
    paths: dict[tuple[str, str], str]


def start_run(synthesized: dict[str, Synthesized]) -> tuple[CheckovRun, list[subprocess.Popen[str]]]:
    """Synthesize the CI stack beside the profiles and start checkov over every template."""
    profile_of: dict[Path, str] = {}
    paths: dict[tuple[str, str], str] = {}
    for name, synth in synthesized.items():
        for layer in LAYERS:
            profile_of[synth.outdir / f"{synth.stack_name(layer)}.template.json"] = name
            paths.update(_construct_paths(getattr(synth.stacks, layer)))
    outdir = Path(tempfile.mkdtemp(prefix="cdk-ci-"))
    app = new_app(outdir)
    ci_stack = build_ci(app, ci())
    app.synth()
    profile_of[outdir / f"{ci_stack.stack_name}.template.json"] = CI
    paths.update(_construct_paths(ci_stack))
    process = start_checkov(sorted(profile_of))
    return CheckovRun(process, profile_of, paths), [process]
