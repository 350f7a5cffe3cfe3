"""The reference services' images fetch nothing at build that is not pinned: the backend's RDS CA
bundle is a reviewed file of the repository, checked against its SHA-256 by the Dockerfile."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
DOCKERFILES = sorted(SERVICES.glob("*/Dockerfile"))
CA_VARIABLE = "DB_SSL_ROOT_CERT"


def _instructions(dockerfile: Path) -> list[str]:
    """Each instruction on one line (continuations joined), comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_image_downloads_at_build(dockerfile: Path) -> None:
    """``ADD <url>`` writes whatever the host serves that day into the image."""
    remote = [line for line in _instructions(dockerfile) if re.match(r"ADD\s.*\bhttps?://", line, re.IGNORECASE)]
    assert remote == [], f"{dockerfile}: pin and check what it downloads, or ship it"


def _bundle_check(dockerfile: Path) -> tuple[str, str, str]:
    """(the source file COPY takes, the SHA-256 the build checks, the path DB_SSL_ROOT_CERT names)."""
    lines = _instructions(dockerfile)
    (env,) = [line for line in lines if line.startswith("ENV ") and CA_VARIABLE in line]
    path = env.split("=", 1)[1].strip()
    copies = [line.split()[1:] for line in lines if line.startswith("COPY ") and line.split()[-1] == path]
    assert len(copies) == 1, f"{dockerfile}: one COPY writes {path}"
    (check,) = [line for line in lines if "sha256sum -c" in line]
    pinned = re.search(rf"([0-9a-f]{{64}})  {re.escape(path)}", check)
    assert pinned, f"{dockerfile}: the sha256sum check names {path}"
    assert lines.index(check) > lines.index(f"COPY {' '.join(copies[0])}"), "the check runs after the copy"
    return copies[0][0], pinned.group(1), path


def _backend() -> Path:
    users = [d for d in DOCKERFILES if any(CA_VARIABLE in line for line in _instructions(d))]
    assert users, "a service image names the RDS CA bundle"
    return users[0]


def test_the_ca_bundle_is_the_reviewed_file_and_the_build_checks_its_hash() -> None:
    dockerfile = _backend()
    source, pinned, _ = _bundle_check(dockerfile)
    bundle = dockerfile.parent / source
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == pinned
    text = bundle.read_text()
    assert text.count("-----BEGIN CERTIFICATE-----") == text.count("-----END CERTIFICATE-----") > 0
    ignored = (dockerfile.parent / ".dockerignore").read_text().splitlines()
    assert f"!{source}" in ignored, "the build context admits the bundle"


def test_the_builds_check_refuses_a_changed_bundle(tmp_path: Path) -> None:
    """The RUN line itself, on the bundle and on a copy with one byte changed."""
    dockerfile = _backend()
    source, _, path = _bundle_check(dockerfile)
    (check,) = [line for line in _instructions(dockerfile) if "sha256sum -c" in line]
    command = check.removeprefix("RUN ").split("&&")[0]
    bundle = (dockerfile.parent / source).read_bytes()
    for content, passes in ((bundle, True), (bundle.replace(b"A", b"B", 1), False)):
        target = tmp_path / "bundle.pem"
        target.write_bytes(content)
        ran = subprocess.run(["sh", "-c", command.replace(path, str(target))], check=False, capture_output=True)
        assert (ran.returncode == 0) == passes, ran.stdout + ran.stderr
