"""The README stays a few screens that open with the two commands, and every pointer into the
docs (a Markdown link, or a code comment or message naming a section) leads somewhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.platform_synth import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_LIMIT_BYTES = 12 * 1024
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# "docs/operations.md, 'Building images'", 'docs/operations.md: "CI roles"', ...: a section by its heading.
SECTION = re.compile(r"""docs/([a-z]+\.md)[,:] *(?:"([A-Z][^"\n]*)"|'([A-Z][^'\n]*)'|([A-Z][^.)"'\n]*))""")


def _headings(path: Path) -> dict[str, str]:
    """Heading text -> GitHub's anchor for it, outside code blocks."""
    found = {}
    for line in FENCE.sub("", path.read_text()).splitlines():
        if match := re.match(r"^#{1,6}\s+(.+?)\s*$", line):
            text = match.group(1)
            found[text] = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
    return found


def test_the_readme_is_a_few_screens_and_opens_with_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.encode()) < README_LIMIT_BYTES, "move detail into docs/"
    first_block = FENCE.search(text)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(0).splitlines()[1:-1]]
    assert commands == ["make synth", "make test"]


@pytest.mark.parametrize("document", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(document: Path) -> None:
    broken = []
    for link in LINK.findall(FENCE.sub("", document.read_text())):
        if re.match(r"^[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _headings(target).values():
            broken.append(f"{link}: no such heading")
    assert broken == []


def test_every_section_named_in_the_code_exists() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    named: dict[tuple[str, str], str] = {}
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".py", ".js", ".yml", ".yaml", ".j2", ".sh"} and path.is_file():
            for document, *heading in SECTION.findall(path.read_text()):
                named.setdefault((document, "".join(heading).strip()), name)
    assert len(named) >= 8, named  # the pattern still finds the references
    missing = [
        f"{where}: docs/{document} has no section {heading!r}"
        for (document, heading), where in sorted(named.items())
        if heading not in _headings(ROOT / "docs" / document)
    ]
    assert missing == []
