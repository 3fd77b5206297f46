"""Figures of the EMA Workbench analyses, drawn by the Workbench's own plotting functions where it
has them (PRIM's trade-off and box, envelopes, pairs scatter), with lifecircle's display names and
units (:mod:`sim.batch.labels`) in place of column names, and a caption that states n and the horizon.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.batch.ema import TIME, workbench


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: Path, caption: str) -> Path:
    """Put the caption under everything drawn (tick labels included) and save."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    height = fig.get_size_inches()[1]
    fig.text(box.x0 / fig.get_size_inches()[0], box.y0 / height - 0.01, caption, fontsize=7, ha="left", va="top",
             wrap=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def tradeoff(box: Any, path: Path, *, title: str, caption: str) -> Path:
    """PRIM's peeling trajectory: coverage against density, coloured by restricted dimensions (the
    Workbench's ``PrimBox.show_tradeoff``), the chosen box marked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = box.prim_box.show_tradeoff()
    ax = fig.axes[0]
    ax.scatter([box.coverage], [box.density], s=120, facecolors="none", edgecolors="black", zorder=5,
               label=f"chosen box ({box.index})")
    ax.set_xlabel("Coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("Density (share of the box's experiments that are cases)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"PRIM peeling trajectory: {title}", fontsize=9)
    fig.set_size_inches(6.5, 5)
    return _finish(fig, path, caption)


def box_limits(box: Any, x: pd.DataFrame, path: Path, *, labels: dict[str, str], title: str, caption: str) -> Path:
    """The chosen box's limits on each restricted variable, against the variable's whole range."""
    plt = _pyplot()
    limits = box.limits
    fig, ax = plt.subplots(figsize=(7, 0.6 * max(len(limits), 1) + 1.6))
    for i, (name, row) in enumerate(limits.iterrows()):
        if row["values"]:
            ax.text(0.5, i, f"{{{row['values']}}} of {{{', '.join(sorted(map(str, x[name].unique())))}}}",
                    ha="center", va="center", fontsize=8)
            continue
        low, high = float(x[name].min()), float(x[name].max())
        span = (high - low) or 1.0
        ax.plot([0, 1], [i, i], color="lightgrey", lw=6, solid_capstyle="butt")
        ax.plot([(row["min"] - low) / span, (row["max"] - low) / span], [i, i], color="tab:blue", lw=6,
                solid_capstyle="butt")
        ax.text(0, i + 0.3, f"{low:.3g}", fontsize=7, ha="left")
        ax.text(1, i + 0.3, f"{high:.3g}", fontsize=7, ha="right")
        ax.text((row["min"] - low) / span, i - 0.35, f"{row['min']:.3g}", fontsize=7, ha="center", color="tab:blue")
        ax.text((row["max"] - low) / span, i - 0.35, f"{row['max']:.3g}", fontsize=7, ha="center", color="tab:blue")
    ax.set_yticks(range(len(limits)), [labels.get(n, n) for n in limits.index], fontsize=8)
    ax.set_xticks([])
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.8, max(len(limits), 1) - 0.2)
    ax.invert_yaxis()
    ax.set_title(f"{title}\ncoverage {box.coverage:.0%}, density {box.density:.0%}, mass {box.mass:.0%} "
                 f"(grey: the sampled range, blue: the box)", fontsize=9)
    return _finish(fig, path, caption)


def scores_heatmap(scores: pd.DataFrame, path: Path, *, rows: dict[str, str], columns: dict[str, str],
                   caption: str) -> Path:
    """Feature scores: variables (rows) by outcomes (columns), shaded and annotated."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 * len(scores.columns) + 4.5, 0.45 * len(scores) + 2.2))
    image = ax.imshow(scores.to_numpy(dtype=float), cmap="viridis", aspect="auto", vmin=0)
    for i in range(scores.shape[0]):
        for j in range(scores.shape[1]):
            ax.text(j, i, f"{scores.iat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set_yticks(range(len(scores)), [rows.get(r, r) for r in scores.index], fontsize=8)
    ax.set_xticks(range(len(scores.columns)), [columns.get(c, c) for c in scores.columns], fontsize=7,
                  rotation=30, ha="right")
    fig.colorbar(image, ax=ax, label="feature score (share of the outcome's explained variation)")
    ax.set_title("Which uncertainties and levers drive each outcome", fontsize=9)
    return _finish(fig, path, caption)


def envelopes(experiments: pd.DataFrame, outcomes: dict[str, np.ndarray], series: list[str], path: Path, *,
              labels: dict[str, str], caption: str, units: dict[str, str] | None = None) -> Path:
    """Envelopes (the Workbench's ``plotting.envelopes``) of each outcome indicator over the measured
    months, with the baseline's and the lever mixes' experiments as two groups."""
    workbench()
    from ema_workbench.analysis import plotting

    grouped = experiments.copy()
    declared = sorted({str(p) for p in grouped["policy"] if not str(p).startswith("mix-")})
    packages = (f"{declared[0]} (every lever off)" if declared == ["baseline"] else "declared packages")
    grouped["arm"] = np.where(grouped["policy"].astype(str).str.startswith("mix-"), "lever mixes", packages)
    if grouped["arm"].nunique() == 1:
        grouped["arm"] = grouped["policy"].astype(str) if grouped["policy"].nunique() <= 6 else "all"
    grouped["arm"] = grouped["arm"].astype("category")  # the Workbench groups categories, bins numbers
    shown = {k: outcomes[k] for k in series}
    shown[TIME] = outcomes[TIME]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig, axes = plotting.envelopes(grouped, shown, outcomes_to_show=series, group_by="arm", fill=True,
                                       ylabels={k: (units or {}).get(k, "") for k in series},
                                       titles={k: labels.get(k, k) for k in series})
    for ax in axes.values():
        ax.set_xlabel("Measured month (levers act from month 0)")
    fig.set_size_inches(7, 3.0 * len(series))
    fig.subplots_adjust(hspace=0.55)
    return _finish(fig, path, caption)


def pairs(experiments: pd.DataFrame, outcomes: dict[str, np.ndarray], names: list[str], path: Path, *,
          labels: dict[str, str], caption: str) -> Path:
    """Pairs scatter of scalar outcomes (the Workbench's ``pairs_plotting.pairs_scatter``)."""
    workbench()
    from ema_workbench.analysis import pairs_plotting

    shown = {k: outcomes[k] for k in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig, _ = pairs_plotting.pairs_scatter(experiments, shown, outcomes_to_show=names, legend=False,
                                              ylabels={k: labels.get(k, k) for k in names})
    fig.set_size_inches(3.2 * len(names) + 1, 3.2 * len(names) + 1)
    import textwrap

    for ax in fig.axes:
        ax.tick_params(labelsize=6)
        for text in (ax.xaxis.label, ax.yaxis.label):
            text.set_fontsize(7)
            text.set_text(textwrap.fill(text.get_text(), 34))
        for text in ax.texts:  # the names on the diagonal
            text.set_fontsize(8)
            text.set_text(textwrap.fill(text.get_text(), 24))
    return _finish(fig, path, caption)


def pareto(frame: pd.DataFrame, x: str, y: str, colour: str, path: Path, *, labels: dict[str, str], title: str,
           caption: str, budget: float | None = None) -> Path:
    """A Pareto set of lever mixes: two objectives on the axes, the third as colour."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    points = ax.scatter(frame[x], frame[y], c=frame[colour], cmap="viridis", s=45, edgecolors="black", lw=0.5)
    fig.colorbar(points, ax=ax, label=labels.get(colour, colour))
    ax.set_xlabel(labels.get(x, x))
    ax.set_ylabel(labels.get(y, y))
    ax.set_title(title, fontsize=9)
    if budget is not None:
        ax.text(0.99, 0.01, f"budget: {budget:,.0f}", transform=ax.transAxes, ha="right", fontsize=7)
    return _finish(fig, path, caption)
