"""What a calibration writes from pyabc's history: posterior samples, generations, a summary and figures.

Files in the calibration folder:

* ``posterior.parquet``: the last generation, one row per particle: ``generation``, ``weight``
  (normalised), ``distance``, one column per parameter as sampled (continuous), ``value.<key>``
  as a run takes it (integer keys rounded), and ``stat.<target>`` the particle's simulated statistics.
* ``populations.parquet``: the same for every generation.
* ``generations.csv``: t, epsilon, particles, simulations (jobs submitted; see
  :mod:`sim.calibration.sampler`), acceptance_rate, end_time.
* ``posterior_summary.csv``: per parameter, the prior (shape, low, high, its central 90 %), the
  posterior's weighted mean, median and central 90 % credible interval (of the values as runs take
  them: integer keys rounded), and the share of the
  prior's 90 % interval that the credible interval still spans (near 1: the targets say little
  about the parameter).
* ``figures/posterior_marginals.png`` and ``figures/posterior_pairs.png``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.priors import frozen, prior_interval, scenario_values, support
from sim.calibration.spec import CalibrationSpec

CREDIBLE = 0.9
"""Central credible interval reported for each parameter."""


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | np.ndarray) -> np.ndarray | float:
    """Quantile ``q`` of ``values`` under normalised ``weights`` (inverse of the weighted CDF, with
    each point at the middle of its weight)."""
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order] / weights.sum()
    cdf = np.cumsum(w) - 0.5 * w
    return np.interp(q, cdf, v)


def population_frame(spec: CalibrationSpec, history: Any, t: int) -> pd.DataFrame:
    """Generation ``t`` of the history as a frame (see the module docstring), particles in a fixed order."""
    population = history.get_population(t=t)
    rows = []
    for particle in population.particles:
        sampled = {key: float(particle.parameter[key]) for key in spec.parameters}
        applied = scenario_values(spec, sampled)
        row: dict[str, Any] = {"generation": int(t), "weight": float(particle.weight), "distance": float(particle.distance)}
        row.update(sampled)
        row.update({f"value.{k}": v for k, v in applied.items()})
        row.update({f"stat.{name}": float(np.asarray(particle.sum_stat[name])) for name in spec.targets})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(list(spec.parameters), kind="stable").reset_index(drop=True)
    frame["weight"] = frame["weight"] / frame["weight"].sum()
    return frame


def generations_frame(history: Any) -> pd.DataFrame:
    """Every generation: t, epsilon, particles, simulations, acceptance_rate, end_time."""
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].sort_values("t")
    return pd.DataFrame({
        "t": pops["t"].astype(int).to_numpy(), "epsilon": pops["epsilon"].astype(float).to_numpy(),
        "particles": pops["particles"].astype(int).to_numpy(), "simulations": pops["samples"].astype(int).to_numpy(),
        "acceptance_rate": (pops["particles"] / pops["samples"]).astype(float).to_numpy(),
        "end_time": pops["population_end_time"].astype(str).to_numpy(),
    })


def posterior_summary(spec: CalibrationSpec, posterior: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior, posterior mean, median, credible interval and how much it narrowed the prior."""
    rows = []
    integer = spec.integer_keys()
    w = posterior["weight"].to_numpy()
    for key, prior in spec.parameters.items():
        values = posterior[f"value.{key}"].to_numpy(dtype=float)  # as runs take them (integers rounded)
        low, high = weighted_quantile(values, w, [(1 - CREDIBLE) / 2, (1 + CREDIBLE) / 2])
        p_low, p_high = prior_interval(prior, CREDIBLE, integer=key in integer)
        rows.append({
            "parameter": key, "prior": prior.prior, "prior_low": prior.low, "prior_high": prior.high,
            "prior_q05": p_low, "prior_q95": p_high,
            "mean": float(np.average(values, weights=w)), "median": float(weighted_quantile(values, w, 0.5)),
            "q05": float(low), "q95": float(high),
            "interval_share_of_prior": float((high - low) / (p_high - p_low)),
        })
    return pd.DataFrame(rows)


def write_outputs(spec: CalibrationSpec, history: Any, out: Path) -> tuple[dict[str, Path], pd.DataFrame, pd.DataFrame]:
    """Write the posterior, every generation, the generations table, the summary and the figures.

    Returns:
        (paths by kind, the generations table, the posterior frame).
    """
    from sim.io.atomic import atomic_write_bytes

    out = Path(out)
    generations = generations_frame(history)
    frames = [population_frame(spec, history, t) for t in generations["t"]]
    posterior = frames[-1]
    paths = {"posterior": out / "posterior.parquet", "populations": out / "populations.parquet",
             "generations": out / "generations.csv", "summary": out / "posterior_summary.csv"}
    atomic_write_bytes(paths["posterior"], _parquet(posterior))
    atomic_write_bytes(paths["populations"], _parquet(pd.concat(frames, ignore_index=True)))
    atomic_write_bytes(paths["generations"], generations.to_csv(index=False).encode())
    atomic_write_bytes(paths["summary"], posterior_summary(spec, posterior).to_csv(index=False).encode())
    (out / "figures").mkdir(exist_ok=True)
    paths["marginals"] = plot_marginals(spec, posterior, out / "figures" / "posterior_marginals.png")
    paths["pairs"] = plot_pairs(spec, posterior, out / "figures" / "posterior_pairs.png")
    return paths, generations, posterior


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def plot_marginals(spec: CalibrationSpec, posterior: pd.DataFrame, path: Path,
                   truth: dict[str, float] | None = None) -> Path:
    """One panel per parameter: the posterior's weighted histogram, the prior's density over its
    support, the 90 % credible interval (and the true value, for a recovery test)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(spec.parameters)
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    w = posterior["weight"].to_numpy()
    integer = spec.integer_keys()
    for ax, key in zip(axes.flat, keys):
        prior = spec.parameters[key]
        low, high = support(prior, integer=key in integer)
        values = posterior[key].to_numpy()
        ax.hist(values, bins=np.linspace(low, high, 25), weights=w, density=True, color="#4c72b0", alpha=0.75,
                label="posterior")
        grid = np.linspace(low, high, 200)
        ax.plot(grid, frozen(prior, integer=key in integer).pdf(grid), color="0.3", lw=1.2, ls="--", label="prior")
        q_low, q_high = weighted_quantile(values, w, [(1 - CREDIBLE) / 2, (1 + CREDIBLE) / 2])
        ax.axvspan(q_low, q_high, color="#4c72b0", alpha=0.12, label="90 % credible")
        if truth and key in truth:
            ax.axvline(truth[key], color="#c44e52", lw=2, label="true value")
        ax.set_xlim(low, high)
        ax.set_title(key, fontsize=9)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{spec.name}: posterior marginals (last generation, weighted)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pairs(spec: CalibrationSpec, posterior: pd.DataFrame, path: Path) -> Path:
    """Every pair of parameters: the particles as points, their area by weight, on the prior's support."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(spec.parameters)
    n = len(keys)
    fig, axes = plt.subplots(n, n, figsize=(2.2 * n + 1, 2.2 * n + 1), squeeze=False)
    w = posterior["weight"].to_numpy()
    size = 4 + 60 * w / w.max()
    integer = spec.integer_keys()
    bounds = {k: support(p, integer=k in integer) for k, p in spec.parameters.items()}
    for i, yk in enumerate(keys):
        for j, xk in enumerate(keys):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(posterior[xk], bins=np.linspace(*bounds[xk], 20), weights=w, color="#4c72b0", alpha=0.75)
                ax.set_yticks([])
            else:
                ax.scatter(posterior[xk], posterior[yk], s=size, color="#4c72b0", alpha=0.45, linewidths=0)
                ax.set_ylim(*bounds[yk])
            ax.set_xlim(*bounds[xk])
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel(xk.split(".")[-1], fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(yk.split(".")[-1], fontsize=7)
    fig.suptitle(f"{spec.name}: pairwise posterior (point area by weight)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
