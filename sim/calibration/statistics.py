"""Summary statistics: what a calibration compares with the observed world, from one finished run.

Each statistic is a pure function of the finished model (its arrays and its measured timeseries)
and one target's arguments; :func:`summary_statistics` evaluates every target of a calibration.
A statistic that the run cannot estimate (no outlet opened, no outlet followed long enough) is
NaN: pyabc's distance is then NaN and the particle is rejected.

* ``mean``: an indicator's mean over the measured months (NaN months skipped).
* ``ratio``: mean of one indicator over the mean of another (e.g. median over mean income).
* ``outlets_per_10k``: outlets open at each monthly collection of the measured period, per 10,000
  persons (adults and their children: statistics offices count people), averaged; optionally of
  some categories only.
* ``outlet_survival``: the Kaplan-Meier survival, ``years`` after opening, of the outlets the
  model opened (entrants, successors, founders; not the synthetic first day's) from
  ``cohort_from_year`` onward, right-censored at the end of the run. An outlet taken over by a new
  owner trades on and survives (a registered enterprise changes hands without deregistering).
* ``closure_rate``: closures per open outlet per year over the measured months.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from sim.merchants import NOT_CLOSED
from sim.outlet_sources import MODEL

if TYPE_CHECKING:
    from sim.calibration.spec import SimulationConfig, TargetSpec
    from sim.model import LifeCircleModel

DAYS_PER_YEAR = 365.25


def measured(model: LifeCircleModel) -> pd.DataFrame:
    """The measured months as a wide frame: one row per collection (index: day), one column per indicator."""
    frame = model.timeseries()
    return frame.pivot_table(index="day", columns="indicator", values="value", aggfunc="first", dropna=False)


def _mean(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    values = wide[target.indicator].to_numpy(dtype=float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _ratio(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    num = wide[target.indicator].to_numpy(dtype=float)
    den = wide[target.denominator].to_numpy(dtype=float)
    if not (np.isfinite(num).any() and np.isfinite(den).any()):
        return float("nan")
    bottom = float(np.nanmean(den))
    return float(np.nanmean(num)) / bottom if bottom else float("nan")


def open_at(model: LifeCircleModel, days: np.ndarray, categories: list[str] | None = None) -> np.ndarray:
    """Outlets trading at the collection of each of ``days`` (opened that day or before, not closed
    by its end), of ``categories`` (default: all), as the ``merchants_open`` indicator counts them."""
    mer = model.merchants
    keep = np.ones(len(mer.category), dtype=bool)
    if categories is not None:
        keep = np.isin(mer.category, [model.catalogue.index(c) for c in categories])
    opened, closed = mer.opened_day[keep].astype(np.int64), mer.closed_day[keep].astype(np.int64)
    days = np.asarray(days, dtype=np.int64)
    return ((opened[None, :] <= days[:, None]) & (closed[None, :] > days[:, None])).sum(axis=1)


def _outlets_per_10k(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    persons = float(model.households.persons.sum())
    counts = open_at(model, wide.index.to_numpy(), target.categories)
    return float(counts.mean() / persons * 10_000) if persons and len(counts) else float("nan")


def kaplan_meier(durations: np.ndarray, closed: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier survival at ``horizon`` of spells with ``durations`` (days) that ended
    (``closed``; a closure at ``horizon`` counts) or were censored. NaN when it cannot be told: no
    spells, or every spell still open was censored before ``horizon`` (0 when all had closed)."""
    durations = np.asarray(durations, dtype=float)
    closed = np.asarray(closed, dtype=bool)
    if not len(durations):
        return float("nan")
    survival = 1.0
    for t in np.unique(durations[closed & (durations <= horizon)]):
        at_risk = (durations >= t).sum()
        survival *= 1.0 - ((durations == t) & closed).sum() / at_risk
    if survival > 0 and not (durations >= horizon).any():
        return float("nan")  # the estimate stops at the last spell followed, before the horizon
    return float(survival)


def outlet_spells(model: LifeCircleModel, sim: SimulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """(days traded, closed?) of every outlet the model opened from ``sim.cohort_from_year`` after
    the synthetic first day, censored at the last simulated day."""
    mer = model.merchants
    first_day = -model.warmup_days
    start = first_day + int(round(sim.cohort_from_year * DAYS_PER_YEAR))
    last = model.day - 1  # the last simulated day
    cohort = (mer.source == MODEL) & (mer.opened_day.astype(np.int64) >= start) & ~mer.mobile
    opened = mer.opened_day[cohort].astype(np.int64)
    closed_day = mer.closed_day[cohort].astype(np.int64)
    closed = closed_day != NOT_CLOSED
    end = np.where(closed, closed_day, last)
    return (end - opened).astype(float), closed


def _outlet_survival(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    durations, closed = outlet_spells(model, sim)
    return kaplan_meier(durations, closed, target.years * DAYS_PER_YEAR)


def _closure_rate(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    deaths = float(np.nansum(wide["merchant_deaths"].to_numpy(dtype=float)))
    stock = float(np.nanmean(wide["merchants_open"].to_numpy(dtype=float)))
    years = model.days_total / DAYS_PER_YEAR  # the measured period
    return deaths / stock / years if stock and years else float("nan")


STATISTIC_FUNCTIONS: dict[str, Callable[..., float]] = {
    "mean": _mean,
    "ratio": _ratio,
    "outlets_per_10k": _outlets_per_10k,
    "outlet_survival": _outlet_survival,
    "closure_rate": _closure_rate,
}


def summary_statistics(model: LifeCircleModel, targets: dict[str, TargetSpec], sim: SimulationConfig) -> dict[str, float]:
    """Every target's statistic of the finished ``model``, by target name."""
    wide = measured(model)
    return {name: STATISTIC_FUNCTIONS[t.statistic](model, wide, t, sim) for name, t in targets.items()}
