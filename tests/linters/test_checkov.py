"""checkov over both profiles' templates: every finding is fixed or listed, with its reason,
in compliance/checkov_accepted.yaml, and every listed finding still occurs."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import CfnResource, Stack

from compliance.checkov_findings import (
    Accepted,
    AcceptedListError,
    Finding,
    checkov_results,
    compare,
    findings_of,
    load_accepted,
    start_checkov,
)
from spec.ci import ci
from spec.names import LAYERS
from stacks.ci_stack import build_ci
from tests import background
from tests.platform_synth import PROFILE_NAMES, Synthesized, new_app

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
    """One checkov run over every template of both profiles and the CI stack (its start-up is
    most of its time); started as soon as the profiles are synthesized (tests/background.py)."""
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


@pytest.fixture(scope="module")
def findings(synthesized: dict[str, Synthesized]) -> list[Finding]:
    run = background.take("checkov", lambda: start_run(synthesized))
    failed = checkov_results(run.process, sorted(run.profile_of))
    return findings_of(failed, profile_of=run.profile_of, paths=run.paths)


def test_every_finding_is_fixed_or_listed_with_its_reason(findings: list[Finding]) -> None:
    unlisted, stale = compare(findings, load_accepted(), (*PROFILE_NAMES, CI))
    assert [str(f) for f in unlisted] == [], "fix these, or list them with a reason in compliance/checkov_accepted.yaml"
    assert stale == [], "these entries match no finding any more: delete them"


def test_checkov_reads_every_template(findings: list[Finding]) -> None:
    """Findings come from all profiles and the layers that hold them, so a pass is not an empty run."""
    assert {f.profile for f in findings} == set(PROFILE_NAMES)
    assert {f.resource_type for f in findings} >= {"AWS::Lambda::Function", "AWS::S3::Bucket"}


TLS_CHECKS = ("CKV_AWS_2", "CKV_AWS_103", "CKV_AWS_174")
"""HTTPS listener, its TLS policy, and the viewers' minimum TLS version: what a domain brings."""


def test_a_profile_with_its_own_domain_passes_the_tls_checks(findings: list[Finding]) -> None:
    assert [str(f) for f in findings if f.profile == "prod" and f.check in TLS_CHECKS] == []
    accepted = {entry.check: entry for entry in load_accepted()}
    for check in TLS_CHECKS:
        assert accepted[check].profiles == ("dev",), check


# --- the comparison itself --------------------------------------------------------------------

BUCKET = Accepted(
    check="CKV_AWS_18",
    resource_type="AWS::S3::Bucket",
    path="AccessLogs/*",
    profiles=("dev", "prod"),
    reason="cannot log into itself",
)


def test_a_new_finding_is_reported() -> None:
    new = Finding(profile="dev", check="CKV_AWS_18", resource_type="AWS::S3::Bucket", path="Config/Bucket/Resource")
    listed = Finding(
        profile="dev", check="CKV_AWS_18", resource_type="AWS::S3::Bucket", path="AccessLogs/Bucket/Resource"
    )
    unlisted, stale = compare([new, listed], [BUCKET], ["dev"])
    assert unlisted == [new]
    assert stale == []


def test_an_entry_that_outlived_its_finding_is_reported() -> None:
    listed = Finding(
        profile="dev", check="CKV_AWS_18", resource_type="AWS::S3::Bucket", path="AccessLogs/Bucket/Resource"
    )
    unlisted, stale = compare([listed], [BUCKET], ["dev", "prod"])
    assert unlisted == []
    assert stale == ["CKV_AWS_18 on AWS::S3::Bucket AccessLogs/* in prod"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "must be a list"),
        ("- {check: CKV_AWS_18}", "needs exactly the fields"),
        ("- {check: X, type: T, path: P, profiles: [], reason: R}", "profiles must be a non-empty list"),
        ("- {check: X, type: T, path: P, profiles: [dev], reason: ''}", "must be non-empty text"),
        ("- [", "cannot read it"),
    ],
)
def test_a_malformed_list_is_named_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "accepted.yaml"
    path.write_text(text)
    with pytest.raises(AcceptedListError, match=message) as raised:
        load_accepted(path)
    assert "\n" not in str(raised.value)
