"""Batch files: a frozen, validated description of many runs.

A batch file (TOML) names the policy packages to compare (scenario files, relative to the batch
file), the uncertain parameters with their ranges (dotted scenario keys), the design that samples
them, the replications, the master seed, the years and the indicators to keep. It is validated the
way scenarios are (:mod:`sim.scenario`): an unknown key, a wrong type or a value out of range raises
:class:`~sim.scenario.ScenarioError` naming the file, the key, the value and what is allowed.

Example::

    name = "demo"
    master_seed = 20240601
    replications = 4
    years = 1.0
    indicators = ["needs_met_share", "employment_rate"]
    baseline = "baseline"

    [packages]
    baseline = "../baseline.toml"
    platform = "platform.toml"

    [overrides]                      # applied to every run
    "population.residents" = 2000

    [parameters."economy.rent_multiplier"]
    low = 0.8
    high = 1.2

    [design]
    method = "latin"
    samples = 8

Instead of ``[parameters]`` and ``[design]``, the uncertain parameters may be drawn from a
calibration's posterior (``lifecircle calibrate``; :mod:`sim.calibration.posterior`)::

    [uncertainties]
    from_posterior = "../../results/calibration"   # a calibration's --out folder
    draws = 16                                     # design points, drawn by weight
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from sim.scenario import Scenario, ScenarioError, _format_error, _Strict, load_scenario, read_toml_file

DESIGNS = ("none", "factorial", "latin", "sobol", "morris")


class ParameterRange(_Strict):
    """One uncertain parameter: a dotted scenario key sampled between ``low`` and ``high``."""

    low: float | int | None = None
    """Lower end of the range, in the scenario key's own unit (continuous designs and factorial)."""
    high: float | int | None = None
    """Upper end of the range, in the scenario key's own unit."""
    values: list[float | int] | None = None
    """Factorial design only: the exact levels to cross (instead of ``low``/``high``)."""

    @model_validator(mode="after")
    def _range_or_values(self) -> ParameterRange:
        if self.values is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either low/high or values, not both")
            if not self.values:
                raise ValueError("values must list at least one level")
            return self
        if self.low is None or self.high is None:
            raise ValueError("needs low and high (or values = [...] for a factorial design)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class DesignConfig(_Strict):
    """How the parameter space is sampled."""

    method: Literal["none", "factorial", "latin", "sobol", "morris"] = "none"
    """``none``: one point (no parameters); ``factorial``: every combination of ``levels`` evenly
    spaced values (or each parameter's ``values``); ``latin``: Latin hypercube of ``samples``
    points; ``sobol``: Saltelli/Sobol' sample of ``samples * (D + 2)`` points (``* (2D + 2)`` with
    ``second_order``), SALib; ``morris``: ``samples`` Morris trajectories of ``D + 1`` points, SALib."""
    samples: int = Field(8, ge=1, le=1_000_000)
    """Latin: points; Sobol: base sample N (a power of two); Morris: trajectories."""
    levels: int = Field(3, ge=2, le=100)
    """Factorial: evenly spaced levels per parameter between low and high."""
    morris_levels: int = Field(4, ge=2, le=100)
    """Morris: grid levels p of the elementary-effects design (even numbers are usual)."""
    second_order: bool = False
    """Sobol: also estimate second-order indices (needs ``samples * (2D + 2)`` points)."""
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    """Seed of the sampler (default: derived from the batch's ``master_seed``)."""

    @model_validator(mode="after")
    def _sobol_power_of_two(self) -> DesignConfig:
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples = {self.samples}: Sobol' sampling needs a power of two (e.g. 8, 16, 64)")
        return self


class UncertaintiesConfig(_Strict):
    """Uncertain parameters drawn from a calibration's posterior (``lifecircle calibrate``), instead
    of ``[parameters]`` ranges and a ``[design]``."""

    from_posterior: str
    """A calibration's output folder (relative to the batch file): its ``posterior.parquet`` (the
    last generation's particles and weights) and ``calibration.json`` (their scenario keys)."""
    draws: int = Field(16, ge=1, le=1_000_000)
    """Parameter sets drawn from the posterior by weight, with replacement: the batch's design points."""
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    """Seed of the draws (default: derived from the batch's ``master_seed``)."""


class BatchSpec(_Strict):
    """A batch: packages x design points x replications runs of the model."""

    name: str = "batch"
    """Short name of the batch, used in outputs."""
    description: str = ""
    """What the batch studies."""
    packages: dict[str, str]
    """Policy packages: name -> scenario file (relative to the batch file). Names become run ids,
    so they may use letters, digits, ``_`` and ``-`` only."""
    baseline: str | None = None
    """The package the others are compared with (default: the first one)."""
    parameters: dict[str, ParameterRange] = Field(default_factory=dict)
    """Uncertain parameters: dotted scenario key -> range (e.g. ``economy.rent_multiplier``)."""
    design: DesignConfig = DesignConfig()
    """How the parameters are sampled."""
    uncertainties: UncertaintiesConfig | None = None
    """Parameters drawn from a calibration's posterior (``from_posterior = "DIR"``); excludes
    ``parameters`` and ``design``: the draws are the design points."""
    replications: int = Field(1, ge=1, le=100_000)
    """Seeded replications of every package at every design point."""
    master_seed: int = Field(20240101, ge=0, le=2**63 - 1)
    """Seed of ``numpy.random.SeedSequence``; replicate r's seed is the r-th spawned child, the same
    for every package and design point (common random numbers, paired comparisons)."""
    years: float = Field(1.0, gt=0.0, le=100.0)
    """Simulated years of every run (overrides the scenarios)."""
    indicators: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    """Indicators to keep (names from ``lifecircle indicators``, or ``["all"]``); at least one."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Dotted scenario keys set in every run, e.g. ``"population.residents" = 2000`` (nested tables
    such as ``[overrides.population]`` are accepted too)."""
    source: str = Field("<dict>", exclude=True)
    """The batch file (set by the loader)."""

    @model_validator(mode="after")
    def _consistent(self) -> BatchSpec:
        if not self.packages:
            raise ValueError("packages: name at least one scenario file")
        for name in self.packages:
            if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
                raise ValueError(f"packages: name {name!r} may use letters, digits, '_' and '-' only")
        if self.baseline is not None and self.baseline not in self.packages:
            raise ValueError(f"baseline = {self.baseline!r} is not a package; packages: {', '.join(self.packages)}")
        if self.uncertainties is not None and (self.parameters or self.design.method != "none"):
            raise ValueError("uncertainties.from_posterior gives the design points; remove [parameters] and [design] "
                             "(or remove [uncertainties])")
        if self.design.method == "none" and self.parameters:
            raise ValueError("parameters are given but design.method = 'none'; choose factorial, latin, sobol or morris")
        if self.design.method != "none" and not self.parameters:
            raise ValueError(f"design.method = {self.design.method!r} needs at least one [parameters.\"key\"] range")
        for key, rng in self.parameters.items():
            if rng.values is not None and self.design.method != "factorial":
                raise ValueError(f"parameters.{key}: values = [...] is for factorial designs; give low and high")
        return self

    # ------------------------------------------------------------------ derived

    @property
    def baseline_package(self) -> str:
        """Name of the package every other one is compared with."""
        return self.baseline or next(iter(self.packages))

    @property
    def base_dir(self) -> Path:
        """Folder of the batch file (package paths are relative to it)."""
        return Path(self.source).parent if self.source != "<dict>" else Path(".")

    def package_path(self, package: str) -> Path:
        """The absolute path of a package's scenario file."""
        path = Path(self.packages[package]).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def posterior_folder(self) -> Path | None:
        """The calibration folder of ``uncertainties.from_posterior`` (absolute), or None."""
        if self.uncertainties is None:
            return None
        path = Path(self.uncertainties.from_posterior).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def replicate_seeds(self) -> list[int]:
        """Replicate seeds: ``SeedSequence(master_seed).spawn(replications)``, one 32-bit int each."""
        children = np.random.SeedSequence(self.master_seed).spawn(self.replications)
        return [int(child.generate_state(1)[0]) for child in children]

    def replicate_seed(self, replicate: int) -> int:
        """Replicate ``replicate``'s seed alone, without spawning the others: the ``replicate``-th child
        of ``SeedSequence(master_seed)`` (spawn key ``(replicate,)``), equal to ``replicate_seeds()[replicate]``."""
        return int(np.random.SeedSequence(self.master_seed, spawn_key=(replicate,)).generate_state(1)[0])

    def flat_overrides(self) -> dict[str, Any]:
        """``overrides`` with nested tables flattened to dotted keys."""
        return _flatten(self.overrides)

    def package_scenario(self, package: str) -> Scenario:
        """A package's scenario with the batch's overrides, years and indicators applied."""
        updates = {**self.flat_overrides(), "years": float(self.years),
                   "output.indicators": list(self.indicators)}
        return load_scenario(self.package_path(package), updates=updates)

    def fingerprint(self) -> str:
        """Hash of everything that decides the batch's runs (not its name or description)."""
        data = self.model_dump(mode="json", exclude={"name", "description", "source"})
        data["package_hashes"] = {p: self.package_scenario(p).content_hash() for p in self.packages}
        if self.uncertainties is not None:  # a recalibrated posterior is another batch
            from sim.calibration.posterior import read_posterior

            data["posterior_sha256"] = read_posterior(self.posterior_folder()).digest
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def parameter_kind(key: str) -> type:
    """``int`` or ``float``: the type of a numeric scenario key; ScenarioError if not numeric."""
    model: Any = Scenario
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields or part == "base_dir":
            where = ".".join(parts[: depth + 1])
            allowed = ", ".join(k for k in (fields or {}) if k != "base_dir")
            raise ValueError(f"unknown scenario key '{where}' (in '{key}'); allowed here: {allowed}")
        model = fields[part].annotation
    for kind in (bool, int, float):
        if model is kind or model == (kind | None):
            if kind is bool:
                break
            return kind
    raise ValueError(f"scenario key '{key}' is not a number ({model}); only numeric keys can vary")


def coerce_value(key: str, value: Any) -> int | float:
    """A sampled value as the scenario key wants it (integer keys are rounded)."""
    kind = parameter_kind(key)
    return int(round(float(value))) if kind is int else float(value)


def load_batch(path: str | Path) -> BatchSpec:
    """Read and validate a batch file; every package scenario and parameter range is checked too.

    Raises:
        ScenarioError: the file, a package scenario or a range is invalid; the message names the
            file, the key, the value and what is allowed.
    """
    path = Path(path).expanduser().resolve()
    return batch_from_dict(read_toml_file(path, "batch"), source=str(path))


def batch_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> BatchSpec:
    """Validate a batch given as nested dicts (as TOML would give) and check it against the schema."""
    try:
        spec = BatchSpec.model_validate({**data, "source": source})
    except ValidationError as err:
        raise ScenarioError(_format_error(err, source, BatchSpec).replace("invalid scenario", "invalid batch file")) from None
    _check_against_scenarios(spec)
    return spec


def _check_against_scenarios(spec: BatchSpec) -> None:
    """Every package loads; every parameter is a numeric key whose range the schema accepts."""
    from sim.inputs import check_inputs
    from sim.metrics import UnknownIndicatorError, resolve

    try:
        resolve(spec.indicators)
    except UnknownIndicatorError as err:
        raise ScenarioError(f"{spec.source}: key 'indicators' = {spec.indicators!r}: {err}") from None
    for package in spec.packages:
        path = spec.package_path(package)
        if not path.is_file():
            raise ScenarioError(f"{spec.source}: key 'packages.{package}' = {spec.packages[package]!r}: no such scenario file ({path})")
        try:
            scenario = spec.package_scenario(package)
            check_inputs(scenario, source=str(path))  # catalogue, categories, district file: before any run
        except ScenarioError as err:
            raise ScenarioError(f"{spec.source}: package '{package}' (with the batch's overrides): {err}") from None
    base = spec.package_scenario(spec.baseline_package)
    if spec.uncertainties is not None:
        _check_posterior(spec, base)
    for key, rng in spec.parameters.items():
        try:
            parameter_kind(key)
        except ValueError as err:
            raise ScenarioError(f"{spec.source}: key 'parameters.\"{key}\"': {err}") from None
        ends = rng.values if rng.values is not None else [rng.low, rng.high]
        for value in ends:
            try:
                base.with_updates({key: coerce_value(key, value)}, source=f"{spec.source}: parameters.\"{key}\" = {value!r}")
            except ScenarioError as err:
                raise ScenarioError(str(err)) from None


def _check_posterior(spec: BatchSpec, base: Scenario) -> None:
    """The posterior folder holds a finished calibration whose keys are numeric scenario keys, not
    overridden by the batch, and whose values every package's schema accepts."""
    from sim.calibration.posterior import read_posterior

    where = f"{spec.source}: key 'uncertainties.from_posterior'"
    posterior = read_posterior(spec.posterior_folder(), source=where)
    overridden = sorted(set(posterior.keys) & set(spec.flat_overrides()))
    if overridden:
        raise ScenarioError(f"{where}: the posterior's {', '.join(overridden)} also in [overrides]; remove the "
                            f"override (the posterior draws that key)")
    for j, key in enumerate(posterior.keys):
        try:
            parameter_kind(key)
        except ValueError as err:
            raise ScenarioError(f"{where}: posterior parameter {key!r}: {err}") from None
        for value in (posterior.values[:, j].min(), posterior.values[:, j].max()):
            for package in spec.packages:
                scenario = base if package == spec.baseline_package else spec.package_scenario(package)
                scenario.with_updates({key: coerce_value(key, value)},
                                      source=f"{where}: posterior parameter {key} = {value!r} (package '{package}')")
