"""Policy effects as paired differences from the counterfactual, by period of the lever timeline.

A lever's effect is never a change within one run (the district keeps moving for reasons of its
own): it is the difference between the policy run and the baseline run of the same seed -- the
same settled start, the same random streams for everything the levers do not touch -- averaged
over a period, then over seeds with a Student-t interval. The periods (:func:`periods`) follow the
scenario's lever timeline: year 1, year 3, the months while support lasts, the months after it ends,
and the last months of the run. The *persistence share* is the effect after support over the
effect during support (ratio of the means over seeds), with a percentile bootstrap interval over
seeds.

A value collected at month ``m`` covers month ``m - 1`` (see :meth:`sim.model.LifeCircleModel.collect`),
so a period of months ``a .. b`` (inclusive, month 0 the first measured month) reads the
collections ``a + 1 .. b + 1``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20240101
"""The bootstrap of the persistence share draws from its own seeded generator (reproducible): one
per (``by``, indicator) group, seeded from this and the group's names (:func:`_group_rng`), so a
group's interval is the same whatever other groups are summarised with it."""


@dataclass(frozen=True)
class Period:
    """Months ``first .. last`` (inclusive; month 0 is the first measured month)."""

    name: str
    first: int
    last: int

    def collections(self, months: pd.Series) -> pd.Series:
        """Mask of the collections (labelled ``month``) that cover this period."""
        return (months >= self.first + 1) & (months <= self.last + 1)


def support_span(levers) -> tuple[int, int | None] | None:
    """(first month any enabled lever acts, month the last support ends or None if some never
    ends) of a scenario's ``levers`` config; None when no lever is enabled."""
    enabled = [cfg for cfg in (getattr(levers, name) for name in type(levers).model_fields) if cfg.enabled]
    if not enabled:
        return None
    start = min(cfg.start_month for cfg in enabled)
    ends = [cfg.end_month for cfg in enabled]
    return start, None if any(e is None for e in ends) else max(ends)


def periods(levers, months: int, *, last_months: int = 12) -> list[Period]:
    """The periods effects are reported for, for a run of ``months`` measured months.

    ``year 1`` and ``year 3`` (months 0-11 and 24-35), ``during support`` (from the first lever's
    start to the month before the last support ends, or to the end of the run), ``after support``
    (from that end to the end of the run), and ``end`` (the last ``last_months`` months). Periods
    the run does not reach are left out.
    """
    out = []
    for name, first, last in (("year 1", 0, 11), ("year 3", 24, 35)):
        if last < months:
            out.append(Period(name, first, last))
    span = support_span(levers)
    if span is not None:
        start, end = span
        during_last = months - 1 if end is None else min(end, months) - 1
        if during_last >= start:
            out.append(Period("during support", start, during_last))
        if end is not None and end < months:
            out.append(Period("after support", end, months - 1))
    out.append(Period("end", max(0, months - last_months), months - 1))
    return out


def period_means(frame: pd.DataFrame, keys: list[str], spans: list[Period]) -> pd.DataFrame:
    """Mean of each indicator over each period, per run; for a running total (an indicator whose
    unit ends in "(cumulative)", such as ``public_spending``), what it added per month over the
    period: its value at the period's last collection less its value before the period (0 before
    the first measured month), over the period's months. The mean of a running total over a period
    would count what was spent before the period again in every month of it.

    Args:
        frame: Tidy rows with ``keys`` (identifying a run, e.g. ``["seed"]``), ``month``,
            ``indicator`` and ``value``.
        keys: The columns identifying a run.
        spans: The periods.

    Returns:
        Columns ``keys``, ``period``, ``indicator``, ``value``.
    """
    running = running_totals(frame["indicator"])
    parts = []
    for span in spans:
        rows = frame[span.collections(frame["month"]) & ~running]
        if not rows.empty:
            means = rows.groupby([*keys, "indicator"], sort=True, observed=True)["value"].mean().reset_index()
            parts.append(means.assign(period=span.name))
        added = _added_per_month(frame[running], keys, span)
        if not added.empty:
            parts.append(added.assign(period=span.name))
    if not parts:
        return pd.DataFrame(columns=[*keys, "period", "indicator", "value"])
    return pd.concat(parts, ignore_index=True)[[*keys, "period", "indicator", "value"]]


def running_totals(indicators: pd.Series) -> np.ndarray:
    """Mask of the rows whose indicator (or family, before its ``.``) is a running total: its unit
    ends in "(cumulative)"."""
    from sim.metrics.indicators import REGISTRY

    cumulative = {name for name, ind in REGISTRY.items() if ind.unit.endswith("(cumulative)")}
    return indicators.astype(str).str.split(".").str[0].isin(cumulative).to_numpy()


def _added_per_month(frame: pd.DataFrame, keys: list[str], span: Period) -> pd.DataFrame:
    """Per run and running-total indicator: (value at the period's last collection - value at the
    collection before the period, 0 for the first measured month) / the period's months. A run
    without the period's last collection is left out."""
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "indicator", "value"])
    end = frame[frame["month"] == span.last + 1].set_index([*keys, "indicator"])["value"]
    if end.empty:
        return pd.DataFrame(columns=[*keys, "indicator", "value"])
    if span.first == 0:
        before = pd.Series(0.0, index=end.index)
    else:
        before = frame[frame["month"] == span.first].set_index([*keys, "indicator"])["value"].reindex(end.index)
    added = (end - before) / (span.last - span.first + 1)
    return added.dropna().rename("value").reset_index()


def paired_differences(policy: pd.DataFrame, baseline: pd.DataFrame, pair_on: list[str]) -> pd.DataFrame:
    """Per pair (same ``pair_on`` values: seed, design point ...), period and indicator: the policy
    value, the baseline value and their difference."""
    merged = policy.merge(baseline, on=[*pair_on, "period", "indicator"], suffixes=("_policy", "_baseline"))
    merged["difference"] = merged["value_policy"] - merged["value_baseline"]
    return merged


def summarise(pairs: pd.DataFrame, *, by: list[str] | None = None, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean paired difference per (``by``, period, indicator) with a Student-t interval over pairs.

    Columns: ``by``, period, indicator, n, baseline_mean, policy_mean, effect, sd, ci_low,
    ci_high, significant (the interval excludes 0), relative (effect over the baseline mean;
    nan when the baseline mean is 0).
    """
    from scipy import stats  # 0.4 s to import: only when effects are summarised, not on every run

    groups = [*(by or []), "period", "indicator"]
    rows = []
    for key, group in pairs.groupby(groups, sort=False, observed=True):
        diff = group["difference"].dropna().to_numpy()
        n = len(diff)
        mean = float(diff.mean()) if n else float("nan")
        sd = float(diff.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        paired = group[group["difference"].notna()]  # the means of the pairs the effect is over
        base = float(paired["value_baseline"].mean()) if n else float("nan")
        rows.append({**dict(zip(groups, key if isinstance(key, tuple) else (key,))), "n": n,
                     "baseline_mean": base, "policy_mean": float(paired["value_policy"].mean()) if n else float("nan"),
                     "effect": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half,
                     "significant": bool(n > 1 and (mean - half > 0 or mean + half < 0)),
                     "relative": mean / base if base else float("nan")})
    return pd.DataFrame(rows)


def _group_rng(key: object) -> np.random.Generator:
    """The bootstrap generator of one group: :data:`BOOTSTRAP_SEED` and the group's names (its
    ``by`` values and indicator, as text) as the seed's entropy."""
    names = key if isinstance(key, tuple) else (key,)
    words = np.frombuffer(hashlib.sha256("\x1f".join(map(str, names)).encode()).digest(), dtype=np.uint32)
    return np.random.default_rng([BOOTSTRAP_SEED, *words.tolist()])


def persistence(pairs: pd.DataFrame, *, by: list[str] | None = None, pair_on: list[str],
                confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Share of the effect during support that remains after it ends, per (``by``, indicator).

    The share is mean(effect after) / mean(effect during) over pairs; its interval is a percentile
    bootstrap over pairs (resampling whole pairs, so during and after stay together). nan where an
    effect during support is 0 or the run has no period after support.

    Columns: ``by``, indicator, n, effect_during, effect_after, share, share_low, share_high.
    """
    wide = pairs[pairs["period"].isin(["during support", "after support"])].pivot_table(
        index=[*(by or []), "indicator", *pair_on], columns="period", values="difference", observed=True)
    if wide.empty or not {"during support", "after support"} <= set(wide.columns):
        return pd.DataFrame(columns=[*(by or []), "indicator", "n", "effect_during", "effect_after", "share",
                                     "share_low", "share_high"])
    rows = []
    for key, group in wide.groupby(level=[*(by or []), "indicator"], sort=False):
        d = group["during support"].to_numpy()
        a = group["after support"].to_numpy()
        keep = ~(np.isnan(d) | np.isnan(a))
        d, a = d[keep], a[keep]
        n = len(d)
        share = float(a.mean() / d.mean()) if n and d.mean() != 0 else float("nan")
        low = high = float("nan")
        if n > 1 and np.isfinite(share):
            idx = _group_rng(key).integers(0, n, size=(BOOTSTRAP_DRAWS, n))
            dm = d[idx].mean(axis=1)
            am = a[idx].mean(axis=1)
            ratios = np.where(dm != 0, am / np.where(dm != 0, dm, 1.0), np.nan)
            ratios = ratios[np.isfinite(ratios)]
            if len(ratios):
                low, high = (float(q) for q in np.quantile(ratios, [0.5 - confidence / 2, 0.5 + confidence / 2]))
        names = [*(by or []), "indicator"]
        rows.append({**dict(zip(names, key if isinstance(key, tuple) else (key,))), "n": n,
                     "effect_during": float(d.mean()) if n else float("nan"),
                     "effect_after": float(a.mean()) if n else float("nan"),
                     "share": share, "share_low": low, "share_high": high})
    return pd.DataFrame(rows)
