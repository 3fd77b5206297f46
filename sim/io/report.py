"""A run's report for evaluators: scorecard, levers and their timelines, effects against the
counterfactual (during support and after it ends), figures.

Written as ``report.md`` (Markdown, readable as text and rendered by any Markdown viewer) next to
the other outputs of ``lifecircle run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.levers import LEVERS
from sim.run import RunResult

# Indicators whose paired effects are reported (the scorecard's headline indicators, plus the
# ones the levers claim to move).
EFFECT_INDICATORS = ("basic_coverage_15", "basic_coverage_tiered", "effective_coverage_15", "needs_met_share",
                     "night_needs_met_share", "employment_rate", "local_job_share", "freelancers",
                     "freelancer_income_mean", "disability_employment_gap", "income_mean", "merchants_open",
                     "merchant_survival", "trips_saved", "public_spending")


def _lever_rows(result: RunResult) -> list[dict[str, str]]:
    rows = []
    for cls in LEVERS:
        cfg = getattr(result.scenario.levers, cls.name)
        if not cfg.enabled:
            continue
        end = f"month {cfg.end_month}" if cfg.end_month is not None else "never"
        rows.append({"lever": cls.name, "measure": cls.measure, "start": f"month {cfg.start_month}",
                     "end": end, "phase-in": f"{cfg.phase_in_months} months", "moves": cls.indicator})
    return rows


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(none)_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _effects_section(result: RunResult) -> list[str]:
    """Paired effects against the counterfactual, by period, and what persists after support."""
    paired = result.paired
    n = len(paired.seeds)
    effects = paired.effects[paired.effects["indicator"].isin(EFFECT_INDICATORS)]
    lines = ["## Effects against the counterfactual", "",
             f"Each effect is the policy run minus the counterfactual run (every lever off) of the same seed, from "
             f"the same settled start, averaged over the period (a running total such as public spending: what it "
             f"added per month over the period), then over {n} paired seed(s) "
             f"({', '.join(str(s) for s in paired.seeds)}), with a 95 % Student-t interval"
             + ("." if n > 1 else " (one seed: no interval; run with `--replicates 8` for one).")
             + " Periods count measured months from 0.", ""]
    if effects.empty:
        return lines + ["_(no effects computed)_", ""]
    table = effects.assign(
        effect=[_with_interval(r.effect, r.ci_low, r.ci_high, n) for r in effects.itertuples()],
    ).pivot_table(index="indicator", columns="period", values="effect", aggfunc="first", sort=False)
    order = [p for p in ("year 1", "year 3", "during support", "after support", "end") if p in table.columns]
    table = table[order].reindex([i for i in EFFECT_INDICATORS if i in table.index]).reset_index()
    lines += [_table(table)]
    share = paired.persistence[paired.persistence["indicator"].isin(EFFECT_INDICATORS)]
    if not share.empty:
        lines += ["### What persists after support ends", "",
                  "Share of the effect during support that remains after it ends (mean effect after / "
                  "mean effect during, over seeds; 95 % bootstrap interval over seeds).", ""]
        rows = share.assign(
            persists=[_with_interval(r.share, r.share_low, r.share_high, n, percent=True) for r in share.itertuples()],
        )[["indicator", "effect_during", "effect_after", "persists"]]
        lines += [_table(rows)]
    return lines


def _with_interval(value: float, low: float, high: float, n: int, *, percent: bool = False) -> str:
    fmt = (lambda v: f"{100 * v:.0f} %") if percent else (lambda v: f"{v:+.4g}")
    if not np.isfinite(value):
        return "n/a"
    return fmt(value) if n < 2 or not np.isfinite(low) else f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def _circles_section(model) -> list[str]:
    """The city scorecard: circles ranked, how many pass, and the budget's evaluations over time."""
    from sim.metrics.circles import scorecard

    card = scorecard(model)
    target = model.scenario.circles.target_basic_coverage
    inhabited = card[card["residents"] > 0]
    lines = ["## Life circles (city scorecard)", "",
             f"{int(inhabited['passes'].sum())} of {len(inhabited)} circles with residents have at least "
             f"{target:.0%} of their residents within 15 minutes of every basic service "
             f"({model.circles.kind} circles; per-circle indicators in circles.parquet).", "",
             _table(card.drop(columns=["circle"]))]
    if model.circle_evaluations:
        ev = pd.DataFrame(model.circle_evaluations)
        by_period = ev.groupby(["period", "month"]).agg(
            circles_passing=("passed", "sum"), circles=("circle", "count"),
            coverage_min=("basic_coverage_15", "min"), allocated_cny=("allocation_cny", "sum"),
            sites_built=("sites_built", "sum")).reset_index()
        lines += ["", "### Evaluations of the circles (city budget)", "", _table(by_period),
                  "", "Every circle's evaluation: circle_evaluations.csv.", ""]
    return lines


def write_report(result: RunResult, out: Path, figures: dict[str, Path]) -> Path:
    """Write ``out/report.md``; returns its path."""
    model = result.model
    scenario = result.scenario
    city = model.city if model is not None else None
    parts = [
        f"# lifecircle report: {scenario.name}\n",
        f"{scenario.description}\n" if scenario.description else "",
        f"- district: {city.name if city else scenario.city.kind}",
        f"- {scenario.years:g} years from {scenario.start_date}, seed {result.seed}, "
        f"scenario hash {scenario.content_hash()}, lifecircle {__version__}",
        f"- residents: {scenario.population.residents:,}",
        f"- measured after a warm-up of {scenario.warmup_years:g} years with every lever off (month 0 is the "
        f"first measured month; the warm-up's months are in warmup.parquet)" if scenario.warmup_years > 0
        else "- measured from the synthetic first day (no warm-up)",
    ]
    if city is not None and city.attribution:
        parts.append(f"- map data: {city.attribution}")
    parts += ["", "## Scorecard", "", _table(result.scorecard)]
    if model is not None:
        from sim.city.outlet_sources import report_lines

        parts += report_lines(model)
    levers = pd.DataFrame(_lever_rows(result))
    parts += ["## Levers in this scenario", "", _table(levers) if not levers.empty else "Every lever is off (baseline).\n"]
    if result.paired is not None:
        parts += _effects_section(result)
    if model is not None and model.evaluations:
        parts += ["## Evaluations (governance)", "", _table(pd.DataFrame(model.evaluations))]
    if model is not None and model.circles.k > 1:
        parts += _circles_section(model)
    if figures:
        parts += ["## Figures", ""]
        for name, path in figures.items():
            parts.append(f"![{name}]({path.relative_to(out).as_posix()})\n")
    path = out / "report.md"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
