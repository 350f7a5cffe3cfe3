"""checkov over the synthesized templates, held against the one reviewed list of what stays.

checkov (PyPI, pinned in requirements-dev.txt) runs offline: ``--skip-download`` keeps it
from fetching guidelines, and the update check is off. Its findings name resources by
logical id, which a refactor may rehash; the accepted list names them by construct path
inside their stack (``AccessLogs/Bucket/Resource``), which the caller supplies.

``aws_model/checkov_accepted.yaml`` is that list: each entry a check, a resource type, a
construct-path pattern, the profiles it applies to and the reason it stays. ``compare``
returns the findings no entry covers and the entries (per profile) no finding matches, so
a new finding fails and so does a reason that has outlived its finding.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACCEPTED = Path(__file__).with_name("checkov_accepted.yaml")
_FIELDS = {"check", "type", "path", "profiles", "reason"}


class AcceptedListError(ValueError):
    """The accepted list is malformed: the message names the entry and what is wrong."""


@dataclass(frozen=True, order=True)
class Finding:
    """One failed check on one resource of one profile."""

    profile: str
    check: str
    resource_type: str
    path: str
    """Construct path inside its stack, or ``<stack>/<logical id>`` when the caller knows no path."""

    def __str__(self) -> str:
        return f"{self.profile}: {self.check} on {self.resource_type} {self.path}"


@dataclass(frozen=True)
class Accepted:
    """A finding that stays, and why."""

    check: str
    resource_type: str
    path: str
    profiles: tuple[str, ...]
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            finding.check == self.check
            and finding.resource_type == self.resource_type
            and finding.profile in self.profiles
            and fnmatch.fnmatchcase(finding.path, self.path)
        )

    def __str__(self) -> str:
        return f"{self.check} on {self.resource_type} {self.path}"


def load_accepted(path: Path = ACCEPTED) -> list[Accepted]:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AcceptedListError(f"{path}: cannot read it ({first_line})") from None
    if not isinstance(raw, list):
        raise AcceptedListError(f"{path}: must be a list of entries")
    entries = []
    for index, entry in enumerate(raw):
        where = f"{path.name} entry {index + 1}"
        if not isinstance(entry, dict) or set(entry) != _FIELDS:
            raise AcceptedListError(f"{where}: needs exactly the fields {', '.join(sorted(_FIELDS))}")
        if not all(isinstance(entry[k], str) and entry[k].strip() for k in ("check", "type", "path", "reason")):
            raise AcceptedListError(f"{where}: check, type, path and reason must be non-empty text")
        profiles = entry["profiles"]
        if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) for p in profiles):
            raise AcceptedListError(f"{where}: profiles must be a non-empty list of profile names")
        entries.append(
            Accepted(
                check=entry["check"],
                resource_type=entry["type"],
                path=entry["path"],
                profiles=tuple(profiles),
                reason=" ".join(entry["reason"].split()),
            )
        )
    return entries


def run_checkov(templates: Sequence[Path]) -> list[tuple[Path, str, str, str]]:
    """(template, check id, resource type, logical id) of every failed check, from one offline run."""
    return checkov_results(start_checkov(templates), templates)


def start_checkov(templates: Sequence[Path]) -> subprocess.Popen[str]:
    """checkov over ``templates``, running; ``checkov_results`` waits for it."""
    environment = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    command = [
        str(Path(sys.executable).with_name("checkov")),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--quiet",
        "--compact",
        "--output",
        "json",
        *(arg for template in templates for arg in ("--file", str(template))),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)


def checkov_results(process: subprocess.Popen[str], templates: Sequence[Path]) -> list[tuple[Path, str, str, str]]:
    """(template, check id, resource type, logical id) of every failed check of a run."""
    stdout, stderr = process.communicate(timeout=600)
    # Exit code 1 means "something failed", which is what we read; anything else is an error.
    if process.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({process.returncode}): {stderr.strip()[-2000:]}")
    reports: Any = json.loads(stdout)
    by_name = {template.name: template for template in templates}
    failed = []
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            resource_type, _, logical_id = str(check["resource"]).rpartition(".")
            template = by_name[Path(check["file_path"]).name]
            failed.append((template, str(check["check_id"]), resource_type, logical_id))
    return failed


def compare(
    findings: Iterable[Finding],
    accepted: Sequence[Accepted],
    profiles: Iterable[str],
    present: Mapping[str, set[tuple[str, str]]] | None = None,
) -> tuple[list[Finding], list[str]]:
    """(findings no entry covers, ``entry in profile`` for each entry that covers nothing there).

    ``present``: profile -> (resource type, construct path) of the resources its templates hold.
    Where given, an entry is stale in a profile only if resources it names are there and none has
    its finding any more (it was fixed); where the profile has no such resource (its spec has no
    Grafana, say), the entry does not apply there and is not stale."""
    findings = sorted(set(findings))
    unlisted = [f for f in findings if not any(entry.covers(f) for entry in accepted)]

    def applies(entry: Accepted, profile: str) -> bool:
        if present is None:
            return True
        return any(t == entry.resource_type and fnmatch.fnmatchcase(p, entry.path) for t, p in present[profile])

    stale = [
        f"{entry} in {profile}"
        for entry in accepted
        for profile in profiles
        if profile in entry.profiles
        and applies(entry, profile)
        and not any(entry.covers(f) for f in findings if f.profile == profile)
    ]
    return unlisted, stale


def findings_of(
    failed: Iterable[tuple[Path, str, str, str]],
    *,
    profile_of: Mapping[Path, str],
    paths: Mapping[tuple[str, str], str],
) -> list[Finding]:
    """Findings by construct path: ``paths`` maps (stack name, logical id) to the path in the stack."""
    found = []
    for template, check, resource_type, logical_id in failed:
        stack = template.name.removesuffix(".template.json")
        path = paths.get((stack, logical_id), f"{stack}/{logical_id}")
        found.append(Finding(profile=profile_of[template], check=check, resource_type=resource_type, path=path))
    return found
