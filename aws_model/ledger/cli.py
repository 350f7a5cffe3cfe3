"""The ledger of a synthesized profile as a Markdown table, each row with its verdict:
``python -m aws_model.ledger CLOUD_ASSEMBLY PROFILE`` (``make synth`` first)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from aws_model.cloudformation import Deployment
from aws_model.ledger.calls import ledger
from aws_model.ledger.entries import EndpointPassage, Entry, LedgerEntry, check_ledger
from aws_model.ledger.external_secrets import external_secrets
from platform_spec import SpecError, spec_from_context


def render(entries: Sequence[LedgerEntry], deployment: Deployment) -> str:
    """The ledger as a Markdown table, each row with its verdict."""
    lines = ["| purpose | caller | action | resource | KMS key | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    for entry in entries:
        decision = entry.check(deployment)
        verdict = ("allowed: " if decision.allowed else "REFUSED: ") + decision.reason
        if isinstance(entry, Entry):
            lines.append(
                f"| {entry.purpose} | {entry.caller.label} | `{entry.action}` | `{entry.resource}` "
                f"| {f'`{entry.key}`' if entry.key else ''} | {verdict} |"
            )
        elif isinstance(entry, EndpointPassage):
            lines.append(
                f"| {entry.purpose} | {entry.service} endpoint | `{entry.action}` | `{entry.resource}` |  | {verdict} |"
            )
        else:
            lines.append(f"| {entry.purpose} | CloudFront | object ACL | `{entry.bucket[1]}` |  | {verdict} |")
    return "\n".join(lines)


def deployment_of(cloud_assembly: Path, *, region: str | None = None) -> Deployment:
    """The stacks of a cloud assembly, each in the region its manifest names (``region`` for
    those whose environment names none)."""
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(cloud_assembly.glob("*.template.json"))
    }
    if not templates:
        raise ValueError(f"no templates in {cloud_assembly}")
    regions = assembly_regions(cloud_assembly)
    home = region or max(set(regions.values()), key=list(regions.values()).count, default="us-east-1")
    return Deployment(
        templates, region=home, stack_regions={s: r for s, r in regions.items() if r != home and s in templates}
    )


def assembly_regions(cloud_assembly: Path) -> dict[str, str]:
    """Each stack's region as the cloud assembly's manifest names it (``aws://account/region``)."""
    manifest = (
        json.loads((cloud_assembly / "manifest.json").read_text())
        if (cloud_assembly / "manifest.json").exists()
        else {}
    )
    regions = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
            if region and region != "unknown-region":
                regions[name] = region
    return regions


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print(
            "usage: python -m aws_model.ledger CLOUD_ASSEMBLY PROFILE (the profile it was synthesized from)",
            file=sys.stderr,
        )
        return 2
    try:
        spec = spec_from_context({"env": argv[1]})
        deployment = deployment_of(Path(argv[0]), region=spec.region)
        entries = ledger(deployment, external_secrets=external_secrets(spec, account=deployment.account))
    except (ValueError, SpecError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(entries, deployment))
    failures = check_ledger(deployment, entries)
    print(f"\n{len(entries)} calls, {len(failures)} refused")
    return 1 if failures else 0
