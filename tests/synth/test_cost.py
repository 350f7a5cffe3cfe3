"""The cost report: each profile within the budget its spec names, averaged over a week with its
schedule, with every capability priced."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from platform_spec.connections import endpoint_services
from platform_spec.names import COMPUTE, NETWORK, OBSERVABILITY
from tests.original import original_platform_only
from tests.platform_synth import Synthesized
from tools.cost import PRICES, Item, main, price_assembly


def _total(synth: Synthesized) -> float:
    """The yardstick: the fixed monthly cost averaged over a week with the schedule."""
    return sum(item.scheduled for item in price_assembly(synth.outdir))


def _all_week(synth: Synthesized) -> float:
    return sum(item.monthly for item in price_assembly(synth.outdir))


def _scheduled(synth: Synthesized) -> bool:
    return any(item.awake < 1 for item in price_assembly(synth.outdir))


def test_every_capability_is_priced_and_the_budget_holds(profile: Synthesized) -> None:
    items = price_assembly(profile.outdir)
    names = " | ".join(item.name for item in items)
    for capability in (
        *(f"Fargate {s.container_name}" for s in profile.spec.services),
        f"Fargate {profile.spec.prometheus.name}",
        "RDS PostgreSQL",
        "Application Load Balancer",
        "WAF web ACL",
    ):
        assert capability in names, capability
    if profile.spec.grafana:
        assert f"Fargate {profile.spec.grafana.name}" in names
    budget = profile.spec.monthly_budget_usd
    total = sum(item.scheduled for item in items)
    if budget is not None:
        assert total <= budget, (
            f"{profile.spec.environment} costs ${total:.2f} a month with its schedule, over its budget of "
            f"${budget:.2f} (PlatformSpec.monthly_budget_usd; make cost lists each item)"
        )


def _expected_share(synth: Synthesized, item: Item) -> float:
    """The share of the week the spec's schedule keeps ``item`` billed (platform_spec/schedule.py):
    the application's tasks for the window, observability's from half the wake lead, the database's
    and the NAT instance's hours (and the instance's address and monitoring) from the wake lead
    until the sleep lag; everything else all week."""
    schedule = synth.spec.schedule
    if schedule is None:
        return 1.0
    tasks = item.name.startswith(("Fargate ", "Cloud Map instances of "))
    if tasks and item.stack == synth.stack_name(COMPUTE):
        return schedule.awake_fraction()
    if tasks and item.stack == synth.stack_name(OBSERVABILITY):
        return schedule.awake_fraction(lead_minutes=schedule.wake_lead_minutes // 2)
    nat = item.stack == synth.stack_name(NETWORK) and item.name.startswith(("EC2 ", "public IPv4 address (instance)"))
    if nat or item.name.startswith("RDS PostgreSQL"):
        return schedule.awake_fraction(lead_minutes=schedule.wake_lead_minutes, lag_minutes=schedule.sleep_lag_minutes)
    return 1.0


def test_what_the_schedule_puts_to_sleep_is_priced_for_the_hours_it_runs(profile: Synthesized) -> None:
    """The templates' own stops and starts, read by the tool, give the shares the spec's schedule
    names; a profile without a schedule runs all week."""
    shares = {f"{item.stack}: {item.name}": item.awake for item in price_assembly(profile.outdir)}
    expected = {
        f"{item.stack}: {item.name}": pytest.approx(_expected_share(profile, item))
        for item in price_assembly(profile.outdir)
    }
    assert shares == expected


def test_production_pays_for_high_availability(synthesized: dict[str, Synthesized]) -> None:
    production = [synth for synth in synthesized.values() if synth.spec.production]
    assert production
    for synth in production:
        names = [item.name for item in price_assembly(synth.outdir)]
        assert names.count("NAT gateway") == synth.spec.network.max_azs
        assert any(name.endswith("x2") and name.startswith("RDS PostgreSQL") for name in names)


def test_the_web_acl_is_priced_per_rule_with_a_managed_group_as_one(profile: Synthesized) -> None:
    (web_acl,) = [item for item in price_assembly(profile.outdir) if item.name.startswith("WAF web ACL")]
    managed = 3 if profile.spec.edge.managed_rules else 1
    rules = 1 + (profile.spec.grafana is not None) + managed
    assert web_acl.name == f"WAF web ACL, {rules} rules (managed rule groups: {managed})"
    assert web_acl.monthly == PRICES["monthly"]["waf_web_acl"] + rules * PRICES["monthly"]["waf_rule"]


def test_cloudfront_functions_are_listed_as_billed_by_use(profile: Synthesized) -> None:
    resources = [r for layer in profile.spec.layers for r in profile.template_json(layer)["Resources"].values()]
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
    """Both columns, all week and with the schedule, where the templates stop and start something."""
    assert main([str(dev.outdir)], spec=replace(dev.spec, monthly_budget_usd=None)) == 0
    out = capsys.readouterr().out
    items = price_assembly(dev.outdir)
    both = _scheduled(dev)
    if both and dev.spec.schedule is not None:
        assert (
            f"TOTAL fixed: ${_all_week(dev):.2f} a month all week; ${_total(dev):.2f} with the schedule "
            f"({dev.spec.schedule.describe()})"
        ) in out
    else:
        assert f"TOTAL fixed: ${_total(dev):.2f} a month\n" in out
    for stack in {item.stack for item in items}:
        week = sum(i.monthly for i in items if i.stack == stack)
        asleep = sum(i.scheduled for i in items if i.stack == stack)
        assert (
            f"{stack}: ${week:.2f} all week; ${asleep:.2f} with the schedule" if both else f"{stack}: ${week:.2f}"
        ) in out
    assert "Billed by use, not included:" in out


def test_the_command_holds_the_profile_to_its_budget(dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    """``--env`` reads the profile's budget: within it, the command says so; over it, it fails naming
    the overrun."""
    total = _total(dev)
    within = replace(dev.spec, monthly_budget_usd=total + 1)
    assert main([str(dev.outdir)], spec=within) == 0
    assert f"Budget: ${total + 1:.2f} a month (monthly_budget_usd); ${1:.2f} to spare" in capsys.readouterr().out
    over = replace(dev.spec, monthly_budget_usd=round(total - 5, 2))
    assert main([str(dev.outdir)], spec=over) == 1
    out = capsys.readouterr().out
    what = f"${total:.2f} a month" + (" with the schedule" if _scheduled(dev) else "")
    assert f"OVER BUDGET: {what} is ${total - round(total - 5, 2):.2f} over" in out


def test_the_command_refuses_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "usage: python -m tools.cost" in capsys.readouterr().err
    json.dumps(PRICES)  # the table is plain data


@original_platform_only
def test_the_cost_doc_shows_the_current_figures(dev: Synthesized, prod: Synthesized) -> None:
    """docs/cost.md describes the shipped profiles: held to them while they are the original platform's.
    A profile with a schedule shows it all week and with its schedule; the README states the latter."""
    root = Path(__file__).resolve().parents[2]
    lines = (root / "docs" / "cost.md").read_text().splitlines()
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("|")}
    readme = root / "README.md"
    for synth in (dev, prod):
        row = rows.get(synth.spec.environment, "")
        figures = [f"**${_total(synth):.2f}**"]
        if synth.spec.schedule is not None:
            figures.insert(0, f"**${_all_week(synth):.2f}**")
            assert f"${_total(synth):.2f} a month" in readme.read_text(), f"README.md's {synth.spec.environment} cost"
        for figure in figures:
            assert figure in row, f"docs/cost.md's {synth.spec.environment} row: {figure} is not in it"


def test_interface_endpoints_are_priced_per_service_and_zone(profile: Synthesized) -> None:
    """$0.01 an hour per endpoint per zone (AWS PrivateLink pricing), where the spec has them."""
    items = [item for item in price_assembly(profile.outdir) if item.name.startswith("interface endpoint")]
    zones = profile.spec.network.max_azs
    assert sorted(item.name for item in items) == sorted(
        f"interface endpoint {service} x{zones} zones" for service in endpoint_services(profile.spec)
    )
    for item in items:
        assert item.monthly == pytest.approx(zones * 0.01 * 730)
