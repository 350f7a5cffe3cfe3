"""The architecture picture, shown in the README and docs/architecture.md, is the one `make diagram`
draws from the current app."""

from __future__ import annotations

from tests.platform_synth import ROOT, Synthesized
from tools.diagram import render, source_marker

DOT = ROOT / "docs" / "architecture.dot"
SVG = ROOT / "docs" / "architecture.svg"


def test_the_committed_picture_is_current(dev: Synthesized) -> None:
    drawn = render(dev.outdir)
    assert DOT.read_text() == drawn, "the picture is stale: run `make diagram` and commit docs/"
    assert source_marker(drawn) in SVG.read_text(), "docs/architecture.svg was not drawn from docs/architecture.dot"


def test_the_readme_and_the_architecture_doc_show_the_picture() -> None:
    # Each document links the picture by its path relative to the document itself.
    for document, link in (
        (ROOT / "README.md", "](docs/architecture.svg)"),
        (ROOT / "docs" / "architecture.md", "](architecture.svg)"),
    ):
        assert link in document.read_text(), f"{document.relative_to(ROOT)} does not show the picture ({link})"


def test_every_service_and_its_discovery_name_is_drawn(dev: Synthesized) -> None:
    drawn = render(dev.outdir)
    # Edge labels are wrapped at spaces; read as one line each.
    unwrapped = drawn.replace("\\n", " ")
    for service in dev.spec.services:
        if service.has_port:
            assert f"{dev.spec.dns_name(service)}:{service.container_port}" in drawn
        if service.scraped:
            # The rule's description (platform_spec/connections.py) names the component, not its service name.
            scrape = f"prometheus scrapes {service.name} {service.metrics_path} :{service.container_port}"
            assert scrape in unwrapped
