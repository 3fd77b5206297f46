"""Global sensitivity analysis of a batch with SALib: Sobol' or Morris indices per indicator.

The analysis uses the very sample the batch's design drew (``DIR/design_drawn.parquet`` where the runs
rounded an integer key, else ``DIR/design.parquet``; in its order),
so the SALib analyser matches its sampler: ``SALib.analyze.sobol`` for a ``sobol`` design,
``SALib.analyze.morris`` for a ``morris`` design. A design point's output is its runs' outcome
(:func:`sim.batch.compare.run_outcomes`) averaged over replicates. :func:`indices` is the single
path from (problem, X, Y) to a table; the Ishigami known-answer test goes through it too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.batch import store
from sim.batch.compare import DEFAULT_LAST_MONTHS, batch_info, run_outcomes
from sim.scenario import ScenarioError

COLUMNS = {
    "sobol": ["S1", "S1_conf", "ST", "ST_conf"],
    "morris": ["mu", "mu_star", "mu_star_conf", "sigma"],
}


def indices(problem: dict, method: str, X: np.ndarray, Y: np.ndarray, *, second_order: bool = False,
            morris_levels: int = 4, seed: int = 0) -> pd.DataFrame:
    """Sensitivity indices of output ``Y`` to each parameter of ``problem``.

    Args:
        problem: SALib problem dict.
        method: ``sobol`` (Saltelli sample) or ``morris`` (trajectories).
        X: The design matrix as sampled (Morris needs it; Sobol only its row count).
        Y: One output per row of ``X``.
        second_order: Sobol: the sample includes second-order rows.
        morris_levels: Morris grid levels used by the sampler.
        seed: Seed of the bootstrap confidence intervals.

    Returns:
        One row per parameter: ``S1, S1_conf, ST, ST_conf`` (sobol) or
        ``mu, mu_star, mu_star_conf, sigma`` (morris). A constant output gives zeros.
    """
    Y = np.asarray(Y, dtype=float)
    names = problem["names"]
    if method not in COLUMNS:
        raise ScenarioError(f"sensitivity needs a 'sobol' or 'morris' design, not {method!r}")
    if len(Y) != len(X):
        raise ScenarioError(f"sensitivity: {len(Y)} outputs for {len(X)} design points")
    if np.ptp(Y) == 0:
        return pd.DataFrame({"parameter": names, **{c: 0.0 for c in COLUMNS[method]}})
    if method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, Y, calc_second_order=second_order, print_to_console=False, seed=seed)
        table = pd.DataFrame({"parameter": names, **{c: np.asarray(res[c], dtype=float) for c in COLUMNS[method]}})
        if second_order:
            table.attrs["S2"] = second_order_table(names, np.asarray(res["S2"], dtype=float),
                                                   np.asarray(res["S2_conf"], dtype=float))
        return table
    else:
        from SALib.analyze import morris

        res = morris.analyze(problem, np.asarray(X, dtype=float), Y, num_levels=morris_levels,
                             print_to_console=False, seed=seed)
    return pd.DataFrame({"parameter": names, **{c: np.asarray(res[c], dtype=float) for c in COLUMNS[method]}})


def second_order_table(names: list[str], S2: np.ndarray, S2_conf: np.ndarray) -> pd.DataFrame:
    """Second-order Sobol' indices as rows (parameter, other, S2, S2_conf), each pair once (i < j)."""
    rows = [{"parameter": names[i], "other": names[j], "S2": float(S2[i, j]), "S2_conf": float(S2_conf[i, j])}
            for i in range(len(names)) for j in range(i + 1, len(names))]
    return pd.DataFrame(rows, columns=["parameter", "other", "S2", "S2_conf"])


INDEX_RANGE = (-0.05, 1.05)
"""Sobol' indices outside this range are estimation noise (they lie in [0, 1])."""
WIDE_CONF = 0.1
"""A confidence half-width above this (in index units; for Morris, relative to mu*) is called wide."""


def stability_warnings(table: pd.DataFrame, method: str, samples: int, *, s2: pd.DataFrame | None = None) -> list[str]:
    """Warnings for indices that cannot be trusted: outside [-0.05, 1.05] (Sobol'), or with a wide
    bootstrap interval -- each saying how many more samples would narrow it to :data:`WIDE_CONF`
    (the half-width shrinks as 1/sqrt(N): N x (width / 0.1)^2, a power of two for Sobol')."""
    notes = []
    if table.empty:
        return notes
    if method == "sobol":
        pairs = [("S1", "S1_conf"), ("ST", "ST_conf")]
        frames = [(table, pairs)] + ([(s2, [("S2", "S2_conf")])] if s2 is not None and not s2.empty else [])
        worst = 0.0
        for frame, cols in frames:
            for value, conf in cols:
                for row in frame.itertuples(index=False):
                    v, c = getattr(row, value), getattr(row, conf)
                    where = f"{getattr(row, 'indicator', '')} / {row.parameter}" + (
                        f" x {row.other}" if value == "S2" else "")
                    if not INDEX_RANGE[0] <= v <= INDEX_RANGE[1]:
                        notes.append(f"{value} = {v:.3g} for {where} lies outside [{INDEX_RANGE[0]}, {INDEX_RANGE[1]}]: "
                                     f"estimation noise, not an effect")
                    if np.isfinite(c) and c > WIDE_CONF:
                        worst = max(worst, c)
                        notes.append(f"{value} = {v:.3g} +- {c:.3g} for {where}: a wide interval")
        if worst > WIDE_CONF:
            factor = (worst / WIDE_CONF) ** 2
            need = 1 << int(np.ceil(np.log2(samples * factor)))
            notes.append(f"to narrow every interval to +- {WIDE_CONF}: about {factor:.0f}x the samples, "
                         f"samples = {need} (now {samples})")
    elif method == "morris":
        worst = 0.0
        for row in table.itertuples(index=False):
            if row.mu_star > 0 and row.mu_star_conf / row.mu_star > 0.5:
                worst = max(worst, row.mu_star_conf / row.mu_star)
                notes.append(f"mu* = {row.mu_star:.3g} +- {row.mu_star_conf:.3g} for {row.indicator} / "
                             f"{row.parameter}: a wide interval")
        if worst > 0.5:
            factor = (worst / 0.5) ** 2
            notes.append(f"to narrow every mu* interval to half of mu*: about {factor:.0f}x the trajectories, "
                         f"samples = {int(np.ceil(samples * factor))} (now {samples})")
    return notes


def analyze(out: str | Path, *, package: str | None = None, last_months: int = DEFAULT_LAST_MONTHS,
            figure: bool = True) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Indices of every indicator of one package; writes ``DIR/sensitivity.csv`` and ``.png``.

    Raises:
        ScenarioError: the design is not sobol/morris, or design points have no finished run.
    """
    out = Path(out)
    info = batch_info(out)
    method = info["design"]
    if method not in COLUMNS:
        raise ScenarioError(f"{out}: design.method = {method!r}; Sobol' and Morris indices need a 'sobol' or 'morris' "
                            f"design. For any design, `lifecircle discover {out} --outcome NAME --threshold T` ranks "
                            f"every uncertainty and lever by feature scores (extra trees, EMA Workbench)")
    package = package or info["baseline"]
    if package not in info["packages"]:
        raise ScenarioError(f"--package {package!r}: not a package of this batch; packages: {', '.join(info['packages'])}")
    design = store.read_drawn_design(out).sort_values("point")  # the sample as SALib drew it
    problem = info["problem"]
    X = design[problem["names"]].to_numpy(dtype=float)
    outcomes = run_outcomes(out, last_months=last_months)
    outcomes = outcomes[outcomes["package"] == package]
    per_point = outcomes.groupby(["indicator", "point"])["value"].mean().unstack("point")
    missing = sorted(set(range(len(X))) - set(per_point.columns))
    if missing:
        raise ScenarioError(
            f"{out}: package '{package}' has no finished run at {len(missing)} of {len(X)} design points "
            f"(first: {missing[:5]}); finish or rerun the batch (failed runs are retried) before the analysis")
    opts = info.get("design_options", {})
    tables, seconds = [], []
    for indicator, row in per_point.iterrows():
        Y = row.reindex(range(len(X))).to_numpy(dtype=float)
        if np.isnan(Y).any():
            continue  # an indicator undefined somewhere (e.g. no disabled job seekers) has no indices
        table = indices(problem, method, X, Y, second_order=opts.get("second_order", False),
                        morris_levels=opts.get("morris_levels", 4), seed=opts.get("seed", 0) or 0)
        table.insert(0, "indicator", indicator)
        if "S2" in table.attrs:
            s2 = table.attrs.pop("S2")
            s2.insert(0, "indicator", indicator)
            seconds.append(s2)
        tables.append(table)
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    from sim.io.atomic import atomic_write_bytes

    paths = {"csv": out / "sensitivity.csv"}
    atomic_write_bytes(paths["csv"], result.to_csv(index=False).encode())
    if seconds:
        s2_table = pd.concat(seconds, ignore_index=True)
        result.attrs["S2"] = s2_table
        paths["s2"] = out / "sensitivity_s2.csv"
        atomic_write_bytes(paths["s2"], s2_table.to_csv(index=False).encode())
    samples = _base_samples(info, len(X))
    result.attrs["warnings"] = stability_warnings(result, method, samples, s2=result.attrs.get("S2"))
    if figure and not result.empty:
        caption = (f"n = {len(X)} design points ({method}, samples = {samples}), each the mean over "
                   f"{info['replications']} replicate(s); outcome: mean of the last {last_months} month(s) of "
                   f"{info['years']:g} measured years")
        paths["figure"] = _figure(result, method, out / "sensitivity.png", package=package, caption=caption)
    return result, paths


def _base_samples(info: dict, points: int) -> int:
    """The design's ``samples`` (Sobol' base N, Morris trajectories) from its size."""
    d = len(info["problem"]["names"])
    if info["design"] == "sobol":
        return points // ((2 * d + 2) if info.get("design_options", {}).get("second_order") else (d + 2))
    return points // (d + 1)


def format_indices(table: pd.DataFrame, method: str, *, title: str) -> str:
    """The indices as plain text."""
    cols = COLUMNS[method]
    lines = [title, "=" * len(title)]
    header = f"{'indicator':28s} {'parameter':36s} " + " ".join(f"{c:>12s}" for c in cols)
    lines += [header, "-" * len(header)]
    for row in table.itertuples(index=False):
        values = " ".join(f"{getattr(row, c):12.4g}" for c in cols)
        lines.append(f"{row.indicator[:28]:28s} {row.parameter[:36]:36s} {values}")
    s2 = table.attrs.get("S2")
    if s2 is not None and not s2.empty:
        lines += ["", "Second-order indices S2 (interaction of two parameters):",
                  f"{'indicator':28s} {'parameter':30s} {'other':30s} {'S2':>10s} {'S2_conf':>10s}"]
        for row in s2.itertuples(index=False):
            lines.append(f"{row.indicator[:28]:28s} {row.parameter[:30]:30s} {row.other[:30]:30s} "
                         f"{row.S2:10.4g} {row.S2_conf:10.4g}")
    notes = table.attrs.get("warnings") or []
    if notes:
        lines += ["", f"WARNING: {len(notes)} note(s) on unstable indices:"] + [f"  {n}" for n in notes]
    return "\n".join(lines)


def _figure(table: pd.DataFrame, method: str, path: Path, *, package: str, caption: str = "") -> Path:
    import textwrap

    from sim.batch.labels import indicator_label, key_label
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    indicators = list(dict.fromkeys(table["indicator"]))
    cols = min(3, len(indicators))
    rows = int(np.ceil(len(indicators) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, indicator in zip(axes.flat, indicators):
        sub = table[table["indicator"] == indicator]
        y = np.arange(len(sub))
        if method == "sobol":
            ax.barh(y - 0.2, sub["S1"], 0.4, xerr=sub["S1_conf"], label="first order S1", color="tab:blue")
            ax.barh(y + 0.2, sub["ST"], 0.4, xerr=sub["ST_conf"], label="total ST", color="tab:orange")
        else:
            ax.barh(y, sub["mu_star"], 0.6, xerr=sub["mu_star_conf"], label="mu*", color="tab:blue")
        ax.set_yticks(y, [textwrap.fill(key_label(k), 24) for k in sub["parameter"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(indicator_label(indicator), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(indicators):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    label = "Sobol' indices" if method == "sobol" else "Morris mu* (elementary effects)"
    fig.suptitle(f"{label}, package '{package}'", fontsize=10)
    fig.tight_layout()
    if caption:
        fig.text(0.01, 0.0, caption, fontsize=7, ha="left", va="top")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
