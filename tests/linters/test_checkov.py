"""checkov over both profiles' templates: every finding is fixed or listed, with its reason,
in aws_model/checkov_accepted.yaml, and every listed finding still occurs."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_model.checkov_findings import (
    Accepted,
    AcceptedListError,
    Finding,
    checkov_results,
    compare,
    findings_of,
    load_accepted,
)
from tests import background
from tests.checkov_run import CI, CheckovRun, start_run
from tests.platform_synth import PROFILE_NAMES, Synthesized, profile_spec


@pytest.fixture(scope="module")
def run(synthesized: dict[str, Synthesized], kinds: Synthesized, outside: Synthesized) -> CheckovRun:
    run: CheckovRun = background.take("checkov", lambda: start_run(synthesized, {"dev": [kinds, outside]}))
    return run


@pytest.fixture(scope="module")
def findings(run: CheckovRun) -> list[Finding]:
    failed = checkov_results(run.process, sorted(run.profile_of))
    return findings_of(failed, profile_of=run.profile_of, paths=run.paths)


def test_every_finding_is_fixed_or_listed_with_its_reason(run: CheckovRun, findings: list[Finding]) -> None:
    """Over the shipped profiles, dev with every kind of service and dev outside us-east-1 (both
    held to dev's entries), and the CI stack."""
    unlisted, stale = compare(findings, load_accepted(), (*PROFILE_NAMES, CI), run.present)
    assert [str(f) for f in unlisted] == [], "fix these, or list them with a reason in aws_model/checkov_accepted.yaml"
    assert stale == [], "these entries match no finding any more: delete them"


def test_checkov_reads_every_template(findings: list[Finding]) -> None:
    """Findings come from all profiles and the layers that hold them, so a pass is not an empty run."""
    assert {f.profile for f in findings} == set(PROFILE_NAMES)
    assert {f.resource_type for f in findings} >= {"AWS::Lambda::Function", "AWS::S3::Bucket"}


TLS_CHECKS = ("CKV_AWS_2", "CKV_AWS_103", "CKV_AWS_174")
"""HTTPS listener, its TLS policy, and the viewers' minimum TLS version: what a domain brings."""


def test_a_profile_with_its_own_domain_passes_the_tls_checks(findings: list[Finding]) -> None:
    with_domain = [name for name in PROFILE_NAMES if profile_spec(name).edge.domain is not None]
    assert [str(f) for f in findings if f.profile in with_domain and f.check in TLS_CHECKS] == []
    accepted = {entry.check: entry for entry in load_accepted()}
    for check in TLS_CHECKS:
        assert not set(accepted[check].profiles) & set(with_domain), check


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


def test_an_entry_is_stale_only_where_its_resources_are_and_pass() -> None:
    """A profile without the resource (its spec drops it) does not make the entry stale; one that
    has it and no longer fails the check does."""
    listed = Finding(
        profile="dev", check="CKV_AWS_18", resource_type="AWS::S3::Bucket", path="AccessLogs/Bucket/Resource"
    )
    absent = {"dev": {("AWS::S3::Bucket", "AccessLogs/Bucket/Resource")}, "prod": {("AWS::S3::Bucket", "Config/B")}}
    assert compare([listed], [BUCKET], ["dev", "prod"], absent) == ([], [])
    fixed = {**absent, "prod": {("AWS::S3::Bucket", "AccessLogs/Bucket/Resource")}}
    assert compare([listed], [BUCKET], ["dev", "prod"], fixed) == (
        [],
        ["CKV_AWS_18 on AWS::S3::Bucket AccessLogs/* in prod"],
    )


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
