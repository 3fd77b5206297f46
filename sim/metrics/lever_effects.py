"""Each lever's effect at its shipped default settings, against the counterfactual.

:func:`measure` runs, for every seed, the baseline (every lever off) and each lever alone with its
scenario defaults, switched on at month 0 (the first month after the warm-up) and withdrawn at
``end_month``, all from the seed's settled start; :mod:`sim.metrics.effects` turns the pairs into effects
per period (year 1, year 3, during support, after support) with intervals over seeds.
``benchmarks/lever_effects.py`` writes the result to ``docs/lever_effects.md``; the lever tests
check the claimed directions (:attr:`sim.levers.base.Lever.claims`) with the same function on a
smaller district.

The runs are spread over local worker processes; each seed's warm-up is computed once, first, and
every arm of that seed starts from its checkpoint.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from sim.metrics.effects import paired_differences, period_means, periods, persistence, summarise
from sim.scenario import Scenario

BASELINE = "baseline"


@dataclass(frozen=True)
class _Task:
    scenario: Scenario
    arm: str
    seed: int
    checkpoints: str


def _run(task: _Task) -> pd.DataFrame:
    from sim.model import LifeCircleModel

    model = LifeCircleModel(scenario=task.scenario, seed=task.seed, create_agents=False, checkpoints=task.checkpoints)
    model.run_for(model.days_total)
    return model.timeseries().assign(arm=task.arm, seed=task.seed)[["arm", "seed", "month", "indicator", "value"]]


def arms(base: Scenario, levers: list[str], *, end_month: int | None) -> dict[str, Scenario]:
    """The baseline (every lever off) and one arm per lever: that lever alone, at its defaults,
    from month 0 to ``end_month`` (None: never withdrawn)."""
    from sim.run import without_levers

    off = without_levers(base)
    out = {BASELINE: off}
    for name in levers:
        updates: dict[str, Any] = {f"levers.{name}.enabled": True, f"levers.{name}.start_month": 0}
        if end_month is not None:
            updates[f"levers.{name}.end_month"] = end_month
        out[name] = off.with_updates(updates)
    return out


def measure(base: Scenario, levers: list[str], seeds: list[int], *, end_month: int | None, checkpoints: str | Path,
            workers: int | None = None, years: Mapping[str, float] | None = None,
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run every arm for every seed and return (effects, persistence, runs).

    Args:
        base: The district, people, economy, years and warm-up (its levers are ignored).
        levers: Lever names to measure.
        seeds: Paired seeds.
        end_month: Month the levers are withdrawn (None: never).
        checkpoints: Folder of the settled starts (shared by the workers).
        workers: Worker processes (default: the CPUs this process may use).
        years: Measured years of some levers' arms, shorter than the base's (default: the base's
            for every arm): an arm whose effects are wanted only during support need not run after
            it. A run's months do not depend on how long it runs, so the months they share are the
            same; the periods are those of the longest run, and an arm has only those it reaches whole.

    Returns:
        ``effects`` (columns lever, period, indicator, n, effect, ci_low, ci_high, ... from
        :func:`sim.metrics.effects.summarise`), ``persistence`` (per lever and indicator) and ``runs`` (the
        tidy monthly rows of every run: arm, seed, month, indicator, value).
    """
    scenarios = arms(base, levers, end_month=end_month)
    for arm, length in (years or {}).items():
        if arm not in levers or not 0 < length <= base.years:
            raise ValueError(f"years[{arm!r}] = {length}: give measured years in (0, {base.years:g}] for a lever "
                             f"measured here ({', '.join(levers)})")
        scenarios[arm] = scenarios[arm].with_updates({"years": float(length)})
    workers = workers or len(os.sched_getaffinity(0))
    checkpoints = str(checkpoints)
    warm = [_Task(scenarios[BASELINE], BASELINE, s, checkpoints) for s in seeds]
    rest = [_Task(sc, arm, s, checkpoints) for arm, sc in scenarios.items() if arm != BASELINE for s in seeds]
    if workers <= 1:
        frames = [_run(t) for t in warm + rest]
    else:
        from sim.batch.executors import local_pool  # its workers end with this process, however it ends

        with local_pool(workers, mp.get_context("spawn")) as pool:
            frames = list(pool.map(_run, warm))  # each seed's warm-up once, before its arms
            frames += list(pool.map(_run, rest))
    runs = pd.concat(frames, ignore_index=True)
    months = int(runs["month"].max())
    spans = periods(scenarios[levers[0]].levers if levers else base.levers, months)
    means = period_means(runs, ["arm", "seed"], spans)
    if years:  # a shortened arm's periods are those it reaches whole (a part of one is not its mean)
        last_month = {span.name: span.last for span in spans}
        reached = means["arm"].map(runs.groupby("arm")["month"].max())  # collection m closes month m - 1
        means = means[means["period"].map(last_month) < reached]
    baseline = means[means["arm"] == BASELINE].drop(columns="arm")
    pairs = paired_differences(means[means["arm"] != BASELINE].rename(columns={"arm": "lever"}), baseline, ["seed"])
    return (summarise(pairs, by=["lever"]), persistence(pairs, by=["lever"], pair_on=["seed"]), runs)


def claim_table(effects: pd.DataFrame, claims: dict[str, tuple[tuple, ...]], *,
                periods_checked: tuple[str, ...] = ("during support",)) -> pd.DataFrame:
    """Whether each lever's claimed indicators move the claimed way: per (lever, indicator,
    period) the effect, its interval, the claimed direction and ``holds`` (the interval lies on the
    claimed side of 0). A claim is checked during support unless it names its period (an
    investment such as renovated space may show after support)."""
    rows = []
    for lever, pairs in claims.items():
        for claim in pairs:
            indicator, sign = claim[0], claim[1]
            for period in (claim[2],) if len(claim) > 2 else periods_checked:
                hit = effects[(effects["lever"] == lever) & (effects["indicator"] == indicator)
                              & (effects["period"] == period)]
                if hit.empty:
                    continue
                r = hit.iloc[0]
                holds = bool(r["ci_low"] > 0) if sign > 0 else bool(r["ci_high"] < 0)
                rows.append({"lever": lever, "indicator": indicator, "period": period, "claimed": "+" if sign > 0 else "-",
                             "effect": r["effect"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"],
                             "holds": holds})
    return pd.DataFrame(rows)
