"""One checkov run over every template of the shipped profiles, the variants of a profile and the
CI stack, started as soon as they are synthesized (tests/background.py): its start-up is most of
its time."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnResource, Stack

from aws_model.checkov_findings import start_checkov
from platform_spec.ci import ci
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
    present: dict[str, set[tuple[str, str]]]
    """Profile -> (resource type, construct path) of every resource its templates hold."""


def _stacks(synth: Synthesized) -> list[Stack]:
    stacks = synth.stacks
    return [getattr(stacks, layer) for layer in synth.spec.layers]


def start_run(
    synthesized: dict[str, Synthesized], variants: dict[str, list[Synthesized]] | None = None
) -> tuple[CheckovRun, list[subprocess.Popen[str]]]:
    """Synthesize the CI stack beside the profiles and start checkov over every template; each
    variant's templates count as its profile's (``variants``: profile -> its variants)."""
    profile_of: dict[Path, str] = {}
    paths: dict[tuple[str, str], str] = {}
    present: dict[str, set[tuple[str, str]]] = {}
    every = [(name, synth) for name, synth in synthesized.items()]
    every += [(name, variant) for name, more in (variants or {}).items() for variant in more]
    for name, synth in every:
        for stack in _stacks(synth):
            template = synth.outdir / f"{stack.stack_name}.template.json"
            profile_of[template] = name
            found = _construct_paths(stack)
            paths.update(found)
            present.setdefault(name, set()).update(
                (str(body["Type"]), found.get((stack.stack_name, logical_id), logical_id))
                for logical_id, body in json.loads(template.read_text())["Resources"].items()
            )
    outdir = Path(tempfile.mkdtemp(prefix="cdk-ci-"))
    app = new_app(outdir)
    ci_stacks = build_ci(app, ci())
    app.synth()
    for ci_stack in ci_stacks:
        profile_of[outdir / f"{ci_stack.stack_name}.template.json"] = CI
        paths.update(_construct_paths(ci_stack))
    process = start_checkov(sorted(profile_of))
    return CheckovRun(process, profile_of, paths, present), [process]
