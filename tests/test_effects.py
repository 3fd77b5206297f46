"""Effects against the counterfactual: periods of a lever timeline, paired differences, intervals and
the persistence share, on hand-made frames whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.metrics.effects import Period, paired_differences, period_means, periods, persistence, summarise
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS


def _levers(**updates):
    return load_scenario(SCENARIOS / "baseline.toml", updates=updates).levers


def test_periods_follow_the_lever_timeline():
    levers = _levers(**{"levers.platform.enabled": True, "levers.platform.start_month": 2,
                        "levers.platform.end_month": 30})
    spans = {p.name: (p.first, p.last) for p in periods(levers, 48, last_months=6)}
    assert spans == {"year 1": (0, 11), "year 3": (24, 35), "during support": (2, 29),
                     "after support": (30, 47), "end": (42, 47)}
    # A lever that never ends: support lasts to the end, no 'after'; a short run has no year 3.
    spans = {p.name: (p.first, p.last) for p in periods(_levers(**{"levers.lockers.enabled": True}), 12)}
    assert spans == {"year 1": (0, 11), "during support": (0, 11), "end": (0, 11)}
    # Every lever off: no support periods at all.
    assert [p.name for p in periods(_levers(), 12)] == ["year 1", "end"]


def test_a_period_reads_the_collections_that_cover_its_months():
    # The value labelled month m covers month m - 1.
    months = pd.Series(range(0, 8))
    assert Period("p", 2, 4).collections(months).tolist() == [False, False, False, True, True, True, False, False]


def _arms(during: float, after: float, noise: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two arms over 6 months and len(noise) seeds: the policy arm is the baseline plus ``during``
    in months 0-2 and ``after`` in months 3-5, plus a per-seed ``noise``."""
    rows_p, rows_b = [], []
    for seed, eps in enumerate(noise):
        for month in range(1, 7):
            base = 100.0 + seed + month
            lift = during if month <= 3 else after
            rows_b.append((seed, month, "x", base))
            rows_p.append((seed, month, "x", base + lift + eps))
    cols = ["seed", "month", "indicator", "value"]
    return pd.DataFrame(rows_p, columns=cols), pd.DataFrame(rows_b, columns=cols)


def test_paired_effects_and_intervals_are_the_student_t_ones():
    noise = np.array([0.5, -0.2, 0.1, -0.4, 0.3])
    policy, baseline = _arms(10.0, 2.0, noise)
    spans = [Period("during support", 0, 2), Period("after support", 3, 5)]
    pairs = paired_differences(period_means(policy, ["seed"], spans), period_means(baseline, ["seed"], spans), ["seed"])
    table = summarise(pairs).set_index("period")
    diffs = 10.0 + noise
    half = stats.t.ppf(0.975, 4) * diffs.std(ddof=1) / np.sqrt(5)
    row = table.loc["during support"]
    assert row["n"] == 5 and row["effect"] == pytest.approx(diffs.mean())
    assert row["ci_low"] == pytest.approx(diffs.mean() - half) and row["ci_high"] == pytest.approx(diffs.mean() + half)
    assert row["significant"]
    assert table.loc["after support", "effect"] == pytest.approx(2.0 + noise.mean())
    assert row["baseline_mean"] == pytest.approx(np.mean([100 + s + 2 for s in range(5)]))


def test_persistence_share_is_the_ratio_of_mean_effects_with_a_bootstrap_interval():
    policy, baseline = _arms(10.0, 2.0, np.zeros(6))
    spans = [Period("during support", 0, 2), Period("after support", 3, 5)]
    pairs = paired_differences(period_means(policy, ["seed"], spans), period_means(baseline, ["seed"], spans), ["seed"])
    row = persistence(pairs, pair_on=["seed"]).set_index("indicator").loc["x"]
    assert row["share"] == pytest.approx(0.2)
    assert row["share_low"] == pytest.approx(0.2) and row["share_high"] == pytest.approx(0.2)  # no spread
    # With noise the interval widens around the share, and the share is mean(after) / mean(during).
    rng = np.random.default_rng(3)
    policy, baseline = _arms(10.0, 2.0, rng.normal(0, 1.0, 12))
    pairs = paired_differences(period_means(policy, ["seed"], spans), period_means(baseline, ["seed"], spans), ["seed"])
    row = persistence(pairs, pair_on=["seed"]).set_index("indicator").loc["x"]
    wide = pairs.pivot_table(index="seed", columns="period", values="difference")
    assert row["share"] == pytest.approx(wide["after support"].mean() / wide["during support"].mean())
    assert row["share_low"] < row["share"] < row["share_high"]


def test_the_means_beside_an_effect_are_over_the_pairs_it_is_over():
    """A seed whose policy value is missing (an indicator undefined that month) drops out of the
    effect; its baseline value must drop out of baseline_mean too, so effect = policy_mean -
    baseline_mean and n counts the same pairs."""
    spans = [Period("during support", 0, 2)]
    policy, baseline = _arms(10.0, 2.0, np.zeros(4))
    policy.loc[policy["seed"] == 3, "value"] = np.nan
    baseline.loc[baseline["seed"] == 3, "value"] += 1000.0  # would pull baseline_mean if counted
    pairs = paired_differences(period_means(policy, ["seed"], spans), period_means(baseline, ["seed"], spans), ["seed"])
    row = summarise(pairs).set_index("period").loc["during support"]
    assert row["n"] == 3
    assert row["effect"] == pytest.approx(row["policy_mean"] - row["baseline_mean"])
    assert row["baseline_mean"] == pytest.approx(np.mean([100 + s + 2 for s in range(3)]))


def test_a_running_total_s_period_value_is_what_it_added_per_month():
    """public_spending is a running total: spending 300 a month in months 0-2 and nothing after
    reads 300, 600, 900, 900, 900, 900. Its period values are what it added per month (300 during
    support, 0 after), so nothing persists; a mean of the running total gave 600 and 900 -- a share
    of 150 % for spending that stopped. A rate indicator beside it keeps its mean."""
    spans = [Period("during support", 0, 2), Period("after support", 3, 5), Period("end", 4, 5)]
    total = [300.0, 600.0, 900.0, 900.0, 900.0, 900.0]
    rows = [(seed, m + 1, name, v + seed) for seed in range(3) for m, v in enumerate(total)
            for name in ("public_spending", "public_spending_by_lever.lockers", "rate")]
    frame = pd.DataFrame(rows, columns=["seed", "month", "indicator", "value"])
    values = period_means(frame, ["seed"], spans).set_index(["seed", "period", "indicator"])["value"]
    for name in ("public_spending", "public_spending_by_lever.lockers"):
        assert values[(0, "during support", name)] == 300.0
        assert values[(0, "after support", name)] == 0.0 and values[(0, "end", name)] == 0.0
        assert values[(2, "during support", name)] == 300.0 + 2 / 3  # the total before month 0 is 0
    assert values[(0, "during support", "rate")] == 600.0 and values[(0, "after support", "rate")] == 900.0
    zero = frame.assign(value=frame["value"] * 0 + frame["seed"])  # the counterfactual: nothing spent
    pairs = paired_differences(period_means(frame, ["seed"], spans), period_means(zero, ["seed"], spans), ["seed"])
    share = persistence(pairs, pair_on=["seed"]).set_index("indicator").loc["public_spending", "share"]
    assert share == 0.0


def test_a_groups_persistence_interval_does_not_depend_on_the_other_groups():
    """Each (lever, indicator)'s bootstrap draws from a generator of its own: its interval is the
    same summarised alone or after other groups (with one generator for all, a lever's interval
    moved when an earlier lever's data changed)."""
    spans = [Period("during support", 0, 2), Period("after support", 3, 5)]
    frames = []
    for lever, noise_seed in (("a", 3), ("b", 4)):
        policy, baseline = _arms(10.0, 2.0, np.random.default_rng(noise_seed).normal(0, 1.0, 12))
        pairs = paired_differences(period_means(policy, ["seed"], spans), period_means(baseline, ["seed"], spans),
                                   ["seed"])
        frames.append(pairs.assign(lever=lever))
    both = persistence(pd.concat(frames), by=["lever"], pair_on=["seed"]).set_index("lever")
    alone = persistence(frames[1], by=["lever"], pair_on=["seed"]).set_index("lever")
    assert np.isfinite(both.loc["b", "share_low"])
    assert (both.loc["b", "share_low"], both.loc["b", "share_high"]) == (alone.loc["b", "share_low"],
                                                                          alone.loc["b", "share_high"])


def test_an_arm_measured_only_during_support_has_the_effects_of_a_full_length_arm(tmp_path):
    """``measure(years=...)``: a lever's arm cut at the end of its support gives, in the periods it
    reaches, the very effects the full-length arm gives (a run's months do not depend on how long it
    runs), and none after; the other arms are unchanged."""
    from tests.conftest import small_scenario
    from sim.metrics.lever_effects import measure

    base = small_scenario(years=0.5)  # six months; the levers withdrawn at month 3
    levers, seeds = ["smart_stores", "renovation"], [1, 2]
    full, _, full_runs = measure(base, levers, seeds, end_month=3, checkpoints=tmp_path, workers=1)
    short, _, short_runs = measure(base, levers, seeds, end_month=3, checkpoints=tmp_path, workers=1,
                                   years={"smart_stores": 0.25})
    cut = short_runs[short_runs["arm"] == "smart_stores"]
    last = cut["month"].max()  # the collection at the end of its third month
    assert last < full_runs["month"].max()
    whole = full_runs[(full_runs["arm"] == "smart_stores") & (full_runs["month"] <= last)]
    pd.testing.assert_frame_equal(cut.reset_index(drop=True), whole.reset_index(drop=True))
    key = ["lever", "period", "indicator"]
    assert set(short[short["lever"] == "smart_stores"]["period"]) == {"during support"}
    assert {"during support", "after support"} <= set(full[full["lever"] == "smart_stores"]["period"])
    mine = short.set_index(key).sort_index()
    theirs = full.set_index(key).loc[mine.index]
    pd.testing.assert_frame_equal(mine, theirs)
    with pytest.raises(ValueError, match="years\\['smart_stores'\\] = 1.0"):
        measure(base, levers, seeds, end_month=3, checkpoints=tmp_path, workers=1, years={"smart_stores": 1.0})


def test_a_measurement_summarises_only_the_rows_of_its_own_runs(tmp_path):
    """``plan``: run elsewhere (here in order, by hand), the tasks' rows give what ``measure`` gives
    on two local worker processes; rows missing a task, given twice, or of another measurement are
    refused, not mixed in."""
    from tests.conftest import small_scenario
    from sim.metrics.lever_effects import measure, plan, run

    base = small_scenario(years=0.25)
    measurement = plan(base, ["platform"], [1, 2], end_month=None, checkpoints=tmp_path)
    frames = [run(task) for task in measurement.tasks]
    effects, _, _ = measurement.summarise(frames)
    expected, _, _ = measure(base, ["platform"], [1, 2], end_month=None, checkpoints=tmp_path, workers=2)
    pd.testing.assert_frame_equal(effects, expected)
    other = plan(base, ["platform"], [1, 3], end_month=None, checkpoints=tmp_path)
    for wrong in (frames[:-1], frames + frames[-1:], frames[:-1] + [run(other.tasks[-1])]):
        with pytest.raises(ValueError, match="not those of this measurement's runs"):
            measurement.summarise(wrong)


def test_each_replicate_seed_runs_on_its_own_grid_and_leaves_its_own_settled_start(tmp_path):
    # A grid city is drawn from the seed's stream: the counterfactual of replicate seed s is the run
    # seed s gives on its own, and the settled start it saves is the one that run would save.
    from sim.io.checkpoint import CheckpointStore
    from sim.model import LifeCircleModel
    from sim.run import run_scenario
    from tests.conftest import small_scenario

    scenario = small_scenario(**{"warmup_years": 0.25, "years": 0.25, "population.residents": 800,
                                 "levers.smart_stores.enabled": True})
    store = CheckpointStore(tmp_path / "store")
    result = run_scenario(scenario, replicates=2, checkpoints=store, keep_model=False)
    other = result.paired.seeds[1]
    baseline = result.paired.baseline
    alone = LifeCircleModel(scenario=scenario.with_updates({"levers.smart_stores.enabled": False}), seed=other,
                            create_agents=False, checkpoints=False)
    alone.run_for(alone.days_total)
    ts = alone.timeseries()
    ours = baseline[baseline["seed"] == other].drop(columns="seed").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours[ts.columns], ts)
    loaded = LifeCircleModel(scenario=scenario, seed=other, create_agents=False, checkpoints=store)
    assert loaded.warmup_source == "checkpoint"
    assert np.array_equal(loaded.commercial, alone.commercial)
