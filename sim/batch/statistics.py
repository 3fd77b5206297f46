"""Time-resolved statistics of an indicator's monthly series: end value, mean over a window,
cumulative, time to target -- per run, and as a batch's outcomes (``[outcomes]`` of a batch file).

The only statistic ``compare`` used before was the mean of a run's last N months. An outcome now
names a statistic and a window:

* ``end``: the mean of the window's last ``last_months`` months;
* ``mean``: the mean over the window;
* ``cumulative``: the sum over the window (for flows such as monthly public spending, CNY);
* ``time_to_target``: months from the window's start until the first month in which the indicator
  is at or above (``reach = "below"``: at or below) ``target`` -- 0 when it already is in the
  window's first month; a run that never gets there counts the window's length (censored, and said so).

The window is ``months = [first, last]`` (measured months, inclusive, 0 the first) or a period of
the run's own lever timeline (:func:`sim.metrics.effects.periods`: ``year 1``, ``year 3``, ``during support``,
``after support``, ``end``; ``all`` every measured month). A value collected at month ``m`` covers
month ``m - 1`` (:mod:`sim.metrics.effects`), so the window's months ``a .. b`` read the collections
``a + 1 .. b + 1``. An ``effect`` outcome is the run's statistic less that of the baseline run of the
same design point and seed over the same window (paired, as :mod:`sim.metrics.effects` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.metrics.effects import Period, periods


def statistic(values: np.ndarray, name: str, *, last_months: int = 3, target: float | None = None,
              reach: str = "above") -> float:
    """One statistic of a window's monthly values (in month order).

    Args:
        values: The indicator in each month of the window.
        name: ``end``, ``mean``, ``cumulative`` or ``time_to_target``.
        last_months: ``end``: months averaged.
        target: ``time_to_target``: the value to reach.
        reach: ``above`` (at or above the target) or ``below``.

    Returns:
        The statistic; NaN for an empty window.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan")
    if name == "end":
        return float(np.mean(values[-last_months:]))
    if name == "mean":
        return float(np.mean(values))
    if name == "cumulative":
        return float(np.sum(values))
    if name == "time_to_target":
        if target is None:
            raise ValueError("time_to_target needs a target")
        hit = values >= target if reach == "above" else values <= target
        return float(np.argmax(hit)) if hit.any() else float(values.size)
    raise ValueError(f"unknown statistic {name!r}; allowed: end, mean, cumulative, time_to_target")


def window(outcome: Any, levers: Any, months: int) -> Period | None:
    """The window of an outcome (an :class:`~sim.batch.spec.OutcomeSpec` or its dict) in a run of
    ``months`` measured months with lever timeline ``levers``; None when the run has no such period."""
    get = outcome.get if isinstance(outcome, dict) else lambda key, default=None: getattr(outcome, key, default)
    explicit = get("months")
    if explicit is not None:
        first, last = int(explicit[0]), min(int(explicit[1]), months - 1)
        return Period("months", first, last) if last >= first else None
    name = get("period", "all") or "all"
    if name == "all":
        return Period("all", 0, months - 1)
    for span in periods(levers, months):
        if span.name == name:
            return span
    return None


def run_values(series: pd.DataFrame, span: Period | None, outcome: Any) -> float:
    """An outcome's statistic on one run's series (``month``, ``value``) over ``span``."""
    if span is None:
        return float("nan")
    get = outcome.get if isinstance(outcome, dict) else lambda key, default=None: getattr(outcome, key, default)
    rows = series[span.collections(series["month"])].sort_values("month")
    return statistic(rows["value"].to_numpy(), get("statistic", "mean"), last_months=get("last_months", 3),
                     target=get("target"), reach=get("reach", "above"))


def describe(outcome: Any) -> str:
    """The statistic and window in words, for labels: "mean, after support", "time to 0.9, months 0-47"."""
    get = outcome.get if isinstance(outcome, dict) else lambda key, default=None: getattr(outcome, key, default)
    name = get("statistic", "mean")
    if name == "time_to_target":
        what = f"months to {'reach' if get('reach', 'above') == 'above' else 'fall to'} {get('target'):g}"
    else:
        what = {"end": f"end (last {get('last_months', 3)} months)", "mean": "mean", "cumulative": "cumulative"}[name]
    months = get("months")
    where = f"months {months[0]}-{months[1]}" if months is not None else get("period", "all")
    text = what if where == "all" else f"{what}, {where}"
    return f"effect vs baseline: {text}" if get("effect", False) else text
