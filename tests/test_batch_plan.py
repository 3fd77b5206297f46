"""Issue 14, "fix what was found": twins copied not re-run, warm-up leaders first, infeasible design
points failing alone with file, point and values, a relative --out on Dask, validate/--dry-run for
batch files, "+nan%", and lever switches and categories as design variables."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from sim.batch import load_batch, run_batch
from sim.batch.compare import format_effects, paired_effects
from sim.batch.runner import plan_batch
from sim.batch.store import read_manifest, run_status
from sim.scenario import ScenarioError
from tests.test_batch import LIFECIRCLE, REPO, write_batch, write_package

COMMISSION = '\n[parameters."levers.platform.commission"]\nlow = 0.05\nhigh = 0.25\n\n[design]\nmethod = "latin"\nsamples = 3\n'


def platform_batch(folder, *, replications=1, extra=COMMISSION):
    folder.mkdir(parents=True, exist_ok=True)
    write_package(folder, "platform", "[levers.platform]\nenabled = true")
    return write_batch(folder, replications=replications, extra_packages='platform = "platform.toml"', extra=extra)


def test_the_baseline_is_not_rerun_at_points_that_change_only_a_lever_it_has_off(tmp_path, batch_checkpoints):
    batch = platform_batch(tmp_path / "b")
    out = tmp_path / "out"
    summary = run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert summary.done == 6 and summary.failed == 0
    done = {e["run_id"]: e for e in read_manifest(out) if e.get("status") == "done"}
    # The baseline at points 1 and 2 repeats its run at point 0 (the platform is off there): copied.
    assert done["baseline-p0001-r00"]["twin_of"] == "baseline-p0000-r00"
    assert done["baseline-p0002-r00"]["twin_of"] == "baseline-p0000-r00"
    assert sum(1 for e in done.values() if "twin_of" in e) == 2
    assert all("twin_of" not in done[f"platform-p000{p}-r00"] for p in range(3))
    runs = pd.read_parquet(out / "runs")
    a = runs[runs.run_id == "baseline-p0000-r00"].sort_values(["day", "indicator"]).reset_index(drop=True)
    b = runs[runs.run_id == "baseline-p0002-r00"].sort_values(["day", "indicator"]).reset_index(drop=True)
    assert (b["point"] == 2).all() and np.array_equal(a["value"], b["value"])
    # The copy is the run a simulation gives: the baseline alone at point 2 (no twin to copy from).
    alone = tmp_path / "alone"
    spec = load_batch(batch)
    from sim.batch.runner import execute_run, RunPlan, RunTask
    from sim.batch.design import build_design

    scenario = spec.package_scenario("baseline").with_updates(build_design(spec).point_values(2))
    plan = RunPlan(run_id="baseline-p0002-r00", package="baseline", point=2, replicate=0, seed=spec.replicate_seed(0))
    result = execute_run(RunTask(plan=plan, scenario=scenario, parameters={"levers.platform.commission": 0.15},
                                 out=str(alone), checkpoints=False))
    assert result["status"] == "done"
    fresh = pd.read_parquet(alone / "runs").sort_values(["day", "indicator"]).reset_index(drop=True)
    assert np.array_equal(fresh["value"], b["value"])
    # Comparisons pair every point with its baseline.
    effects = paired_effects(__import__("sim.batch.compare", fromlist=["run_outcomes"]).run_outcomes(out), "baseline")
    assert set(effects["n"]) == {3}


def test_a_lever_mix_with_every_switch_off_is_a_twin_of_the_baseline(tmp_path):
    extra = ('\n[levers."levers.platform.enabled"]\n\n[levers."levers.platform.commission"]\nvalues = [0.1, 0.2]\n'
             '\n[lever_design]\nmethod = "factorial"\n')
    batch = write_batch(tmp_path / "b", replications=1, extra=extra)
    planned = plan_batch(load_batch(batch))
    runs = {p.run_id: p.twin_of for p in planned.plans}
    # mixes: (off, 0.1), (off, 0.2), (on, 0.1), (on, 0.2): both "off" mixes are the baseline's run.
    assert runs["mix-000-p0000-r00"] == "baseline-p0000-r00"
    assert runs["mix-001-p0000-r00"] == "baseline-p0000-r00"
    assert runs["mix-002-p0000-r00"] is None and runs["mix-003-p0000-r00"] is None


def test_warm_up_leaders_come_first_so_workers_compute_different_warm_ups(tmp_path):
    # Levers vary, the economy does not: every run of a seed shares one warm-up. In plan order the
    # first runs were baseline r0, baseline r1, platform r0 ... so two workers started with r0 and r1
    # but then queued behind each other; now the first runs are one per warm-up.
    extra = ('\n[parameters."economy.rent_multiplier"]\nlow = 0.8\nhigh = 1.2\n\n[design]\nmethod = "latin"\n'
             'samples = 3\n')
    batch = platform_batch(tmp_path / "b", replications=2, extra=extra)
    spec = load_batch(batch)
    planned = plan_batch(spec)
    from sim.io.checkpoint import warmup_key

    order = [warmup_key(planned.scenarios[p.package].with_updates(planned.design.point_values(p.point)), p.seed)
             for p in planned.plans]
    distinct = len(set(order))
    assert distinct == 6  # 3 points x 2 seeds: rent changes the warm-up
    assert len(set(order[:distinct])) == distinct, "the first runs must each need a different warm-up"


def test_an_infeasible_design_point_fails_alone_naming_file_point_and_values(tmp_path):
    extra = ('\n[parameters."levers.platform.start_month"]\nvalues = [0, 24]\n'
             '\n[parameters."levers.platform.end_month"]\nvalues = [12, 36]\n\n[design]\nmethod = "factorial"\n')
    batch = platform_batch(tmp_path / "b", extra=extra)
    out = tmp_path / "out"
    proc = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--out", str(out), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1, proc.stderr  # some runs failed; the batch went on
    status = run_status(out)
    failed = {k for k, v in status.items() if v["status"] == "failed"}
    # Point 2 is start 24, end 12: both packages fail there, every other run is done.
    assert failed == {"baseline-p0002-r00", "platform-p0002-r00"}
    error = status["platform-p0002-r00"]["error"]
    assert str(batch) in error and "design point 2" in error
    assert "levers.platform.start_month = 24" in error and "levers.platform.end_month = 12" in error
    assert "end_month (12) must be after start_month (24)" in error
    assert "failed platform-p0002-r00" in proc.stdout
    # validate and --dry-run say so before anything runs
    check = subprocess.run([*LIFECIRCLE, "validate", str(batch)], capture_output=True, text=True, cwd=REPO)
    assert check.returncode == 0 and "2 (package, point) pair(s) cannot run" in check.stdout
    dry = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--dry-run"], capture_output=True, text=True, cwd=REPO)
    assert dry.returncode == 0 and "platform-p0002-r00  seed" in dry.stdout and "[cannot run" in dry.stdout
    assert not (tmp_path / "b" / "runs").exists()


def test_dry_run_lists_runs_seeds_and_twins_without_running(tmp_path):
    batch = platform_batch(tmp_path / "b")
    proc = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--dry-run"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "runs: 6 = 2 packages x 3 points x 1 replications; 4 simulated, 2 twins copied" in text
    assert "baseline-p0001-r00" in text and "[twin of baseline-p0000-r00: copied]" in text
    seed = load_batch(batch).replicate_seed(0)
    assert f"platform-p0000-r00  seed {seed}  levers.platform.commission=" in text
    proc = subprocess.run([*LIFECIRCLE, "validate", str(batch)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "valid batch 'tiny'" in proc.stdout


def test_a_zero_baseline_prints_n_a_not_nan_percent():
    outcomes = pd.DataFrame({
        "package": ["base"] * 2 + ["pol"] * 2, "point": [0, 0, 0, 0], "replicate": [0, 1, 0, 1],
        "indicator": ["merchant_births"] * 4, "value": [0.0, 0.0, 1.0, 2.0]})
    text = format_effects(paired_effects(outcomes, "base"), title="t")
    assert "nan%" not in text and "n/a" in text


def test_switches_and_categories_are_design_variables(tmp_path):
    extra = ('\n[levers."levers.platform.enabled"]\n\n[levers."levers.renovation.months"]\nvalues = [[6, 18], [0]]\n'
             '\n[lever_design]\nmethod = "factorial"\n')
    spec = load_batch(write_batch(tmp_path / "b", replications=1, extra=extra))
    mixes = [spec.package_scenario(m) for m in spec.mix_names()]
    assert [(m.levers.platform.enabled, list(m.levers.renovation.months)) for m in mixes] == [
        (False, [6, 18]), (False, [0]), (True, [6, 18]), (True, [0])]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_relative_out_on_dask_keeps_every_result(tmp_path, monkeypatch):
    """The workers' working directory is not the coordinator's: a relative --out reached them as it
    was, and they wrote their results into their own folder (lost) while the coordinator counted them done."""
    from distributed import Client, LocalCluster

    batch = write_batch(tmp_path / "b", replications=2)
    coordinator, elsewhere = tmp_path / "coordinator", tmp_path / "elsewhere"
    coordinator.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(coordinator)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(os.chdir, str(elsewhere))
        summary = run_batch(load_batch(batch), "results/rel", client=client, progress=False)
    assert summary.done == 2 and summary.failed == 0
    assert sorted(p.name for p in (coordinator / "results" / "rel" / "runs").glob("*.parquet")) == [
        "baseline-p0000-r00.parquet", "baseline-p0000-r01.parquet"]
    assert not any(elsewhere.rglob("*.parquet")) and not (elsewhere / "results").exists()


def test_a_run_s_outcome_is_the_mean_of_its_last_months_and_a_running_total_s_last_value(tmp_path, monkeypatch):
    # public_spending is a running total since the start: its outcome is the run's total (the last
    # collection), not the mean of its last three months (one month's spending short of it); a level
    # such as basic coverage is the mean of the last three.
    from sim.batch import compare, store

    (tmp_path / store.RUNS).mkdir()
    rows = [("r0", "pkg", 0, 0, 1, m, name, v) for m in range(1, 7)
            for name, v in (("public_spending", 100.0 * m), ("basic_coverage_15", 0.1 * m),
                            ("public_spending_by_lever.lockers", 10.0 * m))]
    frame = pd.DataFrame(rows, columns=["run_id", "package", "point", "replicate", "seed", "month", "indicator", "value"])
    monkeypatch.setattr(store, "finished_runs", lambda out: ["r0"])
    monkeypatch.setattr(store, "read_runs", lambda out, columns: frame[columns])
    got = compare.run_outcomes(tmp_path, last_months=3).set_index("indicator")["value"]
    assert got["public_spending"] == 600.0 and got["public_spending_by_lever.lockers"] == 60.0
    assert got["basic_coverage_15"] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- integer keys in designs

@pytest.mark.parametrize("extra, expected", [
    # Both levels ran as 2 (round half to even) and were recorded as two points.
    ('[uncertainties."economy.closure_months"]\nvalues = [1.5, 2.5]\n[design]\nmethod = "factorial"\n',
     "values = [1.5, 2.5]: economy.closure_months is a whole number and 1.5 is not"),
    ('[uncertainties."economy.closure_months"]\nlow = 1\nhigh = 2\n[design]\nmethod = "factorial"\nlevels = 3\n',
     "levels = 3 gives [1.0, 1.5, 2.0]: economy.closure_months is a whole number and 1.5 is not"),
])
def test_an_integer_key_s_levels_must_be_whole_numbers(tmp_path, extra, expected):
    with pytest.raises(ScenarioError) as err:
        load_batch(write_batch(tmp_path, extra=extra))
    assert expected in str(err.value) and "allowed: whole-number levels" in str(err.value)


def test_design_parquet_records_the_rounded_values_a_latin_design_ran(tmp_path):
    from sim.batch.runner import prepare

    spec = load_batch(write_batch(tmp_path, extra='[uncertainties."economy.closure_months"]\nlow = 1\nhigh = 4\n'
                                                  '[design]\nmethod = "latin"\nsamples = 5\n'))
    design, _, _ = prepare(spec, tmp_path / "out")
    recorded = pd.read_parquet(tmp_path / "out" / "design.parquet").sort_values("point")
    ran = [design.point_values(i)["economy.closure_months"] for i in range(design.n_points)]
    assert recorded["economy.closure_months"].tolist() == ran
    assert not np.array_equal(design.X[:, 0], ran)  # the draws are not whole numbers...
    drawn = pd.read_parquet(tmp_path / "out" / "design_drawn.parquet").sort_values("point")
    assert np.array_equal(drawn["economy.closure_months"].to_numpy(), design.X[:, 0])  # ...and kept for SALib


# ----------------------------------------------------------------------------- explicit design points

@pytest.mark.parametrize("points, expected", [
    # 99 failed as a run at the end of the batch (exit 1); 15 ran although outside the declared range.
    ('{"economy.rent_multiplier" = 1.0}, {"economy.rent_multiplier" = 99.0}',
     "key 'design.points[1]' has economy.rent_multiplier = 99.0: allowed: within its range, low = 0.5 to high = 2.0"),
    ('{"economy.rent_multiplier" = 15.0}', "key 'design.points[0]' has economy.rent_multiplier = 15.0"),
    ('{"economy.rent_multiplier" = nan}', "economy.rent_multiplier = nan: allowed: a finite number"),
])
def test_explicit_points_are_checked_at_load(tmp_path, points, expected):
    extra = (f'[uncertainties."economy.rent_multiplier"]\nlow = 0.5\nhigh = 2.0\n'
             f'[design]\nmethod = "explicit"\npoints = [{points}]\n')
    with pytest.raises(ScenarioError) as err:
        load_batch(write_batch(tmp_path, extra=extra))
    assert expected in str(err.value)


def test_an_explicit_lever_point_must_be_one_of_its_values(tmp_path, capsys):
    from tests.test_cli_errors import cli, one_message

    extra = ('[levers."levers.lockers.lockers_per_km2"]\nvalues = [5.0, 40.0]\n'
             '[lever_design]\nmethod = "explicit"\npoints = [{"levers.lockers.lockers_per_km2" = 7.0}]\n')
    code, _, err = cli(capsys, "validate", write_batch(tmp_path, extra=extra))
    assert code == 2
    assert "key 'lever_design.points[0]' has levers.lockers.lockers_per_km2 = 7.0: allowed: one of its values" \
        in one_message(err)


# ----------------------------------------------------------------------------- outcome windows

@pytest.mark.parametrize("months", ["[24, 36]", "[0, 3]"])
def test_an_outcome_window_past_the_runs_end_is_refused(tmp_path, months):
    # years = 0.25: months 0 to 2. [24, 36] gave every run NaN (and discover blamed the design);
    # [0, 3] was cut to 0-2 while its label still said 0-3.
    extra = f'[outcomes.late]\nindicator = "needs_met_share"\nmonths = {months}\n'
    with pytest.raises(ScenarioError) as err:
        load_batch(write_batch(tmp_path, extra=extra))
    assert f"key 'outcomes.late.months' = {months}: the runs measure years = 0.25 (months 0 to 2)" in str(err.value)


def test_an_outcome_window_within_the_runs_is_accepted(tmp_path):
    spec = load_batch(write_batch(tmp_path, extra='[outcomes.late]\nindicator = "needs_met_share"\nmonths = [1, 2]\n'))
    assert spec.outcomes["late"].months == [1, 2]
