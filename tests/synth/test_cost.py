"""The cost report: dev at most $70 a month with every capability, prod highly available."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_spec.connections import endpoint_services
from platform_spec.names import COMPUTE, OBSERVABILITY
from tests.platform_synth import Synthesized
from tools.cost import PRICES, main, price_assembly

DEV_BUDGET = 70.0  # was 65: the web ACL every profile now has (rate rule, known bad inputs, Grafana allow-list) adds $8


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
    # The web ACL with its rate rule, the known-bad-inputs group and, where Grafana runs, its allow-list.
    rules = 2 + (dev.spec.grafana is not None)
    assert f"WAF web ACL, {rules} rules (managed rule groups: 1)" in names
    assert dev.template_json(COMPUTE)["Resources"], "CloudFront is billed by use and present in compute"
    total = sum(item.monthly for item in items)
    assert total <= DEV_BUDGET, f"dev costs ${total:.2f} a month"


def test_prod_keeps_high_availability_and_costs_more(dev: Synthesized, prod: Synthesized) -> None:
    names = [item.name for item in price_assembly(prod.outdir)]
    assert names.count("NAT gateway") == prod.spec.network.max_azs
    assert any(name.endswith("x2") and name.startswith("RDS PostgreSQL") for name in names)
    assert _total(prod) > _total(dev)


def test_the_web_acl_is_priced_per_rule_with_a_managed_group_as_one(profile: Synthesized) -> None:
    (web_acl,) = [item for item in price_assembly(profile.outdir) if item.name.startswith("WAF web ACL")]
    managed = 3 if profile.spec.edge.managed_rules else 1
    rules = 1 + (profile.spec.grafana is not None) + managed
    assert web_acl.name == f"WAF web ACL, {rules} rules (managed rule groups: {managed})"
    assert web_acl.monthly == PRICES["monthly"]["waf_web_acl"] + rules * PRICES["monthly"]["waf_rule"]


def test_cloudfront_functions_are_listed_as_billed_by_use(profile: Synthesized) -> None:
    resources = profile.template_json(COMPUTE)["Resources"].values()
    assert any(r["Type"] == "AWS::CloudFront::Function" for r in resources)
    assert any(line.startswith("CloudFront Functions invocations") for line in PRICES["usage_based"])
    assert not any("CloudFront Function" in item.name for item in price_assembly(profile.outdir))


def test_every_fargate_service_is_priced(profile: Synthesized) -> None:
    services = sum(
        1
        for layer in (COMPUTE, OBSERVABILITY)
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


def test_the_cost_doc_shows_both_current_figures(dev: Synthesized, prod: Synthesized) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cost.md").read_text()
    for synth in (dev, prod):
        assert f"**${_total(synth):.2f}**" in doc, f"docs/cost.md's {synth.spec.environment} cost is stale"


def test_interface_endpoints_are_priced_per_service_and_zone(profile: Synthesized) -> None:
    """$0.01 an hour per endpoint per zone (AWS PrivateLink pricing), where the spec has them."""
    items = [item for item in price_assembly(profile.outdir) if item.name.startswith("interface endpoint")]
    zones = profile.spec.network.max_azs
    assert sorted(item.name for item in items) == sorted(
        f"interface endpoint {service} x{zones} zones" for service in endpoint_services(profile.spec)
    )
    for item in items:
        assert item.monthly == pytest.approx(zones * 0.01 * 730)
