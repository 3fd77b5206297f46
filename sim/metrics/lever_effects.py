"""Each lever's effect at its shipped default settings, against the counterfactual.

:func:`measure` runs, for every seed, the baseline (every lever off) and each lever alone with its
scenario defaults, switched on at month 0 (the first month after the warm-up) and withdrawn at
``end_month``, all from the seed's settled start; :mod:`sim.metrics.effects` turns the pairs into effects
per period (year 1, year 3, during support, after support) with intervals over seeds.
``benchmarks/lever_effects.py`` writes the result to ``docs/lever_effects.md``; the lever tests
check the claimed directions (:attr:`sim.levers.base.Lever.claims`) with the same runs over fewer
years.

The runs are spread over local worker processes; each seed's warm-up is computed once, first, and
every arm of that seed starts from its checkpoint. :func:`plan` gives the runs and how their rows
are summarised without running them, for callers that run them on workers of their own.
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
class Task:
    """One run of a measurement: an arm's scenario for one seed, from the seed's settled start in
    ``checkpoints``."""

    scenario: Scenario
    arm: str
    seed: int
    checkpoints: str


def run(task: Task) -> pd.DataFrame:
    """The tidy monthly rows of one run (arm, seed, month, indicator, value)."""
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


@dataclass(frozen=True)
class Measurement:
    """The runs of a measurement (:func:`plan`) and how their rows become effects (:meth:`summarise`).
    :meth:`run_locally` runs them on local worker processes; a caller with workers of its own (the
    test session's background pool) may run :attr:`tasks` with :func:`run` wherever it likes, the
    warm ones first so that each seed warms up once (a run depends only on its task)."""

    levers: tuple[str, ...]
    scenarios: dict[str, Scenario]
    warm: tuple[Task, ...]
    """The baseline's runs, one per seed: each warms its seed up (or loads its settled start) first."""
    rest: tuple[Task, ...]
    """Every lever's runs, from the settled starts the baseline's runs left."""

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self.warm + self.rest

    @property
    def shortened(self) -> bool:
        """Whether some lever's arm runs fewer years than the baseline (``years=`` of :func:`measure`)."""
        return any(task.scenario.years != self.scenarios[BASELINE].years for task in self.rest)

    def run_locally(self, workers: int | None = None) -> list[pd.DataFrame]:
        """Every task's rows, run on ``workers`` local worker processes (default: the CPUs this process
        may use; 1: here, one after another): the baseline's runs first, so that each seed warms up
        once, then the levers'."""
        workers = workers or len(os.sched_getaffinity(0))
        if workers <= 1:
            return [run(t) for t in self.tasks]
        from sim.batch.executors import local_pool  # its workers end with this process, however it ends

        with local_pool(workers, mp.get_context("spawn")) as pool:
            frames = list(pool.map(run, self.warm))
            return frames + list(pool.map(run, self.rest))

    def summarise(self, frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(effects, persistence, runs) from the rows of every task's run (:func:`measure`)."""
        runs = pd.concat(frames, ignore_index=True)
        pairs_run = set(zip(runs["arm"], runs["seed"]))
        if len(frames) != len(self.tasks) or pairs_run != {(t.arm, t.seed) for t in self.tasks}:
            raise ValueError("the rows given are not those of this measurement's runs, one per task")
        months = int(runs["month"].max())
        spans = periods(self.scenarios[self.levers[0]].levers if self.levers else self.scenarios[BASELINE].levers,
                        months)
        means = period_means(runs, ["arm", "seed"], spans)
        if self.shortened:  # a shortened arm's periods are those it reaches whole (a part of one is not its mean)
            last_month = {span.name: span.last for span in spans}
            reached = means["arm"].map(runs.groupby("arm")["month"].max())  # collection m closes month m - 1
            means = means[means["period"].map(last_month) < reached]
        baseline = means[means["arm"] == BASELINE].drop(columns="arm")
        pairs = paired_differences(means[means["arm"] != BASELINE].rename(columns={"arm": "lever"}), baseline,
                                   ["seed"])
        return (summarise(pairs, by=["lever"]), persistence(pairs, by=["lever"], pair_on=["seed"]), runs)


def plan(base: Scenario, levers: list[str], seeds: list[int], *, end_month: int | None, checkpoints: str | Path,
         years: Mapping[str, float] | None = None) -> Measurement:
    """The runs that measure ``levers`` (the arguments are :func:`measure`'s)."""
    scenarios = arms(base, levers, end_month=end_month)
    for arm, length in (years or {}).items():
        if arm not in levers or not 0 < length <= base.years:
            raise ValueError(f"years[{arm!r}] = {length}: give measured years in (0, {base.years:g}] for a lever "
                             f"measured here ({', '.join(levers)})")
        scenarios[arm] = scenarios[arm].with_updates({"years": float(length)})
    checkpoints = str(checkpoints)
    warm = tuple(Task(scenarios[BASELINE], BASELINE, s, checkpoints) for s in seeds)
    rest = tuple(Task(sc, arm, s, checkpoints) for arm, sc in scenarios.items() if arm != BASELINE for s in seeds)
    return Measurement(tuple(levers), scenarios, warm, rest)


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
    measurement = plan(base, levers, seeds, end_month=end_month, checkpoints=checkpoints, years=years)
    return measurement.summarise(measurement.run_locally(workers))


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
