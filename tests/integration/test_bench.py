"""``make bench-services`` (bench/services.py), run for a second per target against the session's
PostgreSQL: every row is measured and served, the JSON it writes reads back with every figure,
and the suggestion follows from the rows as docs/benchmarks.md says. And ``make bench``'s synth
ratio (bench/run.py) fails it over its target."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import pytest

from bench import run
from bench.services import HEADROOM, VARIANTS, Load, baseline, main, report, round_down
from tests.postgres import Postgres
from tools.local_services import WORK_PATHS


def test_one_short_run_measures_every_row_and_writes_its_json(
    postgres: Postgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = baseline(postgres, work=tmp_path / "work", load=Load(connections=4, seconds=1, warmup=0, rounds=1))
    report(result, str(tmp_path / "figures.json"))
    assert "Suggested scale_at_requests_per_task" in capsys.readouterr().out
    figures = json.loads((tmp_path / "figures.json").read_text())

    rows = {(row["service"], row["variant"]): row for row in figures["rows"]}
    assert sorted(rows) == sorted(product(WORK_PATHS, VARIANTS))
    for (service, _), row in rows.items():
        assert row["path"] == WORK_PATHS[service]
        assert row["requests"] > 0
        assert row["requests_per_second"] > 0
        assert row["requests_per_cpu_second"] > 0
        assert 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p95"] <= row["latency_ms"]["p99"]
        assert row["throughput_vs_bare"] > 0
    for service in WORK_PATHS:
        assert rows[service, "bare"]["throughput_vs_bare"] == 1
        # Switched on, the metrics cost each request something, and far less than the request.
        assert 0 < figures["instrumentation_cost"][service]["metrics_share_of_request_cpu"] < 0.5

    scale = figures["scale_at_requests_per_task"]
    for service, entry in scale["per_service"].items():
        measured = rows[service, "instrumented"]["requests_per_cpu_second"]
        assert entry["requests_per_task_per_minute"] == pytest.approx(
            measured * entry["cpu"] / 1024 * 60 * HEADROOM, rel=0.01
        )
        assert 0 < entry["rounded"] <= entry["requests_per_task_per_minute"]
    assert scale["suggested"] == min(entry["rounded"] for entry in scale["per_service"].values())


def test_the_suggestion_is_rounded_down_to_two_figures() -> None:
    assert [round_down(value) for value in (3.7, 87.9, 1875.2, 25108.0, 84696.4)] == [3, 87, 1800, 25000, 84000]


def test_a_load_out_of_bounds_is_one_line_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--duration", "0"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--duration: must be a whole number from 1 to 300 (got '0')" in error


@pytest.mark.parametrize(("full", "code"), [(7.2, 0), (7.3, 1)])
def test_make_bench_fails_when_the_dev_synth_takes_over_the_target_times_the_minimal_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], full: float, code: int
) -> None:
    # Each synth counts its fastest run; the ratio is of the two bests (bench/run.py).
    labels = list(run.SYNTHS)
    monkeypatch.setattr(run, "best_synths", lambda rounds: {labels[0]: [9.0, full], labels[1]: [4.0, 5.0]})
    assert run.TARGET_SYNTH_RATIO == 1.8
    assert run.main(["--synth-only"]) == code
    assert f"full synth / minimal synth = {full / 4.0:.2f} (target <= 1.8)" in capsys.readouterr().out
