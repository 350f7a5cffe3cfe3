"""The real Prometheus discovers and scrapes every service of the spec through
Cloud Map-style DNS SRV records, inside an isolated network namespace, where each task is
the reference service itself (services/<image>, its image's command, the pinned Node)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests import background
from tests.discovery.runs import UNAVAILABLE, Run, finish, start_runs
from tests.reference_services import stand_in_note


@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")
def test_every_target_of_every_job_is_up(record_property: Any) -> None:
    runs = background.take("discovery", start_runs)
    try:
        for run in runs:
            _check(run, record_property)
    finally:
        shutil.rmtree(runs[0].directory.parent, ignore_errors=True)


def _check(run: Run, record_property: Any) -> None:
    variant, spec, plan, directory, process = run.variant, run.spec, run.plan, run.directory, run.process
    result = finish(process)
    notes = [note for service in spec.scraped_services if (note := stand_in_note(service))]
    record_property("seconds_until_all_targets_up", f"{result['seconds']} s ({variant})")
    if notes:
        record_property("stand_ins", f"{variant}: {'; '.join(notes)}")
    jobs = {service.name: service for service in spec.scraped_services}
    seen = {(t["job"], t["instance"]) for t in result["targets"]}
    expected = {(spec.prometheus.name, f"127.0.0.1:{spec.prometheus.port}")} | {
        (service["dns_name"].split(".")[0], f"{instance['id']}.{service['dns_name']}:{service['port']}")
        for service in plan["services"]
        for instance in service["instances"]
    }
    log = (directory / "prometheus.log").read_text()[-2000:]
    assert seen == expected, f"{variant}: {result}\n{log}"
    down = [t for t in result["targets"] if t["health"] != "up"]
    assert down == [], f"{variant}: not up after {result['seconds']} s: {down}\n{log}"
    for target in result["targets"]:
        if target["job"] in jobs:
            assert target["url"].endswith(jobs[target["job"]].metrics_path)
    # What was scraped is the services' code itself (on Node: its own, or the reference service
    # standing in for it), not a fake.
    assert result["jobs_with_node_metrics"] == sorted(jobs), result
    # A service with no port is discovered by nothing: no job, no target.
    assert not {s.name for s in spec.services if not s.scraped} & {t["job"] for t in result["targets"]}
