"""Priors: the calibration file's prior shapes as scipy distributions, pyabc's prior, and how a
sampled value becomes a scenario value.

One function (:func:`scipy_spec`) says which scipy.stats distribution and arguments a prior is;
pyabc's ``RV`` is built from the same name and arguments (pyabc evaluates priors through
scipy.stats), and the plots draw the prior density from it too, so the three never disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from sim.calibration.spec import CalibrationSpec, PriorSpec


def support(prior: PriorSpec, *, integer: bool = False) -> tuple[float, float]:
    """The prior's support in the sampler's (continuous) space: [low, high], widened by 0.5 at each
    end for a uniform prior of an integer key (each whole number low..high then has equal mass)."""
    if integer and prior.prior == "uniform":
        return prior.low - 0.5, prior.high + 0.5
    return prior.low, prior.high


def scipy_spec(prior: PriorSpec, *, integer: bool = False) -> tuple[str, tuple[float, ...], dict[str, float]]:
    """(scipy.stats name, positional args, keyword args) of the prior."""
    low, high = support(prior, integer=integer)
    if prior.prior == "uniform":
        return "uniform", (low, high - low), {}
    if prior.prior == "loguniform":
        return "loguniform", (low, high), {}
    a, b = (low - prior.mean) / prior.sd, (high - prior.mean) / prior.sd
    return "truncnorm", (a, b), {"loc": prior.mean, "scale": prior.sd}


def frozen(prior: PriorSpec, *, integer: bool = False) -> Any:
    """The prior as a frozen scipy.stats distribution (pdf, ppf, rvs)."""
    name, args, kwargs = scipy_spec(prior, integer=integer)
    return getattr(stats, name)(*args, **kwargs)


def pyabc_prior(spec: CalibrationSpec) -> Any:
    """The joint prior as a ``pyabc.Distribution`` of independent parameters, named by scenario key."""
    import pyabc

    integer = spec.integer_keys()
    parts = {}
    for key, prior in spec.parameters.items():
        name, args, kwargs = scipy_spec(prior, integer=key in integer)
        parts[key] = pyabc.RV(name, *args, **kwargs)
    return pyabc.Distribution(**parts)


def apply_value(key: str, value: float, prior: PriorSpec, *, integer: bool) -> int | float:
    """A sampled value as the scenario key takes it: rounded for integer keys, kept within
    [low, high] (the widened ends of an integer uniform prior round back inside)."""
    if integer:
        return int(min(max(round(float(value)), prior.low), prior.high))
    return float(min(max(float(value), prior.low), prior.high))


def scenario_values(spec: CalibrationSpec, sampled: dict[str, float]) -> dict[str, int | float]:
    """The scenario updates of one sampled parameter set."""
    integer = spec.integer_keys()
    return {key: apply_value(key, sampled[key], prior, integer=key in integer)
            for key, prior in spec.parameters.items()}


def prior_interval(prior: PriorSpec, q: float = 0.9, *, integer: bool = False) -> tuple[float, float]:
    """The central ``q`` interval of the prior (to judge how much a posterior narrowed it)."""
    dist = frozen(prior, integer=integer)
    return float(dist.ppf(0.5 - q / 2)), float(dist.ppf(0.5 + q / 2))


def draw_prior(spec: CalibrationSpec, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` independent draws from the prior (for tests and plots), seeded."""
    rng = np.random.default_rng(seed)
    integer = spec.integer_keys()
    return {key: frozen(p, integer=key in integer).rvs(size=n, random_state=rng) for key, p in spec.parameters.items()}
