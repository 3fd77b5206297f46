"""The EMA Workbench adapter: a lifecircle batch read back as (experiments, outcomes) equals what the
Workbench's own evaluator gets from the same model, seeds and samples (round trip); PRIM finds a
planted box; time-resolved statistics by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.batch import load_batch, run_batch
from sim.batch.ema import ema_name, load_experiments, workbench, workbench_model
from sim.batch.statistics import statistic
from tests.test_batch import write_batch

EXPERIMENT = """
[uncertainties."economy.rent_multiplier"]
values = [0.8, 1.3]

[design]
method = "factorial"

[levers."levers.lockers.enabled"]

[levers."levers.lockers.lockers_per_km2"]
values = [5.0, 40.0]

[lever_design]
method = "factorial"

[outcomes.needs_met]
indicator = "needs_met_share"
statistic = "mean"
kind = "maximize"

[outcomes.merchants_gain]
indicator = "merchants_open"
statistic = "end"
last_months = 1
effect = true

[outcomes.needs_time]
indicator = "needs_met_share"
statistic = "time_to_target"
target = 0.5
"""


def experiment_batch(folder):
    return write_batch(folder, replications=2, extra=EXPERIMENT)


def test_statistics_by_hand():
    values = np.array([0.80, 0.85, 0.91, 0.89, 0.93])
    assert statistic(values, "end", last_months=2) == pytest.approx(0.91)
    assert statistic(values, "mean") == pytest.approx(0.876)
    assert statistic(values, "cumulative") == pytest.approx(4.38)
    assert statistic(values, "time_to_target", target=0.9) == 2.0       # first reached in the window's 3rd month
    assert statistic(values, "time_to_target", target=0.99) == 5.0      # never: censored at the window's length
    assert statistic(values, "time_to_target", target=0.82, reach="below") == 0.0
    assert np.isnan(statistic(np.array([]), "mean"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_batch_read_back_equals_the_workbench_running_the_same_experiments(tmp_path, batch_checkpoints,
                                                                           monkeypatch):
    """Round trip: `lifecircle batch` (store, checkpoints, paired seeds) then load_experiments, against
    the Workbench's SequentialEvaluator calling the model function for the same samples and seeds."""
    ema = workbench()
    spec = load_batch(experiment_batch(tmp_path / "b"))
    out = tmp_path / "out"
    summary = run_batch(spec, out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert summary.failed == 0
    experiments, outcomes = load_experiments(out)
    # 1 baseline + 4 mixes, at 2 points; mixes 0 and 1 (platform off) are twins of the baseline
    assert len(experiments) == 10
    assert list(experiments.columns) == ["economy__rent_multiplier", "levers__lockers__enabled",
                                         "levers__lockers__lockers_per_km2", "scenario", "policy", "model"]
    assert set(outcomes) >= {"needs_met", "merchants_gain", "needs_time", "TIME", "needs_met_share", "merchants_open"}
    assert outcomes["needs_met_share"].shape == (10, 3) and outcomes["TIME"].shape == (10, 3)
    base = experiments["policy"] == "baseline"
    assert np.allclose(outcomes["merchants_gain"][base], 0.0)  # the baseline's effect on itself

    # Each Workbench experiment runs its mix and, for the effect outcome, the baseline at its point and
    # seed: the same baseline run for every mix (4 of them). Each distinct run is simulated once here
    # (a run depends only on its scenario and seed: test_model); the function is still called for every
    # experiment, each run still warms up on its own (workbench_model's default, checkpoints=False).
    import sim.run

    simulate, seen = sim.run.run_scenario, {}

    def run_once(scenario, **options):
        key = (scenario.model_dump_json(), repr(sorted(options.items())))
        if key not in seen:
            seen[key] = simulate(scenario, **options)
        return seen[key]

    monkeypatch.setattr(sim.run, "run_scenario", run_once)
    model = workbench_model(spec)
    mixes = spec.lever_design_cached()
    policies = [ema.Sample(name, **{ema_name(k): v for k, v in mixes.point_values(i).items()})
                for i, name in enumerate(spec.mix_names())]
    points = [ema.Sample(f"p{i}", **{"economy__rent_multiplier": v}) for i, v in enumerate([0.8, 1.3])]
    theirs_exp, theirs = ema.perform_experiments(model, scenarios=points, policies=policies,
                                                 evaluator=ema.SequentialEvaluator(model))
    for i, row in theirs_exp.iterrows():
        mix, point = row["policy"], int(row["scenario"][1:])
        mine = np.flatnonzero((experiments["policy"] == mix).to_numpy() & (experiments["scenario"] == point).to_numpy())
        assert len(mine) == 1
        for name in ("needs_met", "merchants_gain", "needs_time"):
            assert np.mean(theirs[name][i]) == pytest.approx(outcomes[name][mine[0]], abs=1e-12), (mix, point, name)


def test_prim_finds_a_planted_box():
    """Known answer: y = 1 exactly where rent < 0.9 and the platform is on; PRIM's box is that box."""
    ema = workbench()
    from ema_workbench.analysis import prim

    rng = np.random.default_rng(3)
    n = 600
    x = pd.DataFrame({"economy__rent_multiplier": rng.uniform(0.5, 1.5, n),
                      "levers__platform__commission": rng.uniform(0.05, 0.25, n),
                      "levers__platform__enabled": rng.integers(0, 2, n).astype(bool)})
    y = ((x["economy__rent_multiplier"] < 0.9) & x["levers__platform__enabled"]).to_numpy()
    from sim.batch.discover import find_box

    box = find_box(x, y, threshold=0.9)
    assert box.coverage >= 0.95 and box.density >= 0.95
    limits = box.limits
    assert set(limits.index) == {"economy__rent_multiplier", "levers__platform__enabled"}
    # PRIM peels 5 % of the points at a time, so the edge it finds is within a peel of the planted one
    assert limits.loc["economy__rent_multiplier", "max"] == pytest.approx(0.9, abs=0.04)
    assert limits.loc["economy__rent_multiplier", "min"] == pytest.approx(x["economy__rent_multiplier"].min())
    assert limits.loc["levers__platform__enabled", "values"] == "True"
    del ema, prim


def test_the_robust_search_scores_each_mix_on_its_own_experiments():
    """Known answer on a toy model: the objective is the lever itself (plus the uncertainty), so the
    Pareto set of "maximise x" is the largest x the search met. The Workbench 3.0.0 scores every
    candidate of a generation with the outcomes of all of them (all equal); the mix-in scores each
    on its own experiments."""
    ema = workbench()
    from ema_workbench.em_framework.evaluators import SequentialEvaluator, robust_optimize
    from platypus import EpsNSGAII

    from sim.batch.ema import PerPolicyRobustness

    model = ema.Model("toy", function=lambda x=0.0, u=0.0: {"y": x + u})
    model.levers = [ema.RealParameter("x", 0.0, 1.0)]
    model.uncertainties = [ema.RealParameter("u", 0.0, 0.1)]
    model.outcomes = [ema.ScalarOutcome("y")]
    scenarios = [ema.Sample(f"s{i}", u=u) for i, u in enumerate([0.0, 0.05, 0.1])]
    objectives = [ema.ScalarOutcome("y_mean", kind=ema.ScalarOutcome.MAXIMIZE, variable_name="y", function=np.mean)]

    class Fixed(PerPolicyRobustness, SequentialEvaluator):
        pass

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pareto, _ = robust_optimize(model, objectives, scenarios, evaluator=Fixed(model), algorithm=EpsNSGAII,
                                    nfe=40, epsilons=[0.001], population_size=8, rng=5, directory=tmp,
                                    filename="a.tar")
    # each mix's score is its own x plus the mean uncertainty 0.05
    assert np.allclose(pareto["y_mean"], pareto["x"] + 0.05)
    assert len(pareto) == 1 and pareto["x"].iloc[0] > 0.8
