"""Designs: the points of parameter space a batch runs, and the SALib problem they came from.

Full factorial and Latin hypercube designs suit comparisons and response surfaces; the Sobol'
(Saltelli) and Morris designs come from SALib's samplers so that :mod:`sim.batch.sensitivity` can
analyse the very same sample with SALib's matching analysers. A ``posterior`` design draws its
points from a calibration's posterior (:func:`posterior_design`): policy effects over its points
carry the calibrated parameters' uncertainty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.batch.spec import (BatchSpec, DesignConfig, ParameterRange, coerce_value, default_values, is_numeric,
                            parameter_kind)


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
    categories: dict[str, list] = field(default_factory=dict)
    """Categorical variables: name -> categories; their column of ``X`` holds a position in
    ``[0, len(categories))``, floored to the category's index."""

    @property
    def n_points(self) -> int:
        """Number of design points."""
        return int(self.X.shape[0])

    def run_matrix(self) -> np.ndarray:
        """``X`` as the runs take it: the columns of integer keys rounded (:func:`coerce_value`), so
        that a table of the design says what each point ran; categories keep their positions."""
        X = np.array(self.X, dtype=float, copy=True)
        for j, name in enumerate(self.problem["names"]):
            if name not in self.categories and parameter_kind(name) is int:
                X[:, j] = [coerce_value(name, v) for v in X[:, j]]
        return X

    def point_values(self, index: int) -> dict[str, Any]:
        """The scenario updates of design point ``index`` (integer keys rounded, categories picked)."""
        out: dict[str, Any] = {}
        for j, name in enumerate(self.problem["names"]):
            if name in self.categories:
                cats = self.categories[name]
                out[name] = coerce_value(name, cats[min(int(np.floor(self.X[index, j])), len(cats) - 1)])
            else:
                out[name] = coerce_value(name, self.X[index, j])
        return out


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
    """The uncertainty design of a batch (deterministic: the same spec gives the same points in any process);
    draws from a calibration's posterior when the batch has ``[uncertainties] from_posterior``."""
    if spec.posterior is not None:
        return posterior_design(spec)
    seed = spec.design.seed if spec.design.seed is not None else int(
        np.random.SeedSequence([spec.master_seed, 0x5EED]).generate_state(1)[0])
    return _design(spec.parameters, spec.design, seed)


def build_lever_design(spec: BatchSpec) -> Design:
    """The lever mixes of a batch: one point per mix (a sampler seed of its own, so adding
    uncertainties never moves the mixes)."""
    seed = spec.lever_design.seed if spec.lever_design.seed is not None else int(
        np.random.SeedSequence([spec.master_seed, 0x1E7E5]).generate_state(1)[0])
    return _design(spec.levers, spec.lever_design, seed)


def _design(variables: dict[str, ParameterRange], cfg: DesignConfig, seed: int) -> Design:
    names = list(variables)
    bounds, values, categories = [], [], {}
    for name, rng in variables.items():
        cats = default_values(name, rng)
        if cats is not None and (cfg.method != "factorial" or not is_numeric(name) or rng.categorical):
            categories[name] = cats
            bounds.append([0.0, float(len(cats))])
            values.append([i + 0.5 for i in range(len(cats))])
        elif cats is not None:
            bounds.append([float(min(cats)), float(max(cats))])
            values.append([float(v) for v in cats])
        else:
            bounds.append([float(rng.low), float(rng.high)])
            values.append(None)
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    if cfg.method == "explicit":
        X = np.array([[_position(name, point[name], categories) for name in names] for point in cfg.points or []],
                     dtype=float).reshape(-1, len(names))
    else:
        # The sampler's seed is a stream of its own, so adding replications never moves the points.
        X = sample(problem, cfg.method, samples=cfg.samples, levels=cfg.levels, morris_levels=cfg.morris_levels,
                   second_order=cfg.second_order, seed=seed, values=values)
    options = {"second_order": cfg.second_order, "morris_levels": cfg.morris_levels, "seed": seed}
    return Design(method=cfg.method, problem=problem, X=X, options=options, categories=categories)


def _position(name: str, value: Any, categories: dict[str, list]) -> float:
    """An explicit point's value as a column of X (a category's index + 0.5)."""
    if name in categories:
        cats = categories[name]
        if value not in cats:
            raise ValueError(f"{name} = {value!r} is not one of its values {cats}")
        return cats.index(value) + 0.5
    return float(value)


def posterior_design(spec: BatchSpec) -> Design:
    """Design points drawn from a calibration's posterior (``[uncertainties] from_posterior``): method
    ``posterior``, one point per draw, values as runs take them."""
    from sim.calibration.posterior import read_posterior

    cfg = spec.posterior
    posterior = read_posterior(spec.posterior_folder())
    seed = cfg.seed if cfg.seed is not None else int(
        np.random.SeedSequence([spec.master_seed, 0x905]).generate_state(1)[0])
    X = posterior.draw(cfg.draws, seed)
    bounds = [[float(X[:, j].min()), float(X[:, j].max())] for j in range(X.shape[1])]
    problem = {"num_vars": len(posterior.keys), "names": list(posterior.keys), "bounds": bounds}
    options = {"posterior": str(posterior.folder), "posterior_sha256": posterior.digest, "calibration": posterior.name,
               "draws": cfg.draws, "seed": seed}
    return Design(method="posterior", problem=problem, X=X, options=options)
