"""Summary statistics: what a calibration compares with the observed world, from one finished run.

Each statistic is a pure function of the finished model (its arrays and its measured timeseries)
and one target's arguments; :func:`summary_statistics` evaluates every target of a calibration.
A statistic that the run cannot estimate (no outlet opened, no outlet followed long enough) is
NaN: pyabc's distance is then NaN and the particle is rejected.

The run of a particle begins at its settled start (day 0); its first ``simulation.adjust_years``
are not measured (:mod:`sim.calibration.simulate`), and "the measured months" below are the monthly
collections after them.

* ``mean``: an indicator's mean over the measured months (NaN months skipped).
* ``ratio``: mean of one indicator over the mean of another (e.g. median over mean income).
* ``outlets_per_10k``: outlets open at each monthly collection of the measured period, per 10,000
  persons (adults and their children: statistics offices count people), averaged; optionally of
  some categories only.
* ``outlet_survival``: the Kaplan-Meier survival, ``years`` after opening, of the outlets the
  model opened (entrants, successors, founders; not the synthetic first day's), observed from
  ``survival_from_year`` after the settled start to the end of the run: outlets opened during the
  run from age 0, outlets already trading from the age they had (left truncation), right-censored
  at the end. A settled district of a few thousand residents opens a handful of outlets a year, so
  the outlets already trading carry most of the estimate. An outlet taken over by a new
  owner trades on and survives (a registered enterprise changes hands without deregistering).
* ``closure_rate``: closures per open outlet per year over the measured months.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from sim.economy.merchants import NOT_CLOSED
from sim.city.outlet_sources import MODEL

if TYPE_CHECKING:
    from sim.calibration.spec import SimulationConfig, TargetSpec
    from sim.model import LifeCircleModel

DAYS_PER_YEAR = 365.25


def measured(model: LifeCircleModel, sim: SimulationConfig | None = None) -> pd.DataFrame:
    """The measured months as a wide frame: one row per collection (index: day), one column per
    indicator; the collections of ``sim``'s adjustment months left out (None: every collection)."""
    frame = model.timeseries()
    if sim is not None:  # a collection's month is the number of months elapsed (1: the end of the first)
        frame = frame[frame["month"] > sim.adjust_months]
    return frame.pivot_table(index="day", columns="indicator", values="value", aggfunc="first", dropna=False)


def measured_days(model: LifeCircleModel, wide: pd.DataFrame) -> int:
    """Days the collections in ``wide`` cover: from the day after the collection before the first
    of them (day 0 if none) to the last of them."""
    if not len(wide):
        return 0
    days = np.unique(model.timeseries()["day"].to_numpy())
    before = days[days < wide.index.min()]
    start = int(before.max()) + 1 if len(before) else 0
    return int(wide.index.max()) - start + 1


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


def kaplan_meier(durations: np.ndarray, closed: np.ndarray, horizon: float, entry: np.ndarray | None = None) -> float:
    """Kaplan-Meier survival at ``horizon`` of spells that ended at age ``durations`` (days; a
    closure, when ``closed``, at ``horizon`` counts) or were censored there, each observed from age
    ``entry`` on (left truncation: an outlet already open when observation began is at risk only
    from the age it had then; default 0). NaN when it cannot be told: no spells, or no spell at risk
    at ``horizon`` (0 when every spell at risk before it had closed).
    """
    durations = np.asarray(durations, dtype=float)
    closed = np.asarray(closed, dtype=bool)
    entry = np.zeros(len(durations)) if entry is None else np.asarray(entry, dtype=float)
    if not len(durations):
        return float("nan")
    survival = 1.0
    for t in np.unique(durations[closed & (durations <= horizon)]):
        at_risk = ((entry <= t) & (durations >= t)).sum()
        survival *= 1.0 - ((durations == t) & closed & (entry <= t)).sum() / at_risk
    if survival > 0 and not ((entry <= horizon) & (durations >= horizon)).any():
        return float("nan")  # nobody was followed to the horizon
    return float(survival)


def outlet_spells(model: LifeCircleModel, sim: SimulationConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age at the end, closed?, age when observation began) of every outlet the model opened
    (not the synthetic first day's, not mobile vendors) that traded at some time from
    ``sim.survival_from_year`` after the settled start (day 0) to the last simulated day, in days.

    Outlets opened before that (in the warm-up, under the scenario's values) enter at the age they
    had then, so that the hazards read are those of the run's own years."""
    mer = model.merchants
    start = int(round(sim.survival_from_year * DAYS_PER_YEAR))
    last = model.day - 1  # the last simulated day
    closed_day = mer.closed_day.astype(np.int64)
    closed = closed_day != NOT_CLOSED
    opened = mer.opened_day.astype(np.int64)
    observed = (mer.source == MODEL) & ~mer.mobile & (opened <= last) & (~closed | (closed_day > start))
    end = np.where(closed, closed_day, last)[observed]
    began = np.maximum(opened[observed], start)
    return (end - opened[observed]).astype(float), closed[observed], (began - opened[observed]).astype(float)


def _outlet_survival(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    durations, closed, entry = outlet_spells(model, sim)
    return kaplan_meier(durations, closed, target.years * DAYS_PER_YEAR, entry)


def _closure_rate(model: LifeCircleModel, wide: pd.DataFrame, target: TargetSpec, sim: SimulationConfig) -> float:
    deaths = float(np.nansum(wide["merchant_deaths"].to_numpy(dtype=float)))
    stock = float(np.nanmean(wide["merchants_open"].to_numpy(dtype=float)))
    years = measured_days(model, wide) / DAYS_PER_YEAR
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
    wide = measured(model, sim)
    return {name: STATISTIC_FUNCTIONS[t.statistic](model, wide, t, sim) for name, t in targets.items()}
