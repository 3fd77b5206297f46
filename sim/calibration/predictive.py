"""The posterior predictive check: what the calibrated model says of each target, against the observation.

``predictive.draws`` parameter sets are drawn from the last generation by weight and each is
simulated once from the settled start of a start seed drawn at random, with a fresh run seed (all
seeded from the calibration's seed), on the same Dask cluster as the calibration. Unlike the accepted particles' own statistics -- selected for being
close to the observations -- these are what the model predicts given the posterior, parameter
uncertainty and seed noise included.

Files: ``predictive_draws.parquet`` (draw, start_seed, seed, parameters, one column per target),
``predictive.csv`` (per target: observed, tolerance, source, simulated mean, median and central
interval, whether the observed value lies inside it, and the share of draws within one tolerance
of it) and ``figures/predictive.png``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.priors import scenario_values
from sim.calibration.spec import CalibrationSpec

PREDICTIVE_STREAM = 0x99D
"""Spawn key of the predictive check's draws and seeds under the calibration's seed."""


def draw_particles(posterior: pd.DataFrame, n: int, seed: int,
                   starts: list[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows of ``posterior`` drawn by weight with replacement, a start seed of ``starts`` for each,
    a run seed for each), seeded."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, PREDICTIVE_STREAM]))
    w = posterior["weight"].to_numpy(dtype=float)
    rows = rng.choice(len(posterior), size=n, replace=True, p=w / w.sum())
    seeds = rng.integers(0, 2**31 - 1, size=n)
    pool = np.asarray(starts if starts else [0], dtype=np.int64)
    start = pool[rng.integers(0, len(pool), size=n)]
    return rows, start, seeds


def _simulate_draw(spec: CalibrationSpec, values: dict[str, int | float], start: int, seed: int,
                   store: str | None) -> dict[str, float]:
    from sim.calibration.simulate import simulate

    return simulate(spec.base_scenario(), values, int(start), int(seed), spec.targets, spec.simulation, store=store)


def predictive_check(spec: CalibrationSpec, posterior: pd.DataFrame, out: Path, *, client: Any,
                     store: str | Path | None) -> dict[str, Path]:
    """Simulate the predictive draws on ``client``'s cluster from the settled starts in ``store``
    and write the files (module docstring)."""
    from sim.io.atomic import atomic_write_bytes
    from sim.calibration.simulate import start_seeds

    n = spec.predictive.draws
    rows, starts, seeds = draw_particles(posterior, n, spec.seed,
                                         start_seeds(spec.seed, spec.simulation.settled_seeds))
    values = [scenario_values(spec, {k: float(posterior.iloc[r][k]) for k in spec.parameters}) for r in rows]
    where = None if store is None else str(store)
    futures = [client.submit(_simulate_draw, spec, v, int(a), int(s), where, pure=False)
               for v, a, s in zip(values, starts, seeds)]
    results = client.gather(futures)
    draws = pd.DataFrame([{"draw": i, "start_seed": int(starts[i]), "seed": int(seeds[i]), **{f"value.{k}": v for k, v in values[i].items()},
                           **results[i]} for i in range(n)])
    summary = summarise(spec, draws)
    paths = {"predictive_draws": Path(out) / "predictive_draws.parquet", "predictive": Path(out) / "predictive.csv"}
    buf = io.BytesIO()
    draws.to_parquet(buf, index=False)
    atomic_write_bytes(paths["predictive_draws"], buf.getvalue())
    atomic_write_bytes(paths["predictive"], summary.to_csv(index=False).encode())
    (Path(out) / "figures").mkdir(exist_ok=True)
    paths["predictive_figure"] = plot_predictive(spec, draws, summary, Path(out) / "figures" / "predictive.png")
    return paths


def summarise(spec: CalibrationSpec, draws: pd.DataFrame) -> pd.DataFrame:
    """Per target: observed, tolerance, the simulated distribution's mean, median and central interval."""
    q = spec.predictive.interval
    rows = []
    for name, target in spec.targets.items():
        sim = draws[name].to_numpy(dtype=float)
        ok = sim[np.isfinite(sim)]
        low, med, high = (np.quantile(ok, [(1 - q) / 2, 0.5, (1 + q) / 2]) if len(ok) else (np.nan,) * 3)
        rows.append({
            "target": name, "statistic": target.statistic, "observed": target.observed, "tolerance": target.tolerance,
            "simulated_mean": float(ok.mean()) if len(ok) else float("nan"), "simulated_median": float(med),
            "interval_low": float(low), "interval_high": float(high), "interval": q,
            "observed_in_interval": bool(low <= target.observed <= high),
            "share_within_tolerance": float((np.abs(ok - target.observed) <= target.tolerance).mean()) if len(ok) else float("nan"),
            "undefined_draws": int(len(sim) - len(ok)), "source": target.source,
        })
    return pd.DataFrame(rows)


def plot_predictive(spec: CalibrationSpec, draws: pd.DataFrame, summary: pd.DataFrame, path: Path) -> Path:
    """One row per target: the simulated draws (points), their central interval (bar), the observed
    value (diamond) and its tolerance (band); each row scaled by its tolerance around the observation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(spec.targets)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 1.4))
    rng = np.random.default_rng(0)  # vertical jitter of the points only
    for y, name in enumerate(names):
        target = spec.targets[name]
        row = summary.set_index("target").loc[name]
        z = (draws[name].to_numpy(dtype=float) - target.observed) / target.tolerance
        ax.axhspan(y - 0.35, y + 0.35, xmin=0, xmax=1, color="0.96", zorder=0)
        ax.fill_betweenx([y - 0.3, y + 0.3], -1, 1, color="#dd8452", alpha=0.18, zorder=1)
        ax.scatter(z, y + rng.uniform(-0.18, 0.18, len(z)), s=9, color="#4c72b0", alpha=0.5, zorder=2)
        lo = (row["interval_low"] - target.observed) / target.tolerance
        hi = (row["interval_high"] - target.observed) / target.tolerance
        ax.plot([lo, hi], [y, y], color="#4c72b0", lw=3, zorder=3)
        ax.scatter([0], [y], marker="D", s=45, color="#c44e52", zorder=4)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([f"{n}\n(obs. {spec.targets[n].observed:g} ± {spec.targets[n].tolerance:g})" for n in names], fontsize=7)
    ax.axvline(0, color="#c44e52", lw=0.8)
    ax.set_xlabel("simulated - observed, in tolerances (band: within one tolerance; bar: "
                  f"central {spec.predictive.interval:.0%} of draws)", fontsize=8)
    ax.set_title(f"{spec.name}: posterior predictive check ({len(draws)} draws, fresh seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
