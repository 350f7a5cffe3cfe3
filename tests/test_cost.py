"""The cost report: dev at most $65 a month with every capability, prod highly available."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.platform_synth import Synthesized
from tools.cost import PRICES, main, price_assembly

DEV_BUDGET = 65.0


def _total(synth: Synthesized) -> float:
    return sum(item.monthly for item in price_assembly(synth.outdir))


def test_dev_costs_at_most_its_budget_with_every_capability(dev: Synthesized) -> None:
    items = price_assembly(dev.outdir)
    names = " | ".join(item.name for item in items)
    for capability in (
        *(f"Fargate {s.container_name}" for s in dev.spec.services),
        "Fargate prometheus",
        "RDS PostgreSQL",
    ):
        assert capability in names, capability
    if dev.spec.grafana:
        assert "Fargate grafana" in names
    assert "Application Load Balancer" in names
    assert dev.template_json("compute")["Resources"], "CloudFront is billed by use and present in compute"
    total = sum(item.monthly for item in items)
    assert total <= DEV_BUDGET, f"dev costs ${total:.2f} a month"


def test_prod_keeps_high_availability_and_costs_more(dev: Synthesized, prod: Synthesized) -> None:
    names = [item.name for item in price_assembly(prod.outdir)]
    assert names.count("NAT gateway") == prod.spec.network.max_azs
    assert any(name.endswith("x2") and name.startswith("RDS PostgreSQL") for name in names)
    assert _total(prod) > _total(dev)


def test_every_fargate_service_is_priced(profile: Synthesized) -> None:
    services = sum(
        1
        for layer in ("compute", "observability")
        for resource in profile.template_json(layer)["Resources"].values()
        if resource["Type"] == "AWS::ECS::Service"
    )
    assert sum(1 for item in price_assembly(profile.outdir) if item.name.startswith("Fargate ")) == services


def test_the_price_table_names_its_source_and_date() -> None:
    assert PRICES["source"]
    assert PRICES["as_of"]
    assert PRICES["usage_based"]


def test_the_command_prints_stacks_items_total_and_usage(dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(dev.outdir)]) == 0
    out = capsys.readouterr().out
    assert f"TOTAL fixed: ${_total(dev):.2f} a month" in out
    assert "dev-davidshaevel-data: $" in out
    assert "Billed by use, not included:" in out


def test_the_command_refuses_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "usage: python -m tools.cost" in capsys.readouterr().err
    json.dumps(PRICES)  # the table is plain data


def test_the_readme_shows_both_current_figures(dev: Synthesized, prod: Synthesized) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for synth in (dev, prod):
        assert f"**${_total(synth):.2f}**" in readme, f"README's {synth.spec.environment} cost is stale"
