"""Is the district settled? The check behind ``lifecircle settle`` and the warm-up's default.

A baseline run (every lever off) is *settled* over its measured period when, for every seed,

* ``basic_coverage_15`` differs by at most :data:`COVERAGE_TOLERANCE` between the mean of the
  first measured year and the mean of the last,
* ``merchants_open`` differs by at most :data:`OUTLETS_TOLERANCE` (relative) between them, and
* no month closes more than :data:`CLOSURE_TOLERANCE` of the outlets open at its start (no
  mass-closure month, such as the one a synthetic start produces when every day-one outlet's
  working capital runs out at once).

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
WATCH = ("basic_coverage_15", "merchants_open", "merchant_deaths", "freelancers", "employment_rate",
         "needs_met_share", "income_mean")


@dataclass
class Settling:
    """The settling check of one scenario over several seeds.

    Attributes:
        yearly: Per seed and measured year: the mean of each watched indicator (and the largest
            monthly share of outlets closed, ``max_closure_share``).
        verdict: Per seed: the first-to-last-year change of coverage and outlets, the largest
            monthly closure share, and whether each is within its tolerance.
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
        first, last = per_year.iloc[0], per_year.iloc[-1]
        coverage = float(last["basic_coverage_15"] - first["basic_coverage_15"])
        outlets = float(last["merchants_open"] / first["merchants_open"] - 1)
        closure = float(wide["closure_share"].max())
        verdict.append({"seed": seed, "years": len(per_year), "coverage_change": coverage,
                        "outlets_change": outlets, "max_closure_share": closure,
                        "settled": abs(coverage) <= COVERAGE_TOLERANCE and abs(outlets) <= OUTLETS_TOLERANCE
                        and closure <= CLOSURE_TOLERANCE})
    return Settling(yearly=pd.concat(yearly, ignore_index=True), verdict=pd.DataFrame(verdict))


def format_settling(result: Settling, title: str) -> str:
    """The check as text: yearly means per seed, then the verdict per seed."""
    lines = [title, "=" * len(title), ""]
    cols = ["basic_coverage_15", "merchants_open", "max_closure_share", "freelancers", "employment_rate"]
    for seed, group in result.yearly.groupby("seed", sort=False):
        lines.append(f"seed {seed}: yearly means of the measured years")
        lines.append(group.set_index("year")[cols].round(4).to_string())
        lines.append("")
    lines.append(f"verdict (tolerances: coverage {COVERAGE_TOLERANCE}, outlets {OUTLETS_TOLERANCE:.0%}, "
                 f"monthly closures {CLOSURE_TOLERANCE:.0%}):")
    lines.append(result.verdict.round(4).to_string(index=False))
    lines.append("")
    lines.append("settled" if result.settled else "NOT settled: lengthen warmup_years or look at the seeds above")
    return "\n".join(lines)
