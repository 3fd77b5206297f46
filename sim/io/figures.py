"""Figures of a run: the coverage map and the indicator time series (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from sim.city.outlet_sources import SYNTHESISED, map_caption  # noqa: E402

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

SERIES = {
    "access": ["basic_coverage_5", "basic_coverage_10", "basic_coverage_15", "needs_met_share"],
    "employment": ["employment_rate", "local_job_share", "disability_employment_gap"],
    "income": ["income_mean", "income_median", "freelancer_income_mean"],
}


def node_coverage(model: LifeCircleModel, minutes: float = 15.0) -> np.ndarray:
    """Per node: share of its residents with every basic category within ``minutes`` (nan: nobody)."""
    from sim.metrics.indicators import walk_minutes

    pop = model.population
    covered = (walk_minutes(model, model.catalogue.basic_ids) <= minutes).all(axis=1)
    n = model.city.graph.shape[0]
    residents = np.bincount(pop.home, minlength=n)
    hits = np.bincount(pop.home, weights=covered, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(residents > 0, hits / residents, np.nan)


def coverage_map(model: LifeCircleModel, ax: plt.Axes | None = None) -> plt.Figure:
    """Map of the city: streets, homes coloured by 15-minute basic coverage, outlets on top
    (filled: from the map, a POI table or opened during the run; hollow: synthesised)."""
    city = model.city
    fig, ax = (plt.subplots(figsize=(8, 8)) if ax is None else (ax.figure, ax))
    xy = city.node_xy
    segments = np.stack([xy[city.edges[:, 0]], xy[city.edges[:, 1]]], axis=1)
    ax.add_collection(LineCollection(segments, colors="0.8", linewidths=0.6, zorder=1))
    cov = node_coverage(model)
    homes = np.isfinite(cov)
    sc = ax.scatter(xy[homes, 0], xy[homes, 1], c=cov[homes], cmap="RdYlGn", vmin=0, vmax=1,
                    s=12 + 40 * model.residents_at_node[homes] / max(model.residents_at_node.max(), 1),
                    zorder=2, linewidths=0)
    fig.colorbar(sc, ax=ax, shrink=0.7, label="share of residents with every basic service within 15 min")
    mer = model.merchants
    open_ids = mer.open_ids()
    basic = model.catalogue.basic[mer.category[open_ids]]
    # Synthesised outlets (no map or table data for their category) are drawn hollow.
    synthesised = mer.source[open_ids] == SYNTHESISED
    for group, marker, colour, label in ((basic, "s", "navy", "basic-guarantee outlet"),
                                         (~basic, "^", "purple", "quality outlet")):
        real, fake = open_ids[group & ~synthesised], open_ids[group & synthesised]
        ax.scatter(xy[mer.node[real], 0], xy[mer.node[real], 1], marker=marker, s=14, c=colour,
                   label=label, zorder=3)
        if len(fake):
            ax.scatter(xy[mer.node[fake], 0], xy[mer.node[fake], 1], marker=marker, s=16, facecolors="none",
                       edgecolors=colour, linewidths=0.8, zorder=3,
                       label=f"{label}, synthesised ({len(fake)}: no map or table data)")
    ax.set_aspect("equal")
    ax.autoscale()
    ax.set_xlabel("metres east")
    ax.set_ylabel("metres north")
    ax.set_title(f"{city.name}: 15-minute basic coverage on {model.date}")
    ax.legend(loc="upper right", fontsize=8)
    if city.attribution:
        ax.annotate(city.attribution, (0.01, 0.01), xycoords="axes fraction", fontsize=7, color="0.3")
    ax.annotate(map_caption(model), (0.0, -0.08), xycoords="axes fraction", va="top", fontsize=6, color="0.2")
    return fig


def timeseries_figure(frame: pd.DataFrame, group: str) -> plt.Figure:
    """Indicators of one group (access, employment, income) over time."""
    from sim.view.teaching import indicator_label, indicator_unit

    fig, ax = plt.subplots(figsize=(8, 4))
    units = []
    for name in SERIES[group]:
        series = frame[frame["indicator"] == name]
        if not series.empty:
            ax.plot(series["date"], series["value"], label=indicator_label(name))
            units.append(indicator_unit(name))
    if units:
        ax.set_ylabel(" / ".join(dict.fromkeys(units)))
    ax.set_title(f"{group} indicators")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def write_figures(model: LifeCircleModel, frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write the coverage map and one time-series figure per group; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    fig = coverage_map(model)
    paths["map"] = folder / "coverage_map.png"
    fig.savefig(paths["map"], dpi=120, bbox_inches="tight")
    plt.close(fig)
    for group in SERIES:
        fig = timeseries_figure(frame, group)
        paths[group] = folder / f"{group}.png"
        fig.savefig(paths[group], dpi=120, bbox_inches="tight")
        plt.close(fig)
    return paths
