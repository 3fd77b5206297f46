"""The research commands on a small experiment: compare --by point (Bonferroni stated), discover
(PRIM box, feature scores, figures with display names), robust (a Pareto set through lifecircle
batches), sensitivity's S2 and its warnings on unstable indices."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from sim.batch import load_batch, run_batch
from sim.batch.sensitivity import indices, stability_warnings
from tests.test_batch import LIFECIRCLE, REPO
from tests.test_ema import EXPERIMENT, experiment_batch

ROBUST = """
[robust]
objectives = ["needs_met", "merchants_gain"]
robustness = "mean"
nfe = 8
population = 4
replications = 1
seed = 3
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, batch_checkpoints):
    folder = tmp_path_factory.mktemp("experiment")
    batch = experiment_batch(folder / "b")
    out = folder / "out"
    assert run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints).failed == 0
    return batch, out


@pytest.mark.slow
def test_compare_by_point_gives_each_point_its_effect_with_the_correction_stated(experiment):
    _, out = experiment
    proc = subprocess.run([*LIFECIRCLE, "compare", str(out), "--by", "point"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Bonferroni" in proc.stdout and "family-wise" in proc.stdout
    table = pd.read_csv(out / "compare_points.csv")
    assert set(table["point"]) == {0, 1} and "economy.rent_multiplier" in table.columns
    m = int(proc.stdout.split("Multiple comparisons: ")[1].split()[0])
    assert m == int((table["n"] > 1).sum())
    # each interval is the t interval at 1 - 0.05/m over the point's 2 replicates
    from scipy import stats

    row = table[(table["n"] == 2) & (table["sd"] > 0)].iloc[0]
    half = stats.t.ppf(1 - 0.05 / m / 2, 1) * row["sd"] / np.sqrt(2)
    assert row["ci_high"] - row["effect"] == pytest.approx(half, rel=1e-6)


@pytest.mark.slow
def test_discover_finds_a_box_and_writes_figures_with_display_names(experiment):
    _, out = experiment
    from sim.batch.ema import load_experiments

    _, outcomes = load_experiments(out)
    threshold = float(np.median(outcomes["needs_met"]))
    proc = subprocess.run([*LIFECIRCLE, "discover", str(out), "--outcome", "needs_met", "--threshold",
                           str(threshold)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "coverage" in proc.stdout and "density" in proc.stdout
    assert "Needs met (share)" in proc.stdout and "economy__rent" not in proc.stdout  # display names
    folder = out / "discover"
    for name in ("prim_needs_met.csv", "feature_scores.csv", "prim_needs_met_tradeoff.png", "prim_needs_met_box.png",
                 "feature_scores.png", "envelopes.png", "pairs.png"):
        assert (folder / name).is_file(), name
    box = pd.read_csv(folder / "prim_needs_met.csv")
    assert "label" in box.columns
    bad = subprocess.run([*LIFECIRCLE, "discover", str(out), "--outcome", "needs_mett", "--threshold", "0.5"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "not an outcome of this batch" in bad.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_robust_search_writes_a_pareto_set_through_lifecircle_batches(tmp_path):
    batch = experiment_batch(tmp_path / "b")
    batch.write_text(batch.read_text().replace('[outcomes.merchants_gain]', '[outcomes.merchants_gain]\nkind = "maximize"')
                     + ROBUST)
    out = tmp_path / "search"
    proc = subprocess.run([*LIFECIRCLE, "robust", str(batch), "--out", str(out), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    pareto = pd.read_csv(out / "pareto.csv")
    assert len(pareto) >= 1
    assert {"levers.lockers.enabled", "levers.lockers.lockers_per_km2", "needs_met_mean", "merchants_gain_mean"} <= set(pareto.columns)
    # every generation is a lifecircle batch in the store, sharing one checkpoint folder
    generations = sorted((out / "search").glob("generation-*"))
    assert len(generations) == 2 and all((g / "manifest.jsonl").is_file() for g in generations)
    assert any((out / "checkpoints").glob("*.npz")) and not any((g / "checkpoints").exists() for g in generations)
    # a mix's score is the mean of its own runs over the scenarios: check one against its generation
    from sim.batch.ema import load_experiments

    exps, outs = load_experiments(generations[0], series=False)
    mix = exps[exps["policy"] != "baseline"]
    means = pd.Series(outs["needs_met"][mix.index]).groupby(mix["policy"].astype(str).to_numpy()).mean()
    assert means.nunique() > 1  # mixes are told apart
    # rerunning resumes: every run is found done
    again = subprocess.run([*LIFECIRCLE, "robust", str(batch), "--out", str(out), "--workers", "1", "--quiet"],
                           capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0
    assert pd.read_csv(out / "pareto.csv").equals(pareto)


def test_second_order_indices_are_given_and_unstable_ones_warned():
    from SALib.sample import sobol

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    X = sobol.sample(problem, 16, calc_second_order=True, seed=1)
    Y = np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])
    table = indices(problem, "sobol", X, Y, second_order=True)
    s2 = table.attrs["S2"]
    assert list(s2.columns) == ["parameter", "other", "S2", "S2_conf"] and len(s2) == 3
    table.insert(0, "indicator", "y")
    s2.insert(0, "indicator", "y")
    notes = stability_warnings(table, "sobol", 16, s2=s2)
    assert any("wide interval" in n for n in notes)
    advice = [n for n in notes if n.startswith("to narrow every interval")]
    assert advice and "samples = " in advice[0] and "(now 16)" in advice[0]
    need = int(advice[0].split("samples = ")[1].split()[0])
    assert need > 16 and need & (need - 1) == 0  # a power of two, as Sobol' sampling needs
    # an index outside [-0.05, 1.05] is called noise
    odd = pd.DataFrame({"indicator": ["y"], "parameter": ["x1"], "S1": [1.10], "S1_conf": [0.01], "ST": [0.9],
                        "ST_conf": [0.01]})
    assert any("outside [-0.05, 1.05]" in n for n in stability_warnings(odd, "sobol", 1024))
    steady = pd.DataFrame({"indicator": ["y"], "parameter": ["x1"], "S1": [0.3], "S1_conf": [0.02], "ST": [0.4],
                           "ST_conf": [0.03]})
    assert stability_warnings(steady, "sobol", 1024) == []
