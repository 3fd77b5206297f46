"""Calibrations that run (issue 13), on a local Dask cluster of two workers: parameters are recovered
from targets simulated at known values; a calibration killed mid-run continues from its last
generation and ends with the posterior of an uninterrupted run; batches draw their uncertain
parameters from a posterior.

The districts here are tiny (1,500 to 2,000 residents, a year or two) so that each test takes
about a minute on two cores; the shipped calibration's figures are a benchmark
(benchmarks/bench_calibration.py), not a test.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from sim.batch import batch_from_dict, build_design, run_batch
from sim.batch.cluster import connect_client, local_client
from sim.calibration import calibrate, calibration_from_dict, load_calibration
from sim.calibration.posterior import read_posterior
from sim.calibration.simulate import simulate, start_seeds
from sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
LIFECIRCLE = [sys.executable, "-m", "sim.cli"]

# ----------------------------------------------------------------------------- parameter recovery

TRUE = {"economy.outside_job_finding_per_month": 0.24, "economy.discovery_per_month": 0.05, "economy.price_weight": 3.0}
IDENTIFIABLE = ("economy.outside_job_finding_per_month", "economy.discovery_per_month")
"""Job finding sets unemployment (u ~ s / (s + f)); word of mouth (discovery) sets the share of nearby
outlets residents know of. The price weight changes which outlet a resident picks but neither target:
it is not identifiable from them, and its posterior stays close to the prior."""


def recovery_dict() -> dict:
    return {
        "name": "recovery", "scenario": str(BASELINE), "seed": 11,
        "overrides": {"population.residents": 1500, "city.blocks_x": 5, "city.blocks_y": 5},
        "simulation": {"warmup_years": 0.5, "settled_seeds": 4, "adjust_years": 0.25, "measure_years": 1.0},
        "parameters": {"economy.outside_job_finding_per_month": {"low": 0.05, "high": 0.6},
                       "economy.discovery_per_month": {"prior": "loguniform", "low": 0.01, "high": 0.5},
                       "economy.price_weight": {"low": 0.5, "high": 8.0}},
        "targets": {
            "unemployment": {"statistic": "mean", "indicator": "unemployment_rate", "observed": 0.0,
                             "tolerance": 0.004, "source": "simulated at the true parameter values"},
            "known": {"statistic": "mean", "indicator": "known_outlet_share", "observed": 0.0, "tolerance": 0.01,
                      "source": "simulated at the true parameter values"}},
        "abc": {"population_size": 30}, "stop": {"max_generations": 4}, "predictive": {"draws": 8},
    }


@pytest.mark.slow
def test_parameters_are_recovered_from_targets_simulated_at_known_values(tmp_path):
    data = recovery_dict()
    spec = calibration_from_dict(data, source="recovery.toml")
    # The "observed" district: one run at the true values from a settled start of the calibration's own.
    start = start_seeds(spec.seed, spec.simulation.settled_seeds)[0]
    observed = simulate(spec.base_scenario(), TRUE, start, 123, spec.targets, spec.simulation,
                        store=tmp_path / "observed")
    for name, value in observed.items():
        data["targets"][name]["observed"] = value
    spec = calibration_from_dict(data, source="recovery.toml")
    with local_client(2) as client:
        result = calibrate(spec, tmp_path / "recovery", client=client, progress=False)
    summary = pd.read_csv(tmp_path / "recovery" / "posterior_summary.csv").set_index("parameter")
    print(summary.assign(true=pd.Series(TRUE))[["true", "median", "q05", "q95", "interval_share_of_prior"]].to_string())
    assert len(result.generations) == 4 and result.stopped == "max_generations"
    assert result.generations["epsilon"].iloc[-1] < result.generations["epsilon"].iloc[1]
    for key in IDENTIFIABLE:  # the 90 % credible interval holds the truth and is much narrower than the prior's
        row = summary.loc[key]
        assert row["q05"] <= TRUE[key] <= row["q95"], (key, row.to_dict())
        assert row["interval_share_of_prior"] < 0.75, (key, row.to_dict())
    assert summary.loc["economy.price_weight", "interval_share_of_prior"] > 0.7  # not identifiable: ~ the prior
    predictive = pd.read_csv(tmp_path / "recovery" / "predictive.csv").set_index("target")
    assert predictive["observed_in_interval"].all()
    for name in ("posterior_marginals.png", "posterior_pairs.png", "predictive.png"):
        assert (tmp_path / "recovery" / "figures" / name).stat().st_size > 10_000


# ----------------------------------------------------------------------------- one small calibration

def small_dict() -> dict:
    return {
        "name": "small", "scenario": str(BASELINE), "seed": 21,
        "overrides": {"population.residents": 1000, "city.blocks_x": 4, "city.blocks_y": 4},
        "simulation": {"warmup_years": 0.25, "settled_seeds": 2, "adjust_years": 0.0, "measure_years": 0.5},
        "parameters": {"economy.outside_job_finding_per_month": {"low": 0.05, "high": 0.6},
                       "economy.closure_months": {"low": 2, "high": 12}},
        "targets": {"unemployment": {"statistic": "mean", "indicator": "unemployment_rate", "observed": 0.052,
                                     "tolerance": 0.005, "source": "NBS 2023 surveyed urban unemployment"}},
        "abc": {"population_size": 8}, "stop": {"max_generations": 2}, "predictive": {"draws": 3},
    }


def test_a_calibration_on_one_worker_and_on_two_gives_the_same_posterior_and_every_output(tmp_path):
    from distributed import LocalCluster

    spec = calibration_from_dict(small_dict(), source=str(tmp_path / "small.toml"))
    with local_client(1) as client:  # as --workers 1
        one = calibrate(spec, tmp_path / "one", client=client, progress=False)
    # as --scheduler ADDRESS: a cluster of two workers, reached by its scheduler's address
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            connect_client(cluster.scheduler_address) as client:
        two = calibrate(spec, tmp_path / "two", client=client, progress=False)
    assert (one.resumed_at, one.ran, one.stopped) == (0, 2, "max_generations")
    posterior = pd.read_parquet(tmp_path / "one" / "posterior.parquet")
    pd.testing.assert_frame_equal(posterior, pd.read_parquet(tmp_path / "two" / "posterior.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one" / "predictive_draws.parquet"),
                                  pd.read_parquet(tmp_path / "two" / "predictive_draws.parquet"))
    assert len(posterior) == 8 and posterior["weight"].sum() == pytest.approx(1.0)
    assert {"economy.outside_job_finding_per_month", "value.economy.closure_months", "stat.unemployment",
            "distance"} <= set(posterior.columns)
    assert (posterior["distance"] <= two.generations["epsilon"].iloc[-1]).all()  # accepted within the threshold
    assert posterior["value.economy.closure_months"].between(2, 12).all()
    summary = pd.read_csv(tmp_path / "one" / "posterior_summary.csv").set_index("parameter")
    assert (summary["q05"] <= summary["median"]).all() and (summary["median"] <= summary["q95"]).all()
    predictive = pd.read_csv(tmp_path / "one" / "predictive.csv")
    assert list(predictive["target"]) == ["unemployment"] and predictive["interval_low"].iloc[0] <= \
        predictive["simulated_median"].iloc[0] <= predictive["interval_high"].iloc[0]
    draws = pd.read_parquet(tmp_path / "one" / "predictive_draws.parquet")
    assert set(draws["start_seed"]) <= set(start_seeds(21, 2))  # every draw starts from a settled start
    assert len(list((tmp_path / "one" / "checkpoints").glob("*.npz"))) == 2
    for name in ("posterior_marginals.png", "posterior_pairs.png", "predictive.png"):
        assert (tmp_path / "one" / "figures" / name).stat().st_size > 5_000


# ----------------------------------------------------------------------------- kill and resume

def tiny_dict(generations: int) -> dict:
    return {
        "name": "tiny", "scenario": str(BASELINE), "seed": 5,
        "overrides": {"population.residents": 1500, "city.blocks_x": 5, "city.blocks_y": 5},
        "simulation": {"warmup_years": 0.5, "settled_seeds": 2, "adjust_years": 0.25, "measure_years": 1.0},
        "parameters": {"economy.outside_job_finding_per_month": {"low": 0.05, "high": 0.6},
                       "economy.closure_months": {"low": 2, "high": 12}},
        "targets": {"unemployment": {"statistic": "mean", "indicator": "unemployment_rate", "observed": 0.052,
                                     "tolerance": 0.005, "source": "NBS 2023 surveyed urban unemployment"},
                    "density": {"statistic": "outlets_per_10k", "observed": 110.0, "tolerance": 15.0,
                                "source": "MOFCOM 2024 pilot life circles"}},
        "abc": {"population_size": 10}, "stop": {"max_generations": generations}, "predictive": {"draws": 2},
    }


def stored_generations(out: Path) -> int:
    """Generations pyabc has committed to ``out/abc.db`` (0 before it exists)."""
    try:
        with sqlite3.connect(f"file:{out / 'abc.db'}?mode=ro", uri=True, timeout=5) as db:
            (count,) = db.execute("select count(*) from populations where t >= 0").fetchone()
    except sqlite3.Error:
        return 0
    return int(count)


@pytest.mark.slow
def test_a_killed_calibration_continues_from_its_last_generation_to_the_uninterrupted_posterior(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_dict(generations=3)), encoding="utf-8")
    out = tmp_path / "killed"
    command = [*LIFECIRCLE, "calibrate", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while stored_generations(out) < 1:
            assert proc.poll() is None, "the calibration ended before it could be killed"
            assert time.monotonic() < deadline, "no generation within 5 minutes"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its Dask workers, mid-run
        proc.wait()
    killed_at = stored_generations(out)
    assert 1 <= killed_at < 3
    with sqlite3.connect(out / "abc.db") as db:
        before = db.execute("select t, epsilon from populations where t >= 0 order by t").fetchall()

    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"3 generation(s) ({killed_at} before this run, {3 - killed_at} now)" in rerun.stdout
    assert f"continuing from generation {killed_at}" in rerun.stderr
    assert "settled" not in rerun.stderr  # the settled starts were kept in DIR/checkpoints, not redone
    assert len(list((out / "checkpoints").glob("*.npz"))) == 2
    with sqlite3.connect(out / "abc.db") as db:
        after = db.execute("select t, epsilon from populations where t >= 0 order by t").fetchall()
    assert after[:killed_at] == before  # the generations done before the kill are kept, not redone
    assert [t for t, _ in after] == [0, 1, 2]
    assert len(json.loads((out / "calibration.json").read_text(encoding="utf-8"))["invocations"]) == 2

    # The same file and seed without a kill: the same particles, weights and distances. Run again
    # when it is complete, it runs nothing more; a different calibration into the folder is refused.
    spec = load_calibration(path)
    with local_client(2) as client:
        calibrate(spec, tmp_path / "whole", client=client, progress=False)
        again = calibrate(spec, out, client=client, progress=False)
    resumed = pd.read_parquet(out / "populations.parquet")
    whole = pd.read_parquet(tmp_path / "whole" / "populations.parquet")
    pd.testing.assert_frame_equal(resumed, whole)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "predictive_draws.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "predictive_draws.parquet"))
    assert (again.resumed_at, again.ran) == (3, 0)
    other = tiny_dict(generations=3)
    other["seed"] = 6
    path.write_text(tomli_w.dumps(other), encoding="utf-8")
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "holds another calibration" in refused.stderr

    # ----- a batch draws its uncertain parameters from this posterior
    posterior = read_posterior(out)
    assert posterior.keys == ["economy.outside_job_finding_per_month", "economy.closure_months"]
    batch = {"name": "from-posterior", "master_seed": 3, "replications": 2, "years": 0.25,
             "indicators": ["needs_met_share", "unemployment_rate"],
             "packages": {"baseline": str(BASELINE), "platform": str(REPO / "scenarios" / "platform.toml")},
             "overrides": {"population.residents": 1500, "city.blocks_x": 5, "city.blocks_y": 5, "warmup_years": 0.0},
             "uncertainties": {"from_posterior": str(out), "draws": 2}}
    spec = batch_from_dict(batch, source=str(tmp_path / "b.toml"))
    design = build_design(spec)
    assert design.method == "posterior" and design.X.shape == (2, 2)
    assert set(map(tuple, design.X)) <= set(map(tuple, posterior.values))  # draws are particles
    assert np.array_equal(design.X, build_design(spec).X)  # seeded
    summary = run_batch(spec, tmp_path / "batch", workers=2, progress=False)
    assert summary.failed == 0 and summary.done == 2 * 2 * 2
    runs = pd.read_parquet(tmp_path / "batch" / "runs")
    drawn = runs.groupby("point")["economy.closure_months"].first().to_numpy()
    assert np.array_equal(drawn, design.X[:, 1].astype(int))
    info = json.loads((tmp_path / "batch" / "batch.json").read_text(encoding="utf-8"))
    assert info["design"] == "posterior" and info["design_options"]["posterior_sha256"] == posterior.digest
    with pytest.raises(ScenarioError, match="remove the other \\[uncertainties\\] ranges and \\[design\\]"):
        batch_from_dict({**batch, "uncertainties": {**batch["uncertainties"],
                                                    "economy.rent_multiplier": {"low": 1.0, "high": 2.0}},
                         "design": {"method": "latin"}}, source="b.toml")
    with pytest.raises(ScenarioError, match="give \\[uncertainties\\] or \\[parameters\\]"):
        batch_from_dict({**batch, "parameters": {"economy.rent_multiplier": {"low": 1.0, "high": 2.0}}},
                        source="b.toml")
    with pytest.raises(ScenarioError, match="not a finished calibration folder"):
        batch_from_dict({**batch, "uncertainties": {"from_posterior": str(tmp_path)}}, source="b.toml")
    with pytest.raises(ScenarioError, match="also in \\[overrides\\]"):
        batch_from_dict({**batch, "overrides": {**batch["overrides"], "economy.closure_months": 3}}, source="b.toml")
