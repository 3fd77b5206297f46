"""A run's report for evaluators: scorecard, levers and their timelines, persistence, figures.

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

# Indicators whose value during and after support is reported for each lever with an end date.
PERSISTENCE = ("basic_coverage_15", "effective_coverage_15", "needs_met_share", "night_needs_met_share",
               "employment_rate", "local_job_share", "freelancer_income_mean", "disability_employment_gap",
               "merchants_open", "trips_saved")


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


def persistence(timeseries: pd.DataFrame, start_month: int, end_month: int) -> pd.DataFrame:
    """Mean of headline indicators while a lever acts and after it ends.

    A value collected at month m covers month m - 1, so support months ``start..end-1`` are the
    collections ``start+1..end`` and the months after support are the collections after ``end``.
    """
    rows = []
    for name in PERSISTENCE:
        series = timeseries[timeseries["indicator"] == name]
        during = series[(series["month"] > start_month) & (series["month"] <= end_month)]["value"]
        after = series[series["month"] > end_month]["value"]
        if during.empty or after.empty:
            continue
        rows.append({"indicator": name, "during support": float(during.mean()), "after support": float(after.mean())})
    return pd.DataFrame(rows)


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(none)_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
    ]
    if city is not None and city.attribution:
        parts.append(f"- map data: {city.attribution}")
    parts += ["", "## Scorecard", "", _table(result.scorecard)]
    if model is not None:
        from sim.outlet_sources import report_lines

        parts += report_lines(model)
    levers = pd.DataFrame(_lever_rows(result))
    parts += ["## Levers in this scenario", "", _table(levers) if not levers.empty else "Every lever is off (baseline).\n"]
    for cls in LEVERS:
        cfg = getattr(scenario.levers, cls.name)
        if cfg.enabled and cfg.end_month is not None:
            parts += [f"### {cls.name}: during support (months {cfg.start_month}-{cfg.end_month - 1}) and after", "",
                      _table(persistence(result.timeseries, cfg.start_month, cfg.end_month))]
    if model is not None and model.evaluations:
        parts += ["## Evaluations (governance)", "", _table(pd.DataFrame(model.evaluations))]
    if figures:
        parts += ["## Figures", ""]
        for name, path in figures.items():
            parts.append(f"![{name}]({path.relative_to(out).as_posix()})\n")
    path = out / "report.md"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
