"""cdk-nag (AwsSolutions and NIST 800-53 r5) and CDK's own warnings, on every profile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from platform_spec.names import LAYERS
from platform_spec.profiles import dev
from stacks.platform import add_compliance_checks
from tests.original import original_platform_only
from tests.platform_synth import Synthesized, new_app


def test_no_unacknowledged_findings(profile: Synthesized) -> None:
    report = profile.validation_report()
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success"


def test_every_acknowledgment_carries_a_reason(profile: Synthesized) -> None:
    report = profile.validation_report()
    acknowledged = [finding for plugin in report["pluginReports"] for finding in plugin.get("suppressedViolations", [])]
    assert acknowledged, "the report lists what was acknowledged"
    for finding in acknowledged:
        assert len(finding["reason"].split()) >= 8, finding["ruleName"]


def _acknowledged_rules(synth: Synthesized) -> set[str]:
    """Rule names acknowledged in a profile's report, without the finding's resource part."""
    return {
        re.sub(r"\[.*\]$", "", finding["ruleName"])
        for plugin in synth.validation_report()["pluginReports"]
        for finding in plugin.get("suppressedViolations", [])
    }


SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ACKNOWLEDGED_HEADING = "\n## Acknowledged findings\n"


def _listed_rules() -> set[str]:
    text = SECURITY_DOC.read_text()
    assert ACKNOWLEDGED_HEADING in text, f"docs/security.md has no section {ACKNOWLEDGED_HEADING.strip()!r}"
    section = text.split(ACKNOWLEDGED_HEADING, 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
    listed = set(re.findall(r"`((?:AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+)`", table))
    assert listed, "docs/security.md's acknowledged findings section holds no table of rules"
    return listed


def test_the_security_doc_lists_every_acknowledged_rule(
    synthesized: dict[str, Synthesized], kinds: Synthesized, outside: Synthesized
) -> None:
    """Of the profiles, and of dev with every kind of service and outside us-east-1."""
    acknowledged = set().union(*(_acknowledged_rules(s) for s in (*synthesized.values(), kinds, outside)))
    assert sorted(acknowledged - _listed_rules()) == [], "acknowledged but missing from docs/security.md's table"


@original_platform_only
def test_the_security_doc_lists_nothing_the_shipped_profiles_do_not_acknowledge(
    synthesized: dict[str, Synthesized], kinds: Synthesized, outside: Synthesized
) -> None:
    """The table describes the shipped platform: a rule no longer acknowledged leaves it. (A platform
    made one's own may drop what acknowledged it, Grafana say: then this is skipped.)"""
    acknowledged = set().union(*(_acknowledged_rules(s) for s in (*synthesized.values(), kinds, outside)))
    assert sorted(_listed_rules() - acknowledged) == [], "in docs/security.md's table but acknowledged nowhere"


def test_both_packs_run_on_every_synth(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    probe = Stack(app, "Probe")
    s3.Bucket(probe, "PlainBucket")
    add_compliance_checks(app, dev())
    with pytest.raises(RuntimeError, match=r"^ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failed = {plugin["pluginName"] for plugin in report["pluginReports"] if plugin["violations"]}
    # The probe app has no network template, so the reachability check fails too, rather than pass unseen.
    assert failed == {"AwsSolutions", "NIST.800.53.R5", "PlatformReachability"}


def test_synth_emits_no_cdk_warnings(profile: Synthesized) -> None:
    artifacts: dict[str, Any] = profile.manifest()["artifacts"]
    warnings = [
        (path, entry["data"])
        for artifact in artifacts.values()
        for path, entries in artifact.get("metadata", {}).items()
        for entry in entries
        if entry["type"] in ("aws:cdk:warning", "aws:cdk:error")
    ]
    assert warnings == []


@pytest.mark.parametrize("layer", LAYERS)
def test_inline_policies_attach_to_one_role_of_their_own_stack(profile: Synthesized, layer: str) -> None:
    """What the app-wide IAMNoInlinePolicy acknowledgment claims."""
    resources = profile.template_json(layer)["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        props = resource["Properties"]
        assert "Users" not in props, logical_id
        assert "Groups" not in props, logical_id
        assert len(props["Roles"]) == 1, logical_id
        role = props["Roles"][0]["Ref"]
        assert resources[role]["Type"] == "AWS::IAM::Role", logical_id
