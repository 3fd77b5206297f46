"""Batches: batch-file validation, designs, seeds, the resumable store, executors, comparisons and
sensitivity analysis (known answers: paired t interval by hand, Ishigami Sobol' indices)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.batch import batch_from_dict, build_design, load_batch, plan_runs, run_batch, sample
from sim.batch.compare import paired_effects
from sim.batch.sensitivity import indices
from sim.batch.store import read_manifest, run_status
from sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
LIFECIRCLE = [sys.executable, "-m", "sim.cli"]

TINY = """
name = "tiny"
master_seed = 42
replications = {replications}
years = 0.25
indicators = ["needs_met_share", "employment_rate", "merchants_open"]

[packages]
baseline = "{baseline}"
{extra_packages}

[overrides]
"population.residents" = 300
"city.blocks_x" = 3
"city.blocks_y" = 3
{extra}
"""


def write_batch(folder: Path, *, replications: int = 2, extra_packages: str = "", extra: str = "") -> Path:
    """A tiny batch file (300 residents, 3 months) in ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch.toml"
    path.write_text(TINY.format(replications=replications, baseline=BASELINE.as_posix(),
                                extra_packages=extra_packages, extra=extra), encoding="utf-8")
    return path


def write_package(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.toml").write_text(f'extends = "{BASELINE.as_posix()}"\nname = "{name}"\n{body}\n',
                                         encoding="utf-8")


def read_sorted(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "runs")
    return frame.sort_values(["run_id", "day", "indicator"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- batch files

def base_dict(**changes) -> dict:
    data = {"packages": {"baseline": str(BASELINE)}, "years": 0.25, "overrides": {"population.residents": 300}}
    data.update(changes)
    return data


@pytest.mark.parametrize("changes, expected", [
    ({"replicatons": 3}, "unknown key 'replicatons'"),
    ({"replications": 0}, "key 'replications' = 0: allowed: >= 1"),
    ({"replications": "3"}, "key 'replications' = '3'"),
    ({"packages": {}}, "key 'packages' = {}: allowed: at least one package"),
    ({"packages": {"baseline": "nowhere.toml"}}, "packages.baseline' = 'nowhere.toml': no such scenario file"),
    ({"packages": {"bad name": str(BASELINE)}}, "key 'packages' names 'bad name': allowed: a name of letters, digits"),
    ({"baseline": "policy"}, "key 'baseline' = 'policy': allowed: a package: baseline"),
    ({"indicators": ["needs_met_shar"]}, "unknown indicator(s) ['needs_met_shar']"),
    ({"overrides": {"population.residentz": 5}}, "residentz"),
    ({"overrides": {"population.residents": -5}}, "population.residents' = -5"),
    ({"design": {"method": "latin"}}, "needs at least one"),
    ({"design": {"method": "latin", "sampels": 4}, "parameters": {"economy.rent_multiplier": {"low": 1.0, "high": 2.0}}},
     "unknown key 'design.sampels'"),
    ({"design": {"method": "sobol", "samples": 6}, "parameters": {"economy.rent_multiplier": {"low": 1.0, "high": 2.0}}},
     "power of two"),
    ({"design": {"method": "halton"}}, "key 'design.method' = 'halton'"),
    ({"design": {"method": "latin"}, "parameters": {"economy.rent_multiplier": {"low": 2.0, "high": 1.0}}},
     "low (2.0) must be below high (1.0)"),
    ({"design": {"method": "latin"}, "parameters": {"economy.rent_multiplier": {"low": 1.0, "high": 50.0}}},
     "economy.rent_multiplier' = 50.0: allowed: <= 20.0"),
    ({"design": {"method": "latin"}, "parameters": {"economy.rent_multiplyer": {"low": 1.0, "high": 2.0}}},
     "unknown scenario key 'economy.rent_multiplyer'"),
    ({"design": {"method": "latin"}, "parameters": {"levers.platform.enabled": {"low": 0, "high": 1}}},
     "a bool key, not a number: give its values"),
    ({"design": {"method": "sobol", "samples": 8}, "parameters": {"economy.catalogue": {"values": ["default", "x.toml"]}}},
     "cannot be sampled by a sobol design"),
    # issue 14: a seed as a design variable or override was silently replaced by the replicate seeds
    ({"design": {"method": "latin"}, "parameters": {"seed": {"low": 1, "high": 9}}}, "seed cannot be a design variable"),
    ({"overrides": {"seed": 5}}, "key 'overrides.seed' = 5: each replicate's seed comes from master_seed"),
    ({"overrides": {"years": 5.0}}, "key 'overrides.years' = 5.0: the batch's years key"),
    ({"design": {"method": "latin"}, "uncertainties": {"levers.platform.commission": {"low": 0.1, "high": 0.2}}},
     "a policy lever, not an uncertainty; put it under [levers]"),
    ({"levers": {"economy.rent_multiplier": {"low": 1.0, "high": 2.0}}, "lever_design": {"method": "latin"}},
     "a lever is a key under 'levers.'"),
    ({"levers": {"levers.platform.enabled": {}}}, "key 'lever_design.method' = 'none'"),
    ({"levers": {"levers.platform.enabled": {}}, "lever_design": {"method": "sobol"}}, "key 'lever_design.method' = 'sobol'"),
    ({"outcomes": {"x": {"indicator": "basic_coverage_51"}}}, "outcomes.x.indicator' = 'basic_coverage_51': unknown"),
    ({"indicators": ["employment_rate"], "outcomes": {"x": {"indicator": "basic_coverage_15"}}}, "does not keep it"),
    ({"outcomes": {"x": {"indicator": "basic_coverage_15", "statistic": "time_to_target"}}}, "needs target"),
    ({"outcomes": {"x": {"indicator": "basic_coverage_15"}}, "levers": {"levers.platform.enabled": {}},
      "lever_design": {"method": "factorial"}, "robust": {"objectives": ["x"]}}, "has kind = 'info'"),
    ({"design": {"method": "explicit", "points": [{"economy.wage_multiplier": 1.0}]},
      "parameters": {"economy.rent_multiplier": {"low": 1.0, "high": 2.0}}}, "key 'design.points[0]' = {'economy.wage_multiplier': 1.0}: allowed: exactly the keys"),
])
def test_bad_batch_is_a_clear_error(changes, expected):
    with pytest.raises(ScenarioError) as err:
        batch_from_dict(base_dict(**changes), source="my_batch.toml")
    message = str(err.value)
    assert "my_batch.toml" in message
    assert expected in message


def test_bad_batch_file_on_the_command_line_exits_2(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('replications = 2\n[packages]\nbase = "missing.toml"\n', encoding="utf-8")
    proc = subprocess.run([*LIFECIRCLE, "batch", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "b.toml" in proc.stderr and "packages.base" in proc.stderr and "no such scenario file" in proc.stderr
    assert "Traceback" not in proc.stderr
    not_toml = tmp_path / "c.toml"
    not_toml.write_text("replications = = 2\n", encoding="utf-8")
    proc = subprocess.run([*LIFECIRCLE, "batch", str(not_toml), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr


def test_demo_batch_is_valid():
    spec = load_batch(REPO / "scenarios" / "batches" / "demo.toml")
    assert spec.baseline_package == "baseline" and len(spec.packages) >= 3
    load_batch(REPO / "scenarios" / "batches" / "sobol_demo.toml")


# ----------------------------------------------------------------------------- designs and seeds

def test_replicate_seeds_come_from_seedsequence_and_are_shared_by_packages():
    spec = batch_from_dict(base_dict(replications=4, packages={"baseline": str(BASELINE), "copy": str(BASELINE)}))
    expected = [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(spec.master_seed).spawn(4)]
    assert spec.replicate_seeds() == expected
    plans = plan_runs(spec, build_design(spec))
    assert len(plans) == 8 and len({p.run_id for p in plans}) == 8
    by_package = {pkg: [p.seed for p in plans if p.package == pkg] for pkg in spec.packages}
    assert by_package["baseline"] == by_package["copy"] == expected


@pytest.mark.parametrize("method, options, rows", [
    ("factorial", {"levels": 3}, 9),
    ("latin", {"samples": 5}, 5),
    ("sobol", {"samples": 8}, 8 * (2 + 2)),
    ("sobol", {"samples": 8, "second_order": True}, 8 * (2 * 2 + 2)),
    ("morris", {"samples": 3}, 3 * (2 + 1)),
])
def test_design_sizes_and_bounds(method, options, rows):
    params = {"economy.rent_multiplier": {"low": 0.5, "high": 2.0}, "population.residents": {"low": 200, "high": 400}}
    spec = batch_from_dict(base_dict(parameters=params, design={"method": method, **options}))
    design = build_design(spec)
    assert design.X.shape == (rows, 2)
    assert (design.X[:, 0] >= 0.5).all() and (design.X[:, 0] <= 2.0).all()
    point = design.point_values(0)
    assert isinstance(point["population.residents"], int)  # integer keys are rounded for the scenario
    assert np.array_equal(build_design(spec).X, design.X)  # deterministic


def test_factorial_explicit_values():
    params = {"economy.rent_multiplier": {"values": [1.0, 1.5]}, "economy.licence_days": {"values": [5, 30, 60]}}
    design = build_design(batch_from_dict(base_dict(parameters=params, design={"method": "factorial"})))
    assert design.X.shape == (6, 2)
    assert sorted({design.point_values(i)["economy.licence_days"] for i in range(6)}) == [5, 30, 60]


# ----------------------------------------------------------------------------- known answers

def test_paired_effects_known_answer():
    rows = []
    for rep, (base, pkg) in enumerate([(10.0, 11.0), (20.0, 21.5), (30.0, 32.0)]):
        rows += [{"package": "baseline", "point": 0, "replicate": rep, "indicator": "x", "value": base},
                 {"package": "policy", "point": 0, "replicate": rep, "indicator": "x", "value": pkg}]
    effects = paired_effects(pd.DataFrame(rows), "baseline")
    row = effects.iloc[0]
    half = stats.t.ppf(0.975, 2) * 0.5 / np.sqrt(3)  # differences 1, 1.5, 2: mean 1.5, sd 0.5
    assert row["n"] == 3 and row["mean_diff"] == pytest.approx(1.5) and row["sd_diff"] == pytest.approx(0.5)
    assert row["ci_low"] == pytest.approx(1.5 - half) and row["ci_high"] == pytest.approx(1.5 + half)
    assert row["relative_change"] == pytest.approx(1.5 / 20.0) and bool(row["significant"])
    # Unpaired, the same numbers would be hopelessly noisy; pairing is what makes the effect visible.
    assert row["ci_high"] - row["ci_low"] < 3.0


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_indices_of_ishigami_match_analytic_values():
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    X = sample(problem, "sobol", samples=2048, seed=1)
    table = indices(problem, "sobol", X, ishigami(X), seed=1).set_index("parameter")
    # Analytic values for a = 7, b = 0.1 (Ishigami & Homma 1990; Sobol' & Levitan 1999).
    assert table["S1"].to_numpy() == pytest.approx([0.3139, 0.4424, 0.0], abs=0.03)
    assert table["ST"].to_numpy() == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.03)


def test_morris_ranks_ishigami_parameters():
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    X = sample(problem, "morris", samples=50, morris_levels=4, seed=2)
    table = indices(problem, "morris", X, ishigami(X), morris_levels=4, seed=2).set_index("parameter")
    # x3 acts only through its interaction with x1: the least influential (Saltelli et al. 2004).
    assert table["mu_star"].idxmin() == "x3"
    assert table["mu_star"].idxmax() in ("x1", "x2")


# ----------------------------------------------------------------------------- store and runs

def test_batch_writes_tidy_runs_provenance_and_resumes(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=2)
    out = tmp_path / "out"
    summary = run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert (summary.done, summary.failed, summary.total) == (2, 0, 2)
    frame = pd.read_parquet(out / "runs")
    for column in ("run_id", "package", "point", "replicate", "seed", "scenario_hash", "lifecircle_version",
                   "day", "month", "indicator", "value"):
        assert column in frame.columns
    assert set(frame["indicator"]) == {"needs_met_share", "employment_rate", "merchants_open"}
    assert frame.groupby("run_id")["seed"].first().tolist() == load_batch(batch).replicate_seeds()
    for name in ("batch.toml", "batch.json", "design.parquet", "provenance.json", "manifest.jsonl"):
        assert (out / name).is_file(), name
    prov = json.loads((out / "provenance.json").read_text())["invocations"][0]
    assert set(prov["versions"]) >= {"lifecircle", "mesa", "numpy", "pandas", "dask", "SALib"}
    assert len(list((out / "scenarios").glob("baseline-*.toml"))) == 2
    # A hidden temp file in runs/ (what a killed worker leaves) does not disturb one-line reading.
    (out / "runs" / ".baseline-p0000-r09.parquet.x.tmp").write_bytes(b"partial")
    assert len(pd.read_parquet(out / "runs")) == len(frame)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    again = run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert (again.skipped, again.done) == (2, 0)
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")} == mtimes
    assert not list((out / "runs").glob(".*"))  # stale temp files are removed on resume


def test_runs_of_a_seed_share_one_warm_up_across_workers(tmp_path):
    folder = tmp_path / "b"
    write_batch(folder, replications=2)
    for name, lever in (("lockers", "lockers"), ("platform", "platform")):
        write_package(folder, name, f"[levers.{lever}]\nenabled = true")
    batch = write_batch(folder, replications=2, extra_packages='lockers = "lockers.toml"\nplatform = "platform.toml"')
    out = tmp_path / "out"
    summary = run_batch(load_batch(batch), out, workers=2, progress=False)
    assert (summary.done, summary.failed) == (6, 0)
    sources = [e["warmup"] for e in read_manifest(out) if e.get("status") == "done"]
    # 3 packages x 2 seeds: each seed's settled start is computed once and loaded by the other runs.
    assert sorted(sources) == ["checkpoint"] * 4 + ["computed"] * 2
    assert len(list((out / "checkpoints").glob("*.npz"))) == 2
    plain = run_batch(load_batch(batch), tmp_path / "plain", workers=1, progress=False, checkpoints=False)
    assert plain.done == 6
    assert {e["warmup"] for e in read_manifest(tmp_path / "plain") if e.get("status") == "done"} == {"computed"}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs").sort_values(["run_id", "day", "indicator"]).reset_index(drop=True),
                                  pd.read_parquet(tmp_path / "plain" / "runs").sort_values(["run_id", "day", "indicator"]).reset_index(drop=True))


def test_batches_given_one_checkpoint_folder_share_their_warm_ups(tmp_path, capsys):
    from sim.cli import main

    batch = write_batch(tmp_path / "b", replications=2)
    shared = tmp_path / "shared warm-ups"  # not there yet: made by the first batch
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert main(["batch", str(batch), "--out", str(out), "--workers", "1", "--quiet",
                     "--checkpoint-dir", str(shared)]) == 0
        assert not (out / "checkpoints").exists()
    assert len(list(shared.glob("*.npz"))) == 2  # one settled start per seed, kept in the shared folder
    # The first batch warmed each seed up; the second, another folder, started both runs from them.
    assert sorted(e["warmup"] for e in read_manifest(first) if e.get("status") == "done") == ["computed"] * 2
    assert sorted(e["warmup"] for e in read_manifest(second) if e.get("status") == "done") == ["checkpoint"] * 2
    key = ["run_id", "day", "indicator"]
    pd.testing.assert_frame_equal(pd.read_parquet(first / "runs").sort_values(key).reset_index(drop=True),
                                  pd.read_parquet(second / "runs").sort_values(key).reset_index(drop=True))
    capsys.readouterr()
    # Bad input: exit 2 with the option, the value and what is allowed; nothing run.
    assert main(["batch", str(batch), "--out", str(tmp_path / "x"), "--no-checkpoints",
                 "--checkpoint-dir", str(shared)]) == 2
    assert "--checkpoint-dir" in capsys.readouterr().err
    a_file = tmp_path / "a file"
    a_file.write_text("", encoding="utf-8")
    assert main(["batch", str(batch), "--out", str(tmp_path / "y"), "--checkpoint-dir", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert str(a_file) in err and "allowed: a folder" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_resume_refuses_a_different_batch(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    changed = write_batch(tmp_path / "c", replications=2)
    with pytest.raises(ScenarioError, match="different batch"):
        run_batch(load_batch(changed), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)


def test_a_run_that_raises_is_recorded_failed_and_the_others_complete(tmp_path, monkeypatch, capsys):
    import sim.run
    from sim.cli import main

    folder = tmp_path / "b"
    folder.mkdir()
    write_package(folder, "broken", "[levers.lockers]\nenabled = true")  # not a twin of the baseline
    batch = write_batch(folder, replications=2, extra_packages='broken = "broken.toml"')
    real = sim.run.run_scenario

    def failing(scenario, **kwargs):  # a run-time failure (every input checks out up front)
        if scenario.name == "broken":
            raise RuntimeError("the model broke down in month 2")
        return real(scenario, **kwargs)

    monkeypatch.setattr(sim.run, "run_scenario", failing)
    out = tmp_path / "out"
    assert main(["batch", str(batch), "--out", str(out), "--workers", "1", "--quiet"]) == 1
    status = run_status(out)
    assert {k: v["status"] for k, v in status.items()} == {
        "baseline-p0000-r00": "done", "baseline-p0000-r01": "done",
        "broken-p0000-r00": "failed", "broken-p0000-r01": "failed"}
    assert "month 2" in status["broken-p0000-r00"]["error"]
    assert "failed broken-p0000-r00" in capsys.readouterr().out
    assert sorted(pd.read_parquet(out / "runs")["package"].unique()) == ["baseline"]


def test_a_package_with_a_missing_catalogue_is_refused_before_any_run(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    write_package(folder, "broken", '[economy]\ncatalogue = "no_such_catalogue.toml"')
    batch = write_batch(folder, replications=2, extra_packages='broken = "broken.toml"')
    proc = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--out", str(tmp_path / "out"), "--workers", "1",
                           "--quiet"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "package 'broken'" in proc.stderr and "no_such_catalogue.toml" in proc.stderr
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.slow
def test_serial_processes_and_dask_give_identical_results(tmp_path):
    from distributed import Client, LocalCluster

    batch = write_batch(tmp_path / "b", replications=2, extra='\n[parameters."economy.rent_multiplier"]\n'
                        'low = 0.8\nhigh = 1.5\n\n[design]\nmethod = "latin"\nsamples = 2\n')
    spec = load_batch(batch)
    run_batch(spec, tmp_path / "serial", workers=1, progress=False)
    run_batch(spec, tmp_path / "procs", workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        summary = run_batch(spec, tmp_path / "dask", client=client, progress=False)
    assert summary.done == 4 and summary.failed == 0
    serial = read_sorted(tmp_path / "serial")
    assert len(serial["run_id"].unique()) == 4
    assert serial["economy.rent_multiplier"].nunique() == 2
    pd.testing.assert_frame_equal(serial, read_sorted(tmp_path / "procs"))
    pd.testing.assert_frame_equal(serial, read_sorted(tmp_path / "dask"))


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_batch(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=8, extra_packages=f'copy = "{BASELINE.as_posix()}"')
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*LIFECIRCLE, "batch", str(batch), "--out", str(killed), "--workers", "2", "--quiet"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((killed / "runs").glob("*.parquet"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers, mid-batch
    proc.wait()
    done_before = len(list((killed / "runs").glob("*.parquet")))
    assert 3 <= done_before < 16, "the kill should land part-way through the batch"

    resumed = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--out", str(killed), "--workers", "2", "--quiet"],
                             cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done_before} already done" in resumed.stdout or "already done" in resumed.stdout

    clean = tmp_path / "clean"
    run_batch(load_batch(batch), clean, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    names = sorted(p.name for p in (killed / "runs").iterdir())
    assert names == sorted(p.name for p in (clean / "runs").iterdir())  # no partial or stray file
    assert len(names) == 16
    frame = read_sorted(killed)
    assert not frame.duplicated(["run_id", "day", "indicator"]).any()
    pd.testing.assert_frame_equal(frame, read_sorted(clean))
    done = [e["run_id"] for e in read_manifest(killed) if e.get("status") == "done"]
    assert sorted(set(done)) == sorted(n.removesuffix(".parquet") for n in names)


@pytest.mark.slow
def test_compare_and_sensitivity_commands(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    write_package(folder, "platform", "[levers.platform]\nenabled = true")
    batch = write_batch(folder, replications=2, extra_packages='platform = "platform.toml"',
                        extra='\n[parameters."economy.rent_multiplier"]\nlow = 0.5\nhigh = 2.0\n\n'
                              '[design]\nmethod = "morris"\nsamples = 2\n')
    out = tmp_path / "out"
    assert run_batch(load_batch(batch), out, workers=1, progress=False).failed == 0
    proc = subprocess.run([*LIFECIRCLE, "compare", str(out), "--last-months", "1"], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "platform" in proc.stdout and "needs_met_share" in proc.stdout
    effects = pd.read_csv(out / "compare.csv")
    assert set(effects["package"]) == {"platform"} and (effects["n"] == 8).all()  # 2 trajectories x 2 points x 2 replicates
    assert (out / "compare.png").stat().st_size > 0
    proc = subprocess.run([*LIFECIRCLE, "sensitivity", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table["parameter"]) == {"economy.rent_multiplier"} and "mu_star" in table.columns
    assert (out / "sensitivity.png").stat().st_size > 0


def test_compare_gives_effects_during_and_after_support_and_what_persists(tmp_path, batch_checkpoints):
    folder = tmp_path / "b"
    folder.mkdir()
    write_package(folder, "lockers", "[levers.lockers]\nenabled = true\nend_month = 2")
    write_package(folder, "platform", "[levers.platform]\nenabled = true\nend_month = 2")
    batch = write_batch(folder, replications=3, extra_packages='lockers = "lockers.toml"\nplatform = "platform.toml"')
    batch.write_text(batch.read_text().replace("years = 0.25", "years = 0.34"))
    out = tmp_path / "out"
    assert run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints).failed == 0
    proc = subprocess.run([*LIFECIRCLE, "compare", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "What persists after support ends" in proc.stdout
    periods = pd.read_csv(out / "compare_periods.csv")
    assert {"during support", "after support", "end"} <= set(periods["period"])
    assert (periods["n"] == 3).all()
    shares = pd.read_csv(out / "compare_persistence.csv").set_index(["package", "indicator"])
    assert set(shares.index.get_level_values("package")) == {"lockers", "platform"}


def test_paired_effects_report_cost_effectiveness():
    from sim.batch.compare import paired_effects

    rows = []
    for rep in range(3):
        for package, coverage, spend in (("baseline", 0.5 + rep * 0.01, 0.0), ("lockers", 0.6 + rep * 0.01, 2e6)):
            rows += [{"package": package, "point": 0, "replicate": rep, "indicator": "basic_coverage_15", "value": coverage},
                     {"package": package, "point": 0, "replicate": rep, "indicator": "public_spending", "value": spend}]
    effects = paired_effects(pd.DataFrame(rows), "baseline").set_index("indicator")
    assert effects.loc["basic_coverage_15", "mean_diff"] == pytest.approx(0.1)
    # 0.1 of coverage for 2 million CNY: 0.05 per million
    assert effects.loc["basic_coverage_15", "per_million_cny"] == pytest.approx(0.05)
