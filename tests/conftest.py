from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

_ROOT = Path(__file__).resolve().parent.parent
# jsii starts the Node on PATH when aws_cdk is first imported; use the pinned one.
os.environ["PATH"] = f"{_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

from platform_spec.profiles import DEFAULT_PROFILE  # noqa: E402
from tests import background  # noqa: E402
from tests.adoption import start as start_adoption  # noqa: E402
from tests.app_entry import start as start_app_entry  # noqa: E402
from tests.checkov_run import start_run as start_checkov  # noqa: E402
from tests.discovery.runs import UNAVAILABLE as NAMESPACES_UNAVAILABLE  # noqa: E402
from tests.discovery.runs import start_runs as start_discovery  # noqa: E402
from tests.platform_synth import (  # noqa: E402
    PROFILE_NAMES,
    Synthesized,
    profile_context,
    profile_spec,
    synth_profile,
    synth_spec,
)
from tests.postgres import Postgres, missing, running_postgres  # noqa: E402
from tests.reference_services import start_service_tests  # noqa: E402
from tests.variants import every_kind_variant, outside_us_east_1  # noqa: E402

KINDS = "every kind"
"""The variant the profile fixture runs beside the shipped profiles: dev with a service of every
kind, and settings and secrets of every form (tests/variants.py)."""


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL for the whole session (tests/postgres.py)."""
    reason = missing()
    if reason is not None:
        pytest.fail(reason)
    with running_postgres() as server:
        yield server


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto in place of AWS, with the fake credentials and region boto3 needs."""
    for variable, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        monkeypatch.setenv(variable, value)
    with mock_aws():
        yield


# Test files the session will run: slow checks that mostly wait start early for them.
_COLLECTED: set[str] = set()


# The tests that judge a background run: they run last, so the session's other tests run while
# the background runs work (the adoption run alone takes two minutes, on the other core).
JUDGES_BACKGROUND = (
    "::test_the_guides_edits_make_a_platform_the_suite_accepts",
    "::test_every_target_of_every_job_is_up",
    "::test_the_reference_services_own_tests_pass",
    "::test_every_finding_is_fixed_or_listed_with_its_reason",
    "::test_app_py_synthesizes_the_default_profile_validating_each_template_once",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Whatever compares with a committed snapshot is what `make snapshots` (-m snapshot) rewrites.
        if "snapshot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.snapshot)
    items.sort(key=lambda item: item.nodeid.endswith(JUDGES_BACKGROUND))
    _COLLECTED.update(item.nodeid for item in items)
    files = {nodeid.split("::")[0] for nodeid in _COLLECTED}
    if "tests/integration/test_prometheus_discovery.py" in files and NAMESPACES_UNAVAILABLE is None:
        background.start("discovery", start_discovery)
    if any(nodeid.endswith("::test_the_reference_services_own_tests_pass") for nodeid in _COLLECTED):
        background.start("service-tests", start_service_tests)
    if any(nodeid.endswith("::test_the_guides_edits_make_a_platform_the_suite_accepts") for nodeid in _COLLECTED):
        background.start("adoption", start_adoption)
    if any(nodeid.endswith(JUDGES_BACKGROUND[-1]) for nodeid in _COLLECTED):
        background.start("app-entry", lambda: start_app_entry(profile_context(DEFAULT_PROFILE)))


def pytest_sessionfinish() -> None:
    background.stop_all()


@pytest.fixture(scope="session")
def synthesized(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Each shipped profile, synthesized once for the whole session (and checkov started over
    them and the variants of dev, if the session runs it)."""
    profiles = {
        name: synth_profile(tmp_path_factory.mktemp(f"cdk-{name}"), profile_context(name)) for name in PROFILE_NAMES
    }
    if any(nodeid.startswith("tests/linters/test_checkov.py::") for nodeid in _COLLECTED):
        # The variants are dev too: checkov holds their findings to dev's entries of the list.
        variants = {"dev": [request.getfixturevalue("kinds"), request.getfixturevalue("outside")]}
        background.start("checkov", lambda: start_checkov(profiles, variants))
    return profiles


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]


@pytest.fixture(params=PROFILE_NAMES)
def shipped(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    """Each shipped profile only: for what is compared with committed files (snapshots)."""
    result: Synthesized = synthesized[request.param]
    return result


@pytest.fixture(scope="session")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev with a service of every kind and settings and secrets of every form, synthesized once, with
    the compliance checks (cdk-nag, reachability) as a synth runs them."""
    return synth_spec(tmp_path_factory.mktemp("cdk-kinds"), every_kind_variant(profile_spec("dev")), checks=True)


@pytest.fixture(scope="session")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev outside us-east-1 with a domain of its own (tests/variants.py), so an edge stack in
    us-east-1 holds what CloudFront reads there; with the compliance checks."""
    return synth_spec(tmp_path_factory.mktemp("cdk-outside"), outside_us_east_1(profile_spec("dev")), checks=True)


@pytest.fixture(params=(*PROFILE_NAMES, KINDS))
def profile(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    """Each shipped profile, and the variant with every kind of service: what holds for one holds
    for whatever services a spec has."""
    if request.param == KINDS:
        kinds: Synthesized = request.getfixturevalue("kinds")
        return kinds
    result: Synthesized = synthesized[request.param]
    return result


_TIMINGS: list[str] = []
_STAND_INS: list[str] = []
_SNAPSHOT_FAILURES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "seconds_until_all_targets_up":
                _TIMINGS.append(f"{report.nodeid}: every Prometheus target up after {value}")
            if name == "stand_ins":
                _STAND_INS.append(f"{report.nodeid}: {value}")
            if name == "alert_path":
                _TIMINGS.append(f"{report.nodeid}: {value}")
        if report.failed and "snapshot" in report.nodeid:
            _SNAPSHOT_FAILURES.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS:
        terminalreporter.write_sep("-", "local Prometheus discovery")
        for line in _TIMINGS:
            terminalreporter.write_line(line)
    if _STAND_INS:
        terminalreporter.write_sep("-", "reference services standing in for services without code here")
        for line in _STAND_INS:
            terminalreporter.write_line(line)
    if _SNAPSHOT_FAILURES:
        terminalreporter.write_sep("-", "snapshots")
        terminalreporter.write_line(
            f"{len(_SNAPSHOT_FAILURES)} snapshot test(s) failed: the templates or files they hold changed. If the "
            "change is intended, run `make snapshots` and read `git diff -- tests/` before you commit it."
        )
