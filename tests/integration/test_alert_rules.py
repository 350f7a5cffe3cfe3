"""The rules Prometheus loads, run by promtool: each alert fires when its condition holds in both of its
windows, stays quiet just below, and resolves (tests/rule_tests.py makes the cases from the spec)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from layers.observability import alert_rules
from layers.observability.alert_rules import BUDGET_BURN, NO_TRAFFIC, WATCHDOG, render_rules, rule_groups
from platform_spec import ObjectivesSpec, PlatformSpec
from platform_spec.objectives import BURN_WINDOWS, PAGE, BurnWindow, ratio_windows
from platform_spec.profiles import PROFILES
from tests.rule_tests import rule_tests
from tests.variants import every_kind_variant, new_service

PROMTOOL = shutil.which("promtool")


def _with_own_objectives(spec: PlatformSpec) -> PlatformSpec:
    """A third service with objectives of its own: stricter, a shorter window, traffic expected."""
    objectives = ObjectivesSpec(
        availability_percent=99.9,
        latency_percent=99,
        latency_threshold_seconds=0.25,
        window_days=28,
        expects_traffic=True,
    )
    return dataclasses.replace(spec, services=(*spec.services, new_service(spec, "objectives", objectives=objectives)))


SPECS: dict[str, Callable[[], PlatformSpec]] = {
    **PROFILES,
    "every kind": lambda: every_kind_variant(PROFILES["dev"]()),
    "a third service with its own objectives": lambda: _with_own_objectives(PROFILES["dev"]()),
}


def _promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    return subprocess.run([PROMTOOL, *arguments], capture_output=True, text=True, check=False, timeout=120)


def _write_cases(spec: PlatformSpec, directory: Path, *, only: str | None = None, named: str = "") -> dict[str, Path]:
    """Each service's cases (and the heartbeat's) beside its group of the rendered rules: test files by
    stem; ``only`` that service's, and of them only the cases whose name holds ``named``."""
    files = {}
    for stem, (rules, all_tests) in rule_tests(spec).items():
        tests = {**all_tests, "tests": [case for case in all_tests["tests"] if named in case["name"]]}
        if only is None or stem == only:
            (directory / f"{stem}.rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
            files[stem] = directory / f"{stem}.tests.yml"
            files[stem].write_text(yaml.safe_dump(tests, sort_keys=False))
    return files


def _distinct_cases(directory: Path) -> dict[str, Path]:
    """The test files of every spec, each distinct pair of rules and cases once (dev's services recur
    in every variant): by what they are, ``<spec>: <service>``."""
    found: dict[str, Path] = {}
    seen: set[str] = set()
    for name, build in SPECS.items():
        spec_directory = directory / name.replace(" ", "-")
        spec_directory.mkdir()
        for stem, path in _write_cases(build(), spec_directory).items():
            content = path.read_text() + (spec_directory / f"{stem}.rules.yml").read_text()
            if content not in seen:
                seen.add(content)
                found[f"{name}: {stem}"] = path
    return found


def test_every_rule_passes_its_cases(tmp_path: Path) -> None:
    """Every service of every spec: dev, prod, a service of every kind, and a third service with objectives
    of its own, which gets its cases from its spec alone. Two promtool runs at a time (the cases are CPU)."""
    cases = _distinct_cases(tmp_path)
    assert len(cases) >= len(SPECS["a third service with its own objectives"]().scraped_services) + 1
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(
            zip(cases, pool.map(lambda path: _promtool("test", "rules", str(path)), cases.values()), strict=True)
        )
    failed = {
        what: r.stdout + r.stderr for what, r in results.items() if r.returncode != 0 or "SUCCESS" not in r.stdout
    }
    assert not failed, "\n".join(f"{what}:\n{output}" for what, output in failed.items())


@pytest.mark.parametrize("name", SPECS)
def test_promtool_accepts_the_rules_without_a_lint_finding(name: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(render_rules(SPECS[name]()))
    result = _promtool("check", "rules", str(tmp_path / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_service_with_objectives_gets_both_alerts_and_every_ratio() -> None:
    spec = SPECS["a third service with its own objectives"]()
    groups = {group["name"]: group["rules"] for group in rule_groups(spec)["groups"]}
    for service in spec.scraped_services:
        rules = groups[f"service-{service.name}"]
        alerts = {(r["alert"], r["labels"]["severity"]) for r in rules if "alert" in r}
        records = {r["record"] for r in rules if "record" in r}
        if service.objectives is None:
            assert not records, service.name
            assert not any(name in BUDGET_BURN.values() for name, _ in alerts), service.name
            continue
        assert {(BUDGET_BURN[o], s) for o in BUDGET_BURN for s in ("page", "ticket")} <= alerts, service.name
        assert all(any(r.endswith(f"rate{w}") for r in records) for w in ratio_windows()), service.name
        assert ((NO_TRAFFIC, "ticket") in alerts) == service.objectives.expects_traffic, service.name
    assert groups["heartbeat"][0]["alert"] == WATCHDOG
    assert {s.name for s in spec.services if not s.scraped}.isdisjoint(n.removeprefix("service-") for n in groups)


def test_the_cases_catch_a_wrong_burn_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules that page at a tenth of the burn rate the cases were made for fail them: the cases test
    the thresholds, not only that something fires."""
    spec = PROFILES["dev"]()
    lax = tuple(
        BurnWindow(w.severity, w.long_hours, w.budget_share * (10 if w.severity == PAGE else 1)) for w in BURN_WINDOWS
    )
    monkeypatch.setattr(alert_rules, "BURN_WINDOWS", lax)
    (path,) = _write_cases(spec, tmp_path, only=spec.services[0].name, named="a fast burn pages").values()
    result = _promtool("test", "rules", str(path))
    assert result.returncode != 0
    assert "a fast burn pages" in result.stdout + result.stderr


def test_the_cases_catch_counted_health_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules that counted the health and metrics paths as requests would fire in the quiet cases."""
    spec = PROFILES["dev"]()
    monkeypatch.setattr(alert_rules, "counted", lambda service: f'job="{service.name}"')
    (path,) = _write_cases(spec, tmp_path, only=spec.services[0].name, named="quiet").values()
    result = _promtool("test", "rules", str(path))
    assert result.returncode != 0
    assert "quiet" in result.stdout + result.stderr
