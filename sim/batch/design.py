"""Designs: the points of parameter space a batch runs, and the SALib problem they came from.

Full factorial and Latin hypercube designs suit comparisons and response surfaces; the Sobol'
(Saltelli) and Morris designs come from SALib's samplers so that :mod:`sim.batch.sensitivity` can
analyse the very same sample with SALib's matching analysers. A ``posterior`` design draws its
points from a calibration's posterior (:func:`posterior_design`): policy effects over its points
carry the calibrated parameters' uncertainty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sim.batch.spec import BatchSpec, coerce_value


@dataclass(frozen=True)
class Design:
    """The sampled design.

    Attributes:
        method: ``none``, ``factorial``, ``latin``, ``sobol``, ``morris`` or ``posterior`` (draws
            from a calibration's posterior).
        problem: SALib problem dict (``num_vars``, ``names``, ``bounds``).
        X: (points, parameters) sample as drawn (before integer keys are rounded); SALib's
            analysers need exactly this matrix, in this order.
        options: Sampler options the analysers need (``second_order``, ``morris_levels``, ``seed``).
    """

    method: str
    problem: dict
    X: np.ndarray
    options: dict

    @property
    def n_points(self) -> int:
        """Number of design points."""
        return int(self.X.shape[0])

    def point_values(self, index: int) -> dict[str, int | float]:
        """The scenario updates of design point ``index`` (integer keys rounded)."""
        return {name: coerce_value(name, self.X[index, j]) for j, name in enumerate(self.problem["names"])}


def sample(problem: dict, method: str, *, samples: int = 8, levels: int = 3, morris_levels: int = 4,
           second_order: bool = False, seed: int = 0, values: list[list[float]] | None = None) -> np.ndarray:
    """Draw a design matrix for a SALib ``problem``.

    Args:
        problem: ``{"num_vars": D, "names": [...], "bounds": [[low, high], ...]}``.
        method: ``none``, ``factorial``, ``latin``, ``sobol`` or ``morris``.
        samples: Latin: points; Sobol: base N (power of two); Morris: trajectories.
        levels: Factorial: evenly spaced levels per parameter.
        morris_levels: Morris grid levels.
        second_order: Sobol: sample for second-order indices too.
        seed: Sampler seed (Latin, Sobol' scrambling, Morris).
        values: Factorial: explicit levels per parameter (None entries use ``levels``).

    Returns:
        (points, D) array of parameter values.
    """
    num_vars = problem["num_vars"]
    if method == "none":
        return np.zeros((1, 0))
    if method == "factorial":
        axes = []
        for j, (low, high) in enumerate(problem["bounds"]):
            explicit = values[j] if values is not None else None
            axes.append(np.asarray(explicit, dtype=float) if explicit is not None else np.linspace(low, high, levels))
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, num_vars)
    if method == "latin":
        from SALib.sample import latin

        return latin.sample(problem, samples, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=second_order, scramble=True, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=morris_levels, seed=seed)
    raise ValueError(f"unknown design method {method!r}; allowed: none, factorial, latin, sobol, morris")


def build_design(spec: BatchSpec) -> Design:
    """The design of a batch (deterministic: the same spec gives the same points in any process)."""
    if spec.uncertainties is not None:
        return posterior_design(spec)
    names = list(spec.parameters)
    bounds, values = [], []
    for rng in spec.parameters.values():
        if rng.values is not None:
            bounds.append([float(min(rng.values)), float(max(rng.values))])
            values.append([float(v) for v in rng.values])
        else:
            bounds.append([float(rng.low), float(rng.high)])
            values.append(None)
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    cfg = spec.design
    # The sampler's seed is a stream of its own, so adding replications never moves the points.
    seed = cfg.seed if cfg.seed is not None else int(
        np.random.SeedSequence([spec.master_seed, 0x5EED]).generate_state(1)[0])
    X = sample(problem, cfg.method, samples=cfg.samples, levels=cfg.levels, morris_levels=cfg.morris_levels,
               second_order=cfg.second_order, seed=seed, values=values)
    options = {"second_order": cfg.second_order, "morris_levels": cfg.morris_levels, "seed": seed}
    return Design(method=cfg.method, problem=problem, X=X, options=options)


def posterior_design(spec: BatchSpec) -> Design:
    """Design points drawn from a calibration's posterior (``[uncertainties] from_posterior``): method
    ``posterior``, one point per draw, values as runs take them."""
    from sim.calibration.posterior import read_posterior

    cfg = spec.uncertainties
    posterior = read_posterior(spec.posterior_folder())
    seed = cfg.seed if cfg.seed is not None else int(
        np.random.SeedSequence([spec.master_seed, 0x905]).generate_state(1)[0])
    X = posterior.draw(cfg.draws, seed)
    bounds = [[float(X[:, j].min()), float(X[:, j].max())] for j in range(X.shape[1])]
    problem = {"num_vars": len(posterior.keys), "names": list(posterior.keys), "bounds": bounds}
    options = {"posterior": str(posterior.folder), "posterior_sha256": posterior.digest, "calibration": posterior.name,
               "draws": cfg.draws, "seed": seed}
    return Design(method="posterior", problem=problem, X=X, options=options)
