"""Synthesizing the platform in tests, the way ``app.py`` does it.

``import aws_cdk`` and a full synth cost seconds, so each profile is built once
per session (see ``conftest.py``) and shared by every test that reads it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from platform_spec import PlatformSpec, spec_from_context
from platform_spec.profiles import PROFILES
from stacks import cdk_app as platform_app
from stacks.platform import PlatformStacks, add_compliance_checks, build_platform, touch_every_resource

ROOT = Path(__file__).resolve().parent.parent
PROFILE_NAMES = ("dev", "prod")
# prod names its domain but not its zone (the zone's id is the account's own): tests give one.
TEST_HOSTED_ZONE_ID = "Z0TESTZONE0000"


def profile_context(name: str, **overrides: Any) -> dict[str, Any]:
    """The context a user passes to synthesize profile ``name``: ``env``, and the hosted zone's id
    where the profile names a domain without one."""
    context: dict[str, Any] = {"env": name}
    domain = PROFILES[name]().edge.domain
    if domain is not None and domain.hosted_zone_id is None:
        context["hosted_zone_id"] = TEST_HOSTED_ZONE_ID
    return {**context, **overrides}


def profile_spec(name: str) -> PlatformSpec:
    """Profile ``name`` as a synth reads it (with the test hosted zone where it needs one)."""
    return spec_from_context(profile_context(name))


# Settings the CLI would add; fixed here so templates do not vary by machine.
_TEST_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": False,
    "aws:cdk:enable-asset-metadata": False,
    "aws:cdk:version-reporting": False,
}


def feature_flags() -> dict[str, Any]:
    """The feature flags in cdk.json, so tests synthesize what ``cdk synth`` does."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def new_app(outdir: Path, context: Mapping[str, Any] | None = None) -> App:
    return App(
        outdir=str(outdir),
        context={**feature_flags(), **_TEST_CONTEXT, **(context or {})},
        stack_traces=False,
        analytics_reporting=False,
    )


@dataclass(frozen=True)
class Synthesized:
    spec: PlatformSpec
    stacks: PlatformStacks
    outdir: Path

    def template_json(self, layer: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.outdir / f"{self.stack_name(layer)}.template.json").read_text())
        return data

    def template(self, layer: str) -> Template:
        return Template.from_json(self.template_json(layer))

    def stack_name(self, layer: str) -> str:
        return self.spec.stack_name(layer)

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.outdir / "manifest.json").read_text())
        return manifest


def synth_profile(outdir: Path, context: Mapping[str, Any]) -> Synthesized:
    """Exactly what ``app.py`` does for this context, compliance checks included."""
    app = new_app(outdir, context)
    stacks = platform_app.build(app)
    app.synth()
    return Synthesized(spec=spec_from_context(context), stacks=stacks, outdir=outdir)


def synth_spec(outdir: Path, spec: PlatformSpec, *, checks: bool = False) -> Synthesized:
    """A variant spec that no profile ships (a changed port, a third service)."""
    app = new_app(outdir)
    stacks = build_platform(app, spec)
    touch_every_resource(app, spec)
    if checks:
        add_compliance_checks(app, spec)
    app.synth()
    return Synthesized(spec=spec, stacks=stacks, outdir=outdir)


_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    """The template with what changes without an infrastructure change removed:
    asset hashes, and the bootstrap-version parameter and rule."""
    data: dict[str, Any] = json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    data.get("Parameters", {}).pop("BootstrapVersion", None)
    data.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for section in ("Parameters", "Rules"):
        if section in data and not data[section]:
            del data[section]
    return data


def assert_each_refused_in_one_line(tmp_path: Path, cases: Mapping[str, tuple[dict[str, str], str]]) -> None:
    """Runs ``app.py`` once per case, side by side (each pays for starting the CDK's Node
    runtime), with the case's context as the CDK CLI hands it over: each must exit 2 with
    exactly its line on stderr, no traceback and nothing written."""
    running = {}
    for case, (context, _) in cases.items():
        outdir = tmp_path / case.replace(" ", "-")
        env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)}
        running[case] = (
            outdir,
            subprocess.Popen(
                [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ),
        )
    for case, (outdir, process) in running.items():
        stdout, stderr = process.communicate(timeout=120)
        expected = cases[case][1]
        said = (
            f"{case}: app.py exited {process.returncode} and printed\n{stdout}{stderr}\nexpected exit 2 and\n{expected}"
        )
        assert process.returncode == 2, said
        assert stderr.strip().splitlines() == [expected], said
        assert "Traceback" not in stdout + stderr, said
        written = sorted(p.name for p in outdir.iterdir()) if outdir.exists() else []
        assert not written, f"{case}: app.py refused the input but wrote {written} to {outdir}"
