"""Is the district settled? The check behind ``lifecircle settle`` and the warm-up's default.

Each seed's *change* compares the measured years with the level the warm-up ended at: the mean
over the measured years against the mean over the warm-up's last :data:`REFERENCE_YEARS` years (or
as many whole years as it has); without a whole warm-up year, the first measured year against the
last. A baseline run (every lever off) is *settled* when

* the mean over seeds of the change of ``basic_coverage_15`` is at most :data:`COVERAGE_TOLERANCE`,
* the mean over seeds of the relative change of ``merchants_open`` is at most
  :data:`OUTLETS_TOLERANCE`, and
* no measured month of any seed closes more than :data:`CLOSURE_TOLERANCE` of the outlets open at
  its start (no mass-closure month, such as the one a synthetic start produces when every day-one
  outlet's working capital runs out at once).

A drift is systematic: the seeds share it, and their mean measures it. A single seed has spells:
basic coverage asks for every basic trade within 15 minutes, and where a trade has a handful of
outlets one closing, or an entrant filling the gap it left, moves it by 0.05-0.10 for as long as
the gap lasts (the baseline grid's seed 2 measures 0.859 for three years, 0.78-0.79 for three, then
0.806). So each seed's change is reported, with whether it is within the tolerance, but the verdict
is on the mean; use several seeds (``lifecircle settle`` runs 5).

A warm-up is long enough when the measured period after it is settled; :func:`settling` measures
that for a scenario, a warm-up length and a set of seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import LifeCircleModel
from sim.scenario import Scenario

COVERAGE_TOLERANCE = 0.03
OUTLETS_TOLERANCE = 0.08
CLOSURE_TOLERANCE = 0.05
REFERENCE_YEARS = 10
"""The warm-up's last years whose mean is the level the measured years are compared with."""
WATCH = ("basic_coverage_15", "merchants_open", "merchant_deaths", "freelancers", "employment_rate",
         "needs_met_share", "income_mean")


@dataclass
class Settling:
    """The settling check of one scenario over several seeds.

    Attributes:
        yearly: Per seed and measured year: the mean of each watched indicator (and the largest
            monthly share of outlets closed, ``max_closure_share``).
        verdict: Per seed: the change of coverage and outlets from the reference (the end of the
            warm-up, ``reference``: its years averaged; ``first year`` without a warm-up year) to
            the measured years, the largest monthly closure share, and whether each is within its
            tolerance.
    """

    yearly: pd.DataFrame
    verdict: pd.DataFrame

    @property
    def mean_changes(self) -> tuple[float, float]:
        """The mean over seeds of the coverage change and of the outlets' relative change."""
        return float(self.verdict["coverage_change"].mean()), float(self.verdict["outlets_change"].mean())

    @property
    def settled(self) -> bool:
        """Whether the mean changes are within their tolerances and no month of any seed closed too many."""
        coverage, outlets = self.mean_changes
        return (abs(coverage) <= COVERAGE_TOLERANCE and abs(outlets) <= OUTLETS_TOLERANCE
                and bool((self.verdict["max_closure_share"] <= CLOSURE_TOLERANCE).all()))


def settling(scenario: Scenario, seeds: list[int], *, checkpoints=None) -> Settling:
    """Run ``scenario`` with every lever off for each seed and check that it is settled.

    Args:
        scenario: The scenario (its levers are switched off; its ``warmup_years`` and ``years``
            are used: at least two measured years).
        seeds: Seeds to check.
        checkpoints: Passed to :class:`LifeCircleModel`.
    """
    from sim.run import without_levers

    base = without_levers(scenario).with_updates({"output.indicators": list(WATCH)})
    yearly, verdict = [], []
    for seed in seeds:
        model = LifeCircleModel(scenario=base, seed=seed, create_agents=False, checkpoints=checkpoints)
        model.run_for(model.days_total)
        wide = model.timeseries().pivot_table(index="month", columns="indicator", values="value")
        opened = wide["merchants_open"].to_numpy()
        closed = wide["merchant_deaths"].to_numpy()
        before = np.concatenate([[len(model.start_outlets)], opened[:-1]])
        wide["closure_share"] = closed / np.maximum(before, 1)
        wide["year"] = (wide.index - 1) // 12
        per_year = wide.groupby("year").agg({**{k: "mean" for k in WATCH}, "closure_share": "max"})
        per_year = per_year.rename(columns={"closure_share": "max_closure_share"}).reset_index().assign(seed=seed)
        yearly.append(per_year)
        reference, years = _level_before(model)
        measured, label = per_year[["basic_coverage_15", "merchants_open"]].mean(), f"warm-up's last {years} years"
        if reference is None:  # no whole warm-up year: the first measured year against the last
            reference, measured, label = per_year.iloc[0], per_year.iloc[-1], "first year"
        coverage = float(measured["basic_coverage_15"] - reference["basic_coverage_15"])
        outlets = float(measured["merchants_open"] / reference["merchants_open"] - 1)
        closure = float(wide["closure_share"].max())
        verdict.append({"seed": seed, "years": len(per_year),
                        "reference": label,
                        "coverage_change": coverage,
                        "outlets_change": outlets, "max_closure_share": closure,
                        "within_tolerance": abs(coverage) <= COVERAGE_TOLERANCE and abs(outlets) <= OUTLETS_TOLERANCE
                        and closure <= CLOSURE_TOLERANCE})
    return Settling(yearly=pd.concat(yearly, ignore_index=True), verdict=pd.DataFrame(verdict))


def _level_before(model: LifeCircleModel) -> tuple[pd.Series | None, int]:
    """The mean of coverage and open outlets over the warm-up's last :data:`REFERENCE_YEARS` whole
    years (fewer if it is shorter), and how many years; (None, 0) without a whole warm-up year."""
    warm = model.warmup_timeseries()
    warm = warm[warm["indicator"].isin(["basic_coverage_15", "merchants_open"])]
    years = min(REFERENCE_YEARS, warm["month"].nunique() // 12)
    if years == 0:
        return None, 0
    wide = warm.pivot_table(index="month", columns="indicator", values="value")
    return wide.iloc[-12 * years:].mean(), years


def format_settling(result: Settling, title: str) -> str:
    """The check as text: yearly means per seed, then the verdict per seed."""
    lines = [title, "=" * len(title), ""]
    cols = ["basic_coverage_15", "merchants_open", "max_closure_share", "freelancers", "employment_rate"]
    for seed, group in result.yearly.groupby("seed", sort=False):
        lines.append(f"seed {seed}: yearly means of the measured years")
        lines.append(group.set_index("year")[cols].round(4).to_string())
        lines.append("")
    lines.append(f"verdict: the measured years' means against the end of the warm-up (tolerances: coverage "
                 f"{COVERAGE_TOLERANCE}, outlets {OUTLETS_TOLERANCE:.0%}, monthly closures {CLOSURE_TOLERANCE:.0%}):")
    lines.append(result.verdict.round(4).to_string(index=False))
    coverage, outlets = result.mean_changes
    spread = result.verdict["coverage_change"].std(ddof=1) / np.sqrt(len(result.verdict)) if len(result.verdict) > 1 else np.nan
    lines.append(f"mean over {len(result.verdict)} seeds: coverage {coverage:+.4f} (standard error {spread:.4f}), "
                 f"outlets {outlets:+.2%}; a seed beyond the tolerance alone is a spell, not a drift")
    lines.append("")
    lines.append("settled" if result.settled else "NOT settled: lengthen warmup_years or look at the seeds above")
    return "\n".join(lines)
