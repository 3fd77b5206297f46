"""Is the district settled? The check behind ``lifecircle settle`` and the warm-up's default.

A baseline run (every lever off) is *settled* over its measured period when, for every seed,

* ``basic_coverage_15`` over the measured years differs by at most :data:`COVERAGE_TOLERANCE` from
  its level at the end of the warm-up -- the mean over the warm-up's last :data:`REFERENCE_YEARS`
  years (or as many whole years as it has); without a whole warm-up year, between the first
  measured year and the last,
* ``merchants_open`` differs by at most :data:`OUTLETS_TOLERANCE` (relative) between the same two
  means, and
* no measured month closes more than :data:`CLOSURE_TOLERANCE` of the outlets open at its start (no
  mass-closure month, such as the one a synthetic start produces when every day-one outlet's
  working capital runs out at once).

Means over years, not single years: basic coverage asks for every basic trade within 15 minutes,
and where a trade has a handful of outlets one closing, or an entrant filling the gap it left,
moves it by 0.05-0.10 for as long as the gap lasts. A settled district has such excursions (on the
baseline grid, seed 2's coverage is 0.859 in its first three measured years, 0.78-0.79 in the next
three and 0.806 after: a warm-up that ended in a high spell, not a drift; its warm-up's last ten
years average 0.829, the measured ten 0.815), so comparing one year with another measures which
spell each fell in. A drift -- a level the measured period moves away from -- still shows.

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
    def settled(self) -> bool:
        """Whether every seed passes every check."""
        return bool(self.verdict["settled"].all())


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
        reference, measured, label = _level_before(model), per_year[["basic_coverage_15", "merchants_open"]].mean(), None
        if reference is None:  # no whole warm-up year: the first measured year against the last
            reference, measured, label = per_year.iloc[0], per_year.iloc[-1], "first year"
        coverage = float(measured["basic_coverage_15"] - reference["basic_coverage_15"])
        outlets = float(measured["merchants_open"] / reference["merchants_open"] - 1)
        closure = float(wide["closure_share"].max())
        verdict.append({"seed": seed, "years": len(per_year),
                        "reference": label or f"warm-up's last {reference.attrs['years']} years",
                        "coverage_change": coverage,
                        "outlets_change": outlets, "max_closure_share": closure,
                        "settled": abs(coverage) <= COVERAGE_TOLERANCE and abs(outlets) <= OUTLETS_TOLERANCE
                        and closure <= CLOSURE_TOLERANCE})
    return Settling(yearly=pd.concat(yearly, ignore_index=True), verdict=pd.DataFrame(verdict))


def _level_before(model: LifeCircleModel) -> pd.Series | None:
    """The mean of coverage and open outlets over the warm-up's last :data:`REFERENCE_YEARS` whole
    years (fewer if it is shorter); None without a whole warm-up year."""
    warm = model.warmup_timeseries()
    warm = warm[warm["indicator"].isin(["basic_coverage_15", "merchants_open"])]
    if warm.empty:
        return None
    wide = warm.pivot_table(index="month", columns="indicator", values="value")
    years = min(REFERENCE_YEARS, len(wide) // 12)
    if years == 0:
        return None
    level = wide.iloc[-12 * years:].mean()
    level.attrs["years"] = years
    return level


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
    lines.append("")
    lines.append("settled" if result.settled else "NOT settled: lengthen warmup_years or look at the seeds above")
    return "\n".join(lines)
