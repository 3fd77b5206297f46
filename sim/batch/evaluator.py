"""The evaluator's report of a batch that compares city budget rules (or any packages) on life circles.

For evaluators of long-term mechanisms: one section per package (a budget allocation rule in
``scenarios/batches/city_budget.toml``) with what the mayor responsibility system is judged on --
the city's basic coverage, the worst circle's, the share of circles passing their evaluation, the
inequality between circles, and the money spent -- each as the paired difference from the
baseline package over common seeds (:func:`sim.batch.compare.paired_effects`), with its 95 %
interval, the smallest difference the batch could detect (80 % power, two-sided 5 %, from the
pairs' spread), and what each million CNY bought. A closing table ranks the packages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: What the report judges, in order: (indicator, higher is better).
EVALUATED: tuple[tuple[str, bool], ...] = (
    ("basic_coverage_15", True),
    ("circle_coverage_min", True),
    ("circles_passing_share", True),
    ("circle_coverage_gini", False),
    ("circle_coverage_gap", False),
    ("needs_met_share", True),
    ("merchants_open", True),
    ("public_spending", False),
)


def has_circle_outcomes(outcomes: pd.DataFrame) -> bool:
    """Whether a batch kept the indicators of the spread between circles."""
    return bool(outcomes["indicator"].isin(["circles_passing_share", "circle_coverage_min"]).any())


def detectable(sd: float, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """Smallest true mean paired difference a two-sided paired t-test at ``alpha`` detects with
    ``power``, from ``n`` pairs whose differences have standard deviation ``sd`` (normal
    approximation with t quantiles)."""
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    return float((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * sd / np.sqrt(n))


def _fmt(value: float, indicator: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if indicator == "public_spending" or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def evaluator_report(effects: pd.DataFrame, outcomes: pd.DataFrame, *, baseline: str, title: str,
                     last_months: int) -> str:
    """The report as Markdown (see the module docstring)."""
    base = outcomes[outcomes["package"] == baseline].groupby("indicator")["value"].mean()
    lines = [f"# Evaluator's report: {title}", "",
             f"Each package against `{baseline}` on common seeds; a run's outcome is the mean of its last "
             f"{last_months} month(s). *Detectable*: the smallest paired difference this batch finds with "
             "80 % power (two-sided 5 %). *Per million CNY*: the difference per million CNY of extra public "
             "spending.", ""]
    ranking = []
    for package in [p for p in outcomes["package"].unique() if p != baseline]:
        rows = effects[effects["package"] == package].set_index("indicator")
        lines += [f"## {package}", "",
                  "| indicator | baseline | package | difference | 95 % interval | detectable | per million CNY |",
                  "|---|---|---|---|---|---|---|"]
        for indicator, _ in EVALUATED:
            if indicator not in rows.index:
                continue
            r = rows.loc[indicator]
            star = " *" if r["significant"] else ""
            lines.append(
                f"| {indicator} | {_fmt(base.get(indicator, np.nan), indicator)} | {_fmt(r['package_mean'], indicator)} "
                f"| {_fmt(r['mean_diff'], indicator)}{star} | [{_fmt(r['ci_low'], indicator)}, {_fmt(r['ci_high'], indicator)}] "
                f"| {_fmt(detectable(r['sd_diff'], int(r['n'])), indicator)} "
                f"| {_fmt(r.get('per_million_cny', np.nan), indicator) if indicator != 'public_spending' else ''} |")
        lines += ["", f"n = {int(rows['n'].max()) if len(rows) else 0} pairs; * the interval excludes 0.", ""]
        ranking.append({"package": package, **{ind: rows.loc[ind, "package_mean"] if ind in rows.index else np.nan
                                                for ind, _ in EVALUATED}})
    if ranking:
        table = pd.DataFrame(ranking)
        lines += ["## Ranking", "", "Packages ordered by the share of circles passing, then the worst circle's coverage.", "",
                  "| package | " + " | ".join(ind for ind, _ in EVALUATED if ind in table) + " |",
                  "|---|" + "---|" * sum(ind in table for ind, _ in EVALUATED)]
        table = table.sort_values(["circles_passing_share", "circle_coverage_min"], ascending=False, na_position="last") \
            if {"circles_passing_share", "circle_coverage_min"} <= set(table) else table
        for row in table.itertuples(index=False):
            values = row._asdict()
            lines.append(f"| {values['package']} | " + " | ".join(_fmt(values[ind], ind) for ind, _ in EVALUATED if ind in table) + " |")
        lines.append("")
    return "\n".join(lines)
