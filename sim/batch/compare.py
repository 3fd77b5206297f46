"""Comparing policy packages with the baseline: paired differences with t confidence intervals.

A run's outcome on an indicator is the mean of its last ``last_months`` collected values (default
3: the final quarter of the run, which damps month-to-month noise while still describing the end
state; ``last_months=1`` is the final value); a cumulative indicator's (unit "... (cumulative)", such
as public spending since the start) is its final value, the whole run's total. Package and baseline runs with the same design point
and replicate share their seed (common random numbers), so each package's effect is estimated
from the paired differences ``package - baseline`` over replicates (and design points): their mean,
with a 95 % Student-t interval ``mean +- t(0.975, n-1) * sd / sqrt(n)``. The same pairs are also
averaged over the periods of each package's lever timeline -- during support and after it ends --
(:func:`period_effects`, :mod:`sim.metrics.effects`), with the share of the effect that persists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.batch import store
from sim.batch.defaults import DEFAULT_LAST_MONTHS
from sim.scenario import ScenarioError


def batch_info(out: str | Path) -> dict:
    """The batch description written by :func:`sim.batch.run_batch` (``DIR/batch.json``)."""
    return store.read_batch_info(out)


def run_outcomes(out: str | Path, *, last_months: int = DEFAULT_LAST_MONTHS) -> pd.DataFrame:
    """One row per run and indicator: package, point, replicate, seed and the run's outcome.

    The outcome is the mean of the indicator over the run's last ``last_months`` collections; a
    cumulative indicator's is its last collection (the mean of a running total's last months falls
    short of the total by about one month's flow).
    """
    from sim.metrics.effects import running_totals

    if last_months < 1:
        raise ScenarioError(f"--last-months = {last_months}: allowed: an integer >= 1")
    runs = Path(out) / store.RUNS
    if not runs.is_dir() or not store.finished_runs(out):
        raise ScenarioError(f"{out}: no finished runs in {runs}")
    frame = store.read_runs(out, columns=["run_id", "package", "point", "replicate", "seed", "month",
                                          "indicator", "value"])
    months = int(frame.groupby("run_id")["month"].nunique().min())
    if last_months > months:  # every month would be used, under a title naming more than there are
        raise ScenarioError(f"--last-months = {last_months}: the runs of {out} have {months} month(s); allowed: "
                            f"1 to {months}")
    last = frame.groupby("run_id")["month"].transform("max")
    running_total = running_totals(frame["indicator"])
    frame = frame[(frame["month"] > last - last_months) & (~running_total | (frame["month"] == last))]
    keys = ["run_id", "package", "point", "replicate", "seed", "indicator"]
    return frame.groupby(keys, sort=True, observed=True)["value"].mean().reset_index()


def paired_effects(outcomes: pd.DataFrame, baseline: str, *, confidence: float = 0.95) -> pd.DataFrame:
    """Each package's paired mean difference from ``baseline`` per indicator, with a t interval.

    Args:
        outcomes: From :func:`run_outcomes`.
        baseline: The baseline package's name.
        confidence: Coverage of the interval.

    Returns:
        Columns package, indicator, n (pairs), baseline_mean, package_mean, mean_diff, sd_diff,
        ci_low, ci_high, relative_change (mean_diff / baseline_mean), significant (CI excludes 0),
        per_million_cny (mean_diff per million CNY of extra public spending, where the package
        spends more than the baseline and ``public_spending`` was kept: cost-effectiveness).
    """
    if baseline not in set(outcomes["package"]):
        raise ScenarioError(f"baseline package {baseline!r} has no finished runs")
    base = outcomes[outcomes["package"] == baseline][["point", "replicate", "indicator", "value"]]
    rows = []
    for package in [p for p in outcomes["package"].unique() if p != baseline]:
        pkg = outcomes[outcomes["package"] == package][["point", "replicate", "indicator", "value"]]
        pairs = pkg.merge(base, on=["point", "replicate", "indicator"], suffixes=("_pkg", "_base"))
        for indicator, group in pairs.groupby("indicator", sort=False):
            group = group.dropna(subset=["value_pkg", "value_base"])
            diff = (group["value_pkg"] - group["value_base"]).to_numpy()
            n = len(diff)
            mean = float(diff.mean()) if n else float("nan")
            sd = float(diff.std(ddof=1)) if n > 1 else float("nan")
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
            base_mean = float(group["value_base"].mean()) if n else float("nan")
            rows.append({
                "package": package, "indicator": indicator, "n": n, "baseline_mean": base_mean,
                "package_mean": float(group["value_pkg"].mean()) if n else float("nan"),
                "mean_diff": mean, "sd_diff": sd, "ci_low": mean - half, "ci_high": mean + half,
                "relative_change": mean / base_mean if base_mean else float("nan"),
                "significant": bool(n > 1 and (mean - half > 0 or mean + half < 0)),
            })
    effects = pd.DataFrame(rows)
    if effects.empty:
        return effects
    spending = effects[effects["indicator"] == "public_spending"].set_index("package")["mean_diff"]
    extra = effects["package"].map(spending)
    effects["per_million_cny"] = np.where(extra > 0, effects["mean_diff"] / extra * 1e6, np.nan)
    return effects


def _run_timelines(out: Path) -> dict[tuple[str, str], Any]:
    """The lever timeline (``levers`` config) of each (package, scenario hash), from the resolved
    scenarios the batch stored in ``DIR/scenarios``."""
    import tomllib

    from sim.scenario import LeversConfig

    timelines = {}
    for path in (out / "scenarios").glob("*.toml"):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        package, _, digest = path.stem.rpartition("-")
        timelines[(package, digest)] = LeversConfig.model_validate(data.get("levers", {}))
    return timelines


def period_effects(out: str | Path, baseline: str, *, by: tuple[str, ...] = ("package",),
                   confidence: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each package's paired effect per period of its lever timeline (year 1, year 3, during
    support, after support, end: :func:`sim.metrics.effects.periods`) and what persists after support.

    A package run and the baseline run of the same design point and replicate (same seed, same
    settled start) are averaged over the same months -- the package's periods -- and differenced.

    Returns:
        (effects: package, period, indicator, n, baseline_mean, policy_mean, effect, sd, ci_low,
        ci_high, significant, relative; persistence: package, indicator, n, effect_during,
        effect_after, share, share_low, share_high).
    """
    from sim.metrics.effects import paired_differences, period_means, periods, persistence, summarise

    out = Path(out)
    frame = store.read_runs(out, columns=["run_id", "package", "point", "replicate", "scenario_hash", "month",
                                          "indicator", "value"])
    timelines = _run_timelines(out)
    base = frame[frame["package"] == baseline]
    pairs = []
    for (package, digest), runs in frame[frame["package"] != baseline].groupby(["package", "scenario_hash"], observed=True):
        levers = timelines.get((package, digest))
        if levers is None:
            continue
        months = int(runs["month"].max())
        spans = periods(levers, months)
        keys = runs[["point", "replicate"]].drop_duplicates()
        matched = base.merge(keys, on=["point", "replicate"])
        policy = period_means(runs, ["point", "replicate"], spans)
        counterfactual = period_means(matched, ["point", "replicate"], spans)
        pairs.append(paired_differences(policy, counterfactual, ["point", "replicate"]).assign(package=package))
    if not pairs:
        return pd.DataFrame(), pd.DataFrame()
    pairs = pd.concat(pairs, ignore_index=True)
    pair_on = [c for c in ("point", "replicate") if c not in by]
    return (summarise(pairs, by=list(by), confidence=confidence),
            persistence(pairs, by=list(by), pair_on=pair_on, confidence=confidence))


FAMILY_CONFIDENCE = 0.95
"""Family-wise confidence of ``compare --by point``'s intervals, all comparisons together."""


def point_effects(out: str | Path, baseline: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each package's paired effect at each design point, per period of its lever timeline, over the
    point's replicates -- with a Bonferroni correction for the many comparisons: with ``m``
    (package, point, period, indicator) comparisons, each interval is at confidence ``1 - 0.05 / m``,
    so that all of them hold together with 95 % confidence (family-wise). Columns as
    :func:`period_effects`, plus the point's design values.

    Returns:
        (table, correction: {"method", "comparisons", "confidence_each", "family"}).
    """
    out = Path(out)
    first, _ = period_effects(out, baseline, by=("package", "point"))
    if first.empty:
        return first, {}
    m = int((first["n"] > 1).sum())
    each = 1.0 - (1.0 - FAMILY_CONFIDENCE) / max(m, 1)
    table, _ = period_effects(out, baseline, by=("package", "point"), confidence=each)
    design_file = out / "design.parquet"
    if design_file.is_file():
        design = pd.read_parquet(design_file)
        info = batch_info(out)
        categories = info.get("categories") or {}
        for name, cats in categories.items():
            design[name] = [cats[min(int(np.floor(v)), len(cats) - 1)] for v in design[name]]
        table = table.merge(design, on="point", how="left")
    correction = {"method": "Bonferroni", "comparisons": m, "confidence_each": each, "family": FAMILY_CONFIDENCE}
    return table, correction


def _percent(value: float) -> str:
    """A relative change as ``+12.3%``; ``n/a`` where it is undefined (a baseline of 0)."""
    return f"{value:+.1%}" if np.isfinite(value) else "n/a"


def format_effects(effects: pd.DataFrame, *, title: str) -> str:
    """The effects table as plain text for the terminal."""
    lines = [title, "=" * len(title)]
    header = (f"{'package':16s} {'indicator':28s} {'n':>4s} {'baseline':>11s} {'difference':>11s} "
              f"{'95% CI':>25s} {'change':>8s}")
    lines += [header, "-" * len(header)]
    for row in effects.itertuples():
        star = " *" if row.significant else ""
        lines.append(
            f"{row.package[:16]:16s} {row.indicator[:28]:28s} {row.n:4d} {row.baseline_mean:11.4g} "
            f"{row.mean_diff:+11.4g} {f'[{row.ci_low:+.4g}, {row.ci_high:+.4g}]':>25s} "
            f"{_percent(row.relative_change):>8s}{star}")
    lines.append("* the 95 % interval excludes zero; change n/a: the baseline is 0")
    return "\n".join(lines)


def effects_figure(effects: pd.DataFrame, path: str | Path, *, baseline: str, caption: str = "") -> Path:
    """One panel per indicator (display name and unit): each package's difference from the baseline
    with its 95 % CI; ``caption`` below (n and horizon)."""
    from sim.batch.labels import indicator_label
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    indicators = list(dict.fromkeys(effects["indicator"]))
    packages = list(dict.fromkeys(effects["package"]))
    cols = min(3, len(indicators)) or 1
    rows = int(np.ceil(len(indicators) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.5 * len(packages) * rows + 1.6 * rows),
                             squeeze=False)
    for ax, indicator in zip(axes.flat, indicators):
        sub = effects[effects["indicator"] == indicator].set_index("package").reindex(packages)
        y = np.arange(len(packages))
        ax.errorbar(sub["mean_diff"], y, xerr=[sub["mean_diff"] - sub["ci_low"], sub["ci_high"] - sub["mean_diff"]],
                    fmt="o", capsize=3, color="tab:blue")
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, packages)
        ax.invert_yaxis()
        ax.set_title(indicator_label(indicator), fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(indicators):]:
        ax.set_visible(False)
    fig.suptitle(f"Paired difference from '{baseline}' (mean, 95 % CI)", fontsize=10)
    fig.tight_layout()
    if caption:
        fig.text(0.01, 0.0, caption, fontsize=7, ha="left", va="top")
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def compare(out: str | Path, *, last_months: int = DEFAULT_LAST_MONTHS, baseline: str | None = None,
            figure: bool = True) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Compare every package with the baseline: the end-of-run effects (``DIR/compare.csv``,
    ``DIR/compare.png``), the evaluator's report when the batch kept the indicators of life circles
    (``DIR/evaluators_report.md``, :mod:`sim.batch.evaluator`), the effects per period of each package's lever timeline
    (``DIR/compare_periods.csv``) and the share of the effect during support that persists after it
    ends (``DIR/compare_persistence.csv``, when support ends within the runs)."""
    out = Path(out)
    info = batch_info(out)
    baseline = baseline or info["baseline"]
    if baseline not in info["packages"]:
        raise ScenarioError(f"--baseline {baseline!r}: not a package of this batch; packages: {', '.join(info['packages'])}")
    if len(info["packages"]) < 2:
        raise ScenarioError(f"{out}: the batch has one package ({baseline}); nothing to compare")
    outcomes = run_outcomes(out, last_months=last_months)
    effects = paired_effects(outcomes, baseline)
    paths = {"csv": out / "compare.csv"}
    from sim.io.atomic import atomic_write_bytes

    atomic_write_bytes(paths["csv"], effects.to_csv(index=False).encode())
    from sim.batch.evaluator import evaluator_report, has_circle_outcomes

    if has_circle_outcomes(outcomes) and not effects.empty:
        paths["evaluators_report"] = out / "evaluators_report.md"
        text = evaluator_report(effects, outcomes, baseline=baseline, title=info.get("name", out.name),
                                last_months=last_months)
        atomic_write_bytes(paths["evaluators_report"], text.encode())
    by_period, persisting = period_effects(out, baseline)
    if not by_period.empty:
        paths["periods"] = out / "compare_periods.csv"
        atomic_write_bytes(paths["periods"], by_period.to_csv(index=False).encode())
    if not persisting.empty:
        paths["persistence"] = out / "compare_persistence.csv"
        atomic_write_bytes(paths["persistence"], persisting.to_csv(index=False).encode())
    if figure and not effects.empty:
        pairs = int(effects["n"].max())
        caption = (f"n = up to {pairs} pairs (design points x replicates) per package; each run's outcome: the mean "
                   f"of its last {last_months} month(s) of {info['years']:g} measured years")
        paths["figure"] = effects_figure(effects, out / "compare.png", baseline=baseline, caption=caption)
    return effects, paths
