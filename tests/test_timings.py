"""A run's timings record (timings.json): every phase named, and the phases add up to the total."""

from __future__ import annotations

import json

import pytest

from sim.cli import main
from sim.timing import RUN_PHASES, SIMULATED_PHASES, RunTimings
from tests.conftest import SCENARIOS

TINY = ["--set", "population.residents=1500", "--set", "city.blocks_x=6", "--set", "city.blocks_y=6",
        "--years", "0.1"]


def _record(out) -> dict:
    return json.loads((out / "timings.json").read_text(encoding="utf-8"))


def test_run_writes_timings_whose_phases_add_up_to_the_total(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECIRCLE_CHECKPOINTS", str(tmp_path / "checkpoints"))  # no checkpoint yet
    out = tmp_path / "out"
    # A short warm-up, so that the warm-up and its checkpoint have time to count.
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY,
                 "--set", "warmup_years=0.2", "--quiet"]) == 0
    record = _record(out)
    phases = record["phases"]
    assert list(phases) == list(RUN_PHASES)
    assert all(seconds >= 0 for seconds in phases.values())
    # Every phase of this run did some work (figures were drawn, a warm-up was simulated).
    assert all(phases[name] > 0 for name in ("build", "warmup", "measured", "figures", "outputs"))
    total = record["total"]
    assert sum(phases.values()) == pytest.approx(total, rel=0.02, abs=0.02)
    assert record["simulated"] == pytest.approx(sum(phases[p] for p in SIMULATED_PHASES), abs=1e-3)
    assert record["outside_simulated_share"] == pytest.approx(1 - record["simulated"] / total, abs=1e-3)
    assert record["residents"] == 1500 and record["years"] == pytest.approx(0.1)
    assert record["settled_start"] == "computed"
    # 0.1 years: one whole month, 31 days (January); the first is timed apart
    assert record["measured_days"] == 31 and 0 < record["first_measured_day"] < phases["measured"]
    marker = json.loads((out / ".lifecircle-run.json").read_text(encoding="utf-8"))
    assert "timings.json" in marker["files"]


def test_a_second_run_loads_the_checkpoint_and_simulates_no_warm_up(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECIRCLE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    args = ["run", str(SCENARIOS / "baseline.toml"), *TINY, "--set", "warmup_years=0.2",
            "--no-figures", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "first")]) == 0
    assert main([*args, "--out", str(tmp_path / "second")]) == 0
    first, second = _record(tmp_path / "first"), _record(tmp_path / "second")
    assert first["settled_start"] == "computed" and first["phases"]["warmup"] > 0
    assert second["settled_start"] == "checkpoint" and second["phases"]["warmup"] == 0
    assert second["phases"]["figures"] == 0  # --no-figures
    assert sum(second["phases"].values()) == pytest.approx(second["total"], rel=0.02, abs=0.02)


def test_laps_count_each_second_once():
    readings = iter([10.0, 13.0, 16.0, 16.0])
    timings = RunTimings(origin=9.0, clock=lambda: next(readings))  # made at 10: 1 s of start-up
    timings.add("measured", 1.5)  # timed by its caller inside the next lap
    assert timings.lap("build") == pytest.approx(1.5)  # 13 - 10, less the 1.5 s already counted
    assert timings.lap("outputs") == pytest.approx(3.0)
    record = timings.record()  # at 16
    assert record["phases"] == {"startup": 1.0, "build": 1.5, "checkpoint": 0.0, "warmup": 0.0, "measured": 1.5,
                                "figures": 0.0, "outputs": 3.0}
    assert record["total"] == pytest.approx(7.0) == sum(record["phases"].values())
    assert record["outside_simulated_share"] == pytest.approx(1 - 1.5 / 7.0, abs=1e-4)
    with pytest.raises(KeyError, match="unknown run phase 'imports'"):
        timings.add("imports", 1.0)
