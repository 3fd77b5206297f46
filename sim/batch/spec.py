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
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from sim.scenario import Scenario, ScenarioError, _format_error, _show_key, _Strict, load_scenario, read_toml_file

DESIGNS = ("none", "factorial", "latin", "sobol", "morris")


class ParameterRange(_Strict):
    """One design variable: a dotted scenario key sampled between ``low`` and ``high``, or among ``values``."""

    low: float | int | None = None
    """Lower end of the range, in the scenario key's own unit (continuous designs and factorial)."""
    high: float | int | None = None
    """Upper end of the range, in the scenario key's own unit."""
    values: list[Any] | None = None
    """The levels: for a number key in a factorial design, the exact levels to cross (instead of
    ``low``/``high``); for a switch (``true``/``false``), a text or list key -- or a number key in
    any other design -- the categories, sampled with equal weight (default for a switch: ``[false, true]``)."""
    label: str | None = None
    """Display name with unit for tables and figures (default: from lifecircle's labels)."""

    @field_validator("low", "high", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        # one message, not one per member of ``float | int``
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
            return value
        raise ValueError("allowed: a finite number, in the scenario key's own unit")

    @model_validator(mode="after")
    def _range_or_values(self) -> ParameterRange:
        if self.values is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either low/high or values, not both")
            if not self.values:
                raise ValueError("values must list at least one level")
            return self
        if (self.low is None) != (self.high is None):
            raise ValueError("needs low and high (or values = [...])")
        if self.low is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    @property
    def categorical(self) -> bool:
        """Sampled as categories (``values`` that are not all numbers, or numbers outside a factorial design)."""
        return self.values is not None and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


class DesignConfig(_Strict):
    """How the parameter space is sampled."""

    method: Literal["none", "factorial", "latin", "sobol", "morris", "explicit"] = "none"
    """``none``: one point (no parameters); ``factorial``: every combination of ``levels`` evenly
    spaced values (or each parameter's ``values``); ``latin``: Latin hypercube of ``samples``
    points; ``sobol``: Saltelli/Sobol' sample of ``samples * (D + 2)`` points (``* (2D + 2)`` with
    ``second_order``), SALib; ``morris``: ``samples`` Morris trajectories of ``D + 1`` points, SALib;
    ``explicit``: the points listed in ``points``."""
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
    points: list[dict[str, Any]] | None = None
    """``explicit`` only: the points, each a table of design key -> value (every key of the section)."""

    @model_validator(mode="after")
    def _sobol_power_of_two(self) -> DesignConfig:
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples = {self.samples}: Sobol' sampling needs a power of two (e.g. 8, 16, 64)")
        if (self.method == "explicit") != (self.points is not None):
            raise ValueError("method = 'explicit' goes with points = [{...}, ...] (and points only with it)")
        if self.points is not None and not self.points:
            raise ValueError("points must list at least one point")
        return self


class OutcomeSpec(_Strict):
    """One outcome of an experiment: a statistic of an indicator's monthly series in each run
    (:mod:`sim.batch.statistics`), averaged over replicates."""

    indicator: str
    """The indicator (a name from ``lifecircle indicators`` that the batch keeps)."""
    statistic: Literal["end", "mean", "cumulative", "time_to_target"] = "mean"
    """``end``: mean of the last ``last_months`` months; ``mean``: mean over the window;
    ``cumulative``: sum over the window (for flows such as monthly public spending);
    ``time_to_target``: first month of the window (0 = first measured month) in which the indicator
    reaches ``target``; a run that never does gets the window's length (censored)."""
    period: Literal["all", "year 1", "year 3", "during support", "after support", "end"] = "all"
    """The window, as a period of each run's own lever timeline (:func:`sim.metrics.effects.periods`); a run
    without that period (e.g. no lever, so no support) has no value (NaN). ``all``: every measured month."""
    months: list[Annotated[int, Field(ge=0, le=1200)]] | None = Field(None, min_length=2, max_length=2)
    """The window as ``[first, last]`` measured months (inclusive; 0 = the first), instead of ``period``."""
    last_months: int = Field(3, ge=1, le=1200)
    """``end``: months averaged at the end of the run."""
    target: float | None = None
    """``time_to_target``: the value to reach."""
    reach: Literal["above", "below"] = "above"
    """``time_to_target``: reached when the indicator is at or ``above`` (or ``below``) the target."""
    kind: Literal["maximize", "minimize", "info"] = "info"
    """Direction for the robust search (``info``: reported, not optimised)."""
    effect: bool = False
    """The paired difference from the baseline run of the same design point and seed, rather than
    the run's own value."""
    label: str | None = None
    """Display name with unit (default: the indicator's, with the statistic and window)."""

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeSpec:
        if self.statistic == "time_to_target" and self.target is None:
            raise ValueError("statistic = 'time_to_target' needs target = <value>")
        if self.months is not None:
            if self.period != "all":
                raise ValueError("give either period or months, not both")
            if self.months[1] < self.months[0]:
                raise ValueError(f"months = {self.months}: the last month must not come before the first")
        return self


class RobustConfig(_Strict):
    """The many-objective robust search over lever mixes (``lifecircle robust``, EMA Workbench)."""

    objectives: list[str] = Field(min_length=1)
    """Outcomes to optimise (each with ``kind = "maximize"`` or ``"minimize"``)."""
    robustness: Literal["mean", "p10", "p90", "min", "max"] = "mean"
    """How an objective is summarised over the reference scenarios: the mean, the 10th or 90th
    percentile, the worst or best; ``p10`` of a maximised outcome (``p90`` of a minimised one) is a
    cautious choice."""
    budget_outcome: str | None = None
    """The outcome (an objective) that the budget limits, e.g. public spending."""
    budget: float | None = Field(None, ge=0.0)
    """Limit on ``budget_outcome``'s robust value (same unit); mixes above it are infeasible."""
    scenarios: int = Field(0, ge=0, le=10_000)
    """Reference scenarios: 0 = the batch's uncertainty design points; N = a Latin sample of N."""
    nfe: int = Field(48, ge=1, le=10_000_000)
    """Function evaluations (lever mixes evaluated over all reference scenarios)."""
    population: int = Field(8, ge=2, le=100_000)
    """Population size of the evolutionary algorithm (lever mixes per generation)."""
    epsilons: list[float] | None = None
    """Epsilon (resolution) per objective for the epsilon-dominance archive, in the objective's unit:
    mixes closer than this on an objective count as equal there (default 0.01 for every objective,
    which suits shares; give CNY objectives an epsilon in CNY, e.g. 50000)."""
    replications: int | None = Field(None, ge=1, le=10_000)
    """Replications per (mix, scenario) in the search (default: the batch's)."""
    seed: int = Field(1, ge=0, le=2**32 - 1)
    """Seed of the search (the algorithm's proposals)."""


class PosteriorConfig(_Strict):
    """Uncertain parameters drawn from a calibration's posterior (``lifecircle calibrate``): in a
    batch file ``[uncertainties] from_posterior = "DIR"`` (with ``draws`` and ``seed``), instead of
    ranges and a ``[design]``."""

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
    """Uncertain parameters: dotted scenario key -> range (e.g. ``economy.rent_multiplier``); in a
    batch file, ``[uncertainties]`` (the EMA Workbench's word) or ``[parameters]``. Each design point
    is a scenario of the world; every package runs at every point."""
    design: DesignConfig = DesignConfig()
    """How the uncertainties are sampled (the design points)."""
    levers: dict[str, ParameterRange] = Field(default_factory=dict)
    """Policy levers: dotted ``levers.*`` key -> range or values (switches, integers, reals,
    categories, start and end months). Each sampled lever mix is a package, ``mix-<i>``, built on
    ``lever_base``, run at every design point against the baseline."""
    lever_design: DesignConfig = DesignConfig()
    """How the lever mixes are sampled: ``factorial``, ``latin`` or ``explicit``."""
    lever_base: str | None = None
    """The package the lever mixes change (default: the baseline)."""
    outcomes: dict[str, OutcomeSpec] = Field(default_factory=dict)
    """Named outcomes for the EMA Workbench analyses (``lifecircle discover``, ``robust``)."""
    robust: RobustConfig | None = None
    """The robust search over lever mixes (``lifecircle robust``)."""
    posterior: PosteriorConfig | None = None
    """Uncertain parameters drawn from a calibration's posterior (``[uncertainties] from_posterior =
    "DIR"``); excludes uncertainty ranges and ``[design]``: the draws are the design points."""
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
        # Each message names the key, its value and what is allowed (a check of the whole file has
        # no key of its own for the error to carry).
        unc = "uncertainties" if "uncertainties" in self.source_sections else "parameters"
        packages = f"a package: {', '.join(self.packages)}"
        if not self.packages:
            raise ValueError("key 'packages' = {}: allowed: at least one package, NAME = \"scenario.toml\" "
                             "(relative to the batch file)")
        for name in self.packages:
            if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
                raise ValueError(f"key 'packages' names {name!r}: allowed: a name of letters, digits, '_' and '-'")
        if self.baseline is not None and self.baseline not in self.packages:
            raise ValueError(f"key 'baseline' = {self.baseline!r}: allowed: {packages}")
        for where, keys in ((unc, self.parameters), ("levers", self.levers)):
            for key in keys:
                if key in RESERVED_KEYS:
                    raise ValueError(f"key '{_show_key((where, key))}': {key} cannot be a design variable: "
                                     f"{RESERVED_KEYS[key]}")
        for key, value in self.flat_overrides().items():
            if key in RESERVED_KEYS:
                raise ValueError(f"key '{_show_key(('overrides', key))}' = {value!r}: {RESERVED_KEYS[key]}")
        if self.posterior is not None and (self.parameters or self.design.method != "none"):
            raise ValueError(f"key 'uncertainties.from_posterior' = {self.posterior.from_posterior!r}: its draws are "
                             f"the design points; remove the other [uncertainties] ranges and [design]")
        if self.design.method == "none" and self.parameters:
            raise ValueError(f"key 'design.method' = 'none' with [{unc}] given: allowed: 'factorial', 'latin', "
                             f"'sobol', 'morris' or 'explicit'")
        if self.design.method != "none" and not self.parameters:
            raise ValueError(f"key 'design.method' = {self.design.method!r} needs at least one "
                             f"[uncertainties.\"key\"] range; allowed without one: 'none'")
        for key, rng in self.parameters.items():
            if rng.categorical and self.design.method in ("sobol", "morris"):
                raise ValueError(f"key '{unc}.\"{key}\".values' = {rng.values!r}: categories cannot be sampled by a "
                                 f"{self.design.method} design; allowed: low and high, or design.method factorial "
                                 f"or latin")
            if key.startswith("levers.") and "uncertainties" in self.source_sections:
                raise ValueError(f"key 'uncertainties.\"{key}\"': a policy lever, not an uncertainty; put it under [levers]")
        if self.levers and self.lever_design.method not in ("factorial", "latin", "explicit"):
            raise ValueError(f"key 'lever_design.method' = {self.lever_design.method!r}: [levers] are sampled by "
                             f"a design; allowed: 'factorial', 'latin' or 'explicit'")
        if self.lever_design.method != "none" and not self.levers:
            raise ValueError(f"key 'lever_design.method' = {self.lever_design.method!r} but no [levers]; allowed: "
                             f"[levers.\"levers.KEY\"] ranges, or no [lever_design]")
        for key in self.levers:
            if not key.startswith("levers."):
                raise ValueError(f"key 'levers.\"{key}\"': a lever is a key under 'levers.' (e.g. "
                                 f"levers.platform.enabled); put other keys under [uncertainties]")
            if key in self.parameters:
                raise ValueError(f"key 'levers.\"{key}\"': also in [{unc}]; allowed: a key in one of them")
        for section, cfg, keys in (("design", self.design, self.parameters), ("lever_design", self.lever_design, self.levers)):
            for i, point in enumerate(cfg.points or []):
                if set(point) != set(keys):
                    raise ValueError(f"key '{section}.points[{i}]' = {point!r}: allowed: exactly the keys "
                                     f"{sorted(keys)}")
        if self.lever_base is not None and self.lever_base not in self.packages:
            raise ValueError(f"key 'lever_base' = {self.lever_base!r}: allowed: {packages}")
        for name in self.packages:
            if name.startswith(MIX_PREFIX):
                raise ValueError(f"key 'packages' names {name!r}: names starting with {MIX_PREFIX!r} are the lever "
                                 f"mixes'; allowed: another name")
        for name, outcome in self.outcomes.items():
            if not name.isidentifier():
                raise ValueError(f"key 'outcomes.{name}': allowed: an outcome's name is a Python identifier (letters, "
                                 f"digits, '_'; the EMA Workbench's rule), e.g. coverage_after")
            # A window past the runs' end gave every run NaN (discover then blamed the design), or was
            # cut short to the months the runs have while its label still named the months asked for.
            run_months = math.ceil(self.years * 12)
            if outcome.months is not None and outcome.months[1] >= run_months:
                raise ValueError(f"key 'outcomes.{name}.months' = {outcome.months}: the runs measure years = "
                                 f"{self.years:g} (months 0 to {run_months - 1}); allowed: a window within them")
        if self.robust is not None:
            outcomes = f"one of the [outcomes]: {', '.join(self.outcomes)}" if self.outcomes else "an outcome of [outcomes] (none given)"
            for name in self.robust.objectives:
                if name not in self.outcomes:
                    raise ValueError(f"key 'robust.objectives' = {self.robust.objectives!r}: {name!r} is not an "
                                     f"outcome; allowed: {outcomes}")
                if self.outcomes[name].kind == "info":
                    raise ValueError(f"key 'robust.objectives' = {self.robust.objectives!r}: outcome {name!r} has "
                                     f"kind = 'info'; allowed: outcomes with kind = 'maximize' or 'minimize'")
            if (self.robust.budget is None) != (self.robust.budget_outcome is None):
                raise ValueError(f"key 'robust.budget' = {self.robust.budget!r}, 'robust.budget_outcome' = "
                                 f"{self.robust.budget_outcome!r}: allowed: both or neither")
            if self.robust.budget_outcome is not None and self.robust.budget_outcome not in self.robust.objectives:
                raise ValueError(f"key 'robust.budget_outcome' = {self.robust.budget_outcome!r}: allowed: one of the "
                                 f"objectives: {', '.join(self.robust.objectives)}")
            if self.robust.epsilons is not None and len(self.robust.epsilons) != len(self.robust.objectives):
                raise ValueError(f"key 'robust.epsilons' = {self.robust.epsilons!r}: allowed: one value per objective "
                                 f"({len(self.robust.objectives)})")
            if not self.levers:
                raise ValueError("key 'robust': the search needs [levers] to search over; allowed: with "
                                 "[levers.\"levers.KEY\"] ranges")
        return self

    source_sections: frozenset[str] = Field(frozenset(), exclude=True)
    """Top-level sections the batch file used (set by the loader; for messages)."""
    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)

    def lever_design_cached(self) -> Any:
        """The lever design (:func:`sim.batch.design.build_lever_design`), sampled once per spec."""
        if "lever_design" not in self._cache:
            from sim.batch.design import build_lever_design

            self._cache["lever_design"] = build_lever_design(self)
        return self._cache["lever_design"]

    # ------------------------------------------------------------------ derived

    @property
    def baseline_package(self) -> str:
        """Name of the package every other one is compared with."""
        return self.baseline or next(iter(self.packages))

    @property
    def lever_base_package(self) -> str:
        """The package that lever mixes change."""
        return self.lever_base or self.baseline_package

    def mix_names(self) -> list[str]:
        """Names of the lever-mix packages (``mix-000`` ...), in design order; [] without levers."""
        if not self.levers:
            return []
        count = self.lever_design_cached().n_points
        width = max(3, len(str(count - 1)))
        return [f"{MIX_PREFIX}{i:0{width}d}" for i in range(count)]

    def package_names(self) -> list[str]:
        """Every package that runs: the declared ones, then the lever mixes."""
        return [*self.packages, *self.mix_names()]

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
        if self.posterior is None:
            return None
        path = Path(self.posterior.from_posterior).expanduser()
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
        return flatten_tables(self.overrides)

    def package_scenario(self, package: str) -> Scenario:
        """A package's scenario with the batch's overrides, years and indicators applied (a lever
        mix: ``lever_base`` with the mix's lever values)."""
        if package.startswith(MIX_PREFIX) and self.levers:
            index = int(package[len(MIX_PREFIX):])
            values = self.lever_design_cached().point_values(index)
            return self.package_scenario(self.lever_base_package).with_updates(
                values, source=f"{self.source}: lever mix {package} ({_show(values)})")
        updates = {**self.flat_overrides(), "years": float(self.years),
                   "output.indicators": list(self.indicators)}
        return load_scenario(self.package_path(package), updates=updates)

    def fingerprint(self) -> str:
        """Hash of everything that decides the batch's runs (not its name, description, outcomes
        or robust search, which only read them), the engine's code included (runs made by other rules
        are another batch's: never mixed with these on resume)."""
        from sim.io.checkpoint import engine_fingerprint

        data = self.model_dump(mode="json", exclude={"name", "description", "source", "outcomes", "robust"})
        data["package_hashes"] = {p: self.package_scenario(p).content_hash() for p in self.packages}
        data["engine"] = engine_fingerprint()
        from sim.services import blocks

        data["block"] = int(blocks.RESIDENT_BLOCK)  # results depend on it (a test setting), not on threads
        if self.posterior is not None:  # a recalibrated posterior is another batch
            from sim.calibration.posterior import read_posterior

            data["posterior_sha256"] = read_posterior(self.posterior_folder()).digest
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


POSTERIOR_KEYS = ("from_posterior", "draws", "seed")
"""Keys of ``[uncertainties]`` that draw from a calibration's posterior rather than name a range
(scenario keys are dotted, so they cannot clash)."""

MIX_PREFIX = "mix-"
"""Lever-mix packages are named ``mix-000``, ``mix-001`` ..."""

RESERVED_KEYS = {
    "seed": "each replicate's seed comes from master_seed (SeedSequence(master_seed).spawn(replications)), the "
            "same in every package and design point; vary it with replications, or set master_seed",
    "years": "the batch's years key sets every run's measured years",
    "output.indicators": "the batch's indicators key sets what every run keeps",
    "name": "a package's name comes from [packages]",
}
"""Scenario keys a batch sets itself: as a design variable or override they would be silently replaced."""


def _show(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in values.items())


def flatten_tables(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables (as TOML gives them) as one dict of dotted keys."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten_tables(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def key_annotation(key: str) -> Any:
    """The type annotation of a dotted scenario key; ValueError naming the allowed keys if unknown."""
    model: Any = Scenario
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields or part == "base_dir":
            where = ".".join(parts[: depth + 1])
            allowed = ", ".join(k for k in (fields or {}) if k != "base_dir")
            raise ValueError(f"unknown scenario key '{where}' (in '{key}'); allowed here: {allowed}")
        model = fields[part].annotation
    return model


def parameter_kind(key: str) -> type:
    """``int``, ``float``, ``bool`` (a switch), ``str`` or ``list``: how a scenario key is sampled;
    ValueError for an unknown key or a table."""
    model = key_annotation(key)
    for kind in (bool, int, float, str):
        if model is kind or model == (kind | None):
            return kind
    origin = getattr(model, "__origin__", None)
    if origin is list:
        return list
    if origin is Literal or str(model).startswith("typing.Literal"):
        return str
    raise ValueError(f"scenario key '{key}' ({model}) cannot vary in a design")


def is_numeric(key: str) -> bool:
    """Whether a scenario key is an int or float (sampled in a range)."""
    return parameter_kind(key) in (int, float)


def default_values(key: str, rng: ParameterRange) -> list[Any] | None:
    """A variable's categories: its ``values``, ``[false, true]`` for a switch given neither, or None."""
    if rng.values is not None:
        return list(rng.values)
    if rng.low is None and parameter_kind(key) is bool:
        return [False, True]
    return None


def coerce_value(key: str, value: Any) -> Any:
    """A sampled value as the scenario key wants it (integer keys are rounded; others as given)."""
    kind = parameter_kind(key)
    if kind in (int, float) and not isinstance(value, bool):
        try:
            return int(round(float(value))) if kind is int else float(value)
        except (TypeError, ValueError, OverflowError):
            return value  # not a number: the scenario's schema names the key, the value and what is allowed
    return value


def load_batch(path: str | Path) -> BatchSpec:
    """Read and validate a batch file; every package scenario and parameter range is checked too.

    Raises:
        ScenarioError: the file, a package scenario or a range is invalid; the message names the
            file, the key, the value and what is allowed.
    """
    path = Path(path).expanduser().resolve()
    data = read_toml_file(path, "batch")
    if not data:  # a truncated or misnamed file
        raise ScenarioError(f"{path}: empty batch file (no keys); a batch file names at least its [packages] "
                            f"(NAME = \"scenario.toml\", relative to the batch file) and may add [overrides], "
                            f"[uncertainties.\"KEY\"] with a [design], [levers.\"levers.KEY\"] with a "
                            f"[lever_design], replications, years and indicators (docs/batches.md)")
    return batch_from_dict(data, source=str(path))


def batch_file_keys() -> list[str]:
    """The top-level keys a batch file may set: the fields of :class:`BatchSpec` without the loader's
    own (``source``, ``source_sections``), with ``uncertainties`` (``parameters`` is its older name;
    ``posterior`` is written ``[uncertainties] from_posterior``)."""
    keys = []
    for name, info in BatchSpec.model_fields.items():
        if info.exclude or name == "posterior":
            continue
        keys.extend(("uncertainties", name) if name == "parameters" else (name,))
    return keys


def batch_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> BatchSpec:
    """Validate a batch given as nested dicts (as TOML would give) and check it against the schema."""
    data = dict(data)
    allowed = batch_file_keys()
    unknown = [key for key in data if key not in allowed]
    if unknown:  # the key, never its value (as for scenarios)
        raise ScenarioError("\n".join([f"{source}: invalid batch file", *(
            f"  unknown key '{key}'; allowed keys here: {', '.join(allowed)}" for key in unknown)]))
    sections = frozenset(k for k in data if isinstance(data[k], dict))
    if "uncertainties" in data:
        if "parameters" in data:
            raise ScenarioError(f"{source}: invalid batch file\n  give [uncertainties] or [parameters] (the same "
                                f"thing, the older name), not both")
        table = dict(data.pop("uncertainties"))
        # a table is a design variable ([uncertainties."seed"]: refused as one), a value a posterior setting
        posterior = {key: table.pop(key) for key in POSTERIOR_KEYS if key in table and not isinstance(table[key], dict)}
        if posterior and "from_posterior" not in posterior:
            key = next(iter(posterior))
            raise ScenarioError(f"{source}: invalid batch file\n  key 'uncertainties.{key}' = {posterior[key]!r}: a "
                                f"setting of draws from a calibration's posterior; allowed: with from_posterior = "
                                f"\"DIR\" (a design variable is a table, [uncertainties.\"KEY\"])")
        if posterior:
            data["posterior"] = posterior
        data["parameters"] = table
    try:
        spec = BatchSpec.model_validate({**data, "source": source, "source_sections": sections})
    except ValidationError as err:
        message = _format_error(err, source, BatchSpec).replace("invalid scenario", "invalid batch file")
        if "uncertainties" in sections:
            message = message.replace("'parameters.", "'uncertainties.").replace("'posterior.", "'uncertainties.")
        raise ScenarioError(message) from None
    _check_against_scenarios(spec)
    return spec


def _check_against_scenarios(spec: BatchSpec) -> None:
    """Every package loads; every parameter is a numeric key whose range the schema accepts."""
    from sim.io.inputs import check_inputs
    from sim.metrics.indicators import UnknownIndicatorError, resolve

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
    if spec.posterior is not None:
        _check_posterior(spec, spec.package_scenario(spec.baseline_package))
    section = "uncertainties" if "uncertainties" in spec.source_sections else "parameters"
    for where, variables, base_package in ((section, spec.parameters, spec.baseline_package),
                                           ("levers", spec.levers, spec.lever_base_package)):
        base = spec.package_scenario(base_package)
        for key, rng in variables.items():
            try:
                kind = parameter_kind(key)
                if kind not in (int, float) and rng.values is None and not (kind is bool and rng.low is None):
                    raise ValueError(f"a {kind.__name__} key, not a number: give its values = [...]"
                                     + (" (or nothing: [false, true])" if kind is bool else ""))
                if rng.values is None and rng.low is None and kind is not bool:
                    raise ValueError("needs low and high, or values = [...]")
            except ValueError as err:
                raise ScenarioError(f"{spec.source}: key '{where}.\"{key}\"': {err}") from None
            values = default_values(key, rng)
            ends = values if values is not None else [rng.low, rng.high]
            design = spec.design if where != "levers" else spec.lever_design
            _check_whole_levels(spec.source, where, key, rng, design)
            for i, point in enumerate(design.points or []):
                _check_point(spec.source, "design" if where != "levers" else "lever_design", i, key, rng,
                             point[key], base)
            for value in ends:
                try:
                    base.with_updates({key: coerce_value(key, value)}, source=f"{spec.source}: {where}.\"{key}\" = {value!r}")
                except ScenarioError as err:
                    raise ScenarioError(str(err)) from None
                if key.startswith("levers.") and key.endswith(".categories"):
                    # as check_inputs does for a lever a scenario file enables: before any run fails on it
                    from sim.io.inputs import check_categories
                    from sim.services.catalogue import load_catalogue

                    catalogue = load_catalogue(base.economy.catalogue, base=base.resolve_path("."))
                    check_categories(key, value, catalogue, f"{spec.source}: {where}.\"{key}\"")
    from sim.metrics.indicators import REGISTRY

    kept = set(resolve(spec.indicators))
    for name, outcome in spec.outcomes.items():
        if outcome.indicator not in REGISTRY:
            raise ScenarioError(f"{spec.source}: key 'outcomes.{name}.indicator' = {outcome.indicator!r}: unknown "
                                f"indicator; see `lifecircle indicators`")
        if outcome.indicator not in kept:
            raise ScenarioError(f"{spec.source}: key 'outcomes.{name}.indicator' = {outcome.indicator!r}: the batch "
                                f"does not keep it; add it to indicators")


def _check_whole_levels(source: str, where: str, key: str, rng: ParameterRange, design: DesignConfig) -> None:
    """An integer key's levels the user chose (``values``, or a factorial's evenly spaced ``levels``
    between low and high) are whole numbers: a run rounds them (:func:`coerce_value`), so 1.5 and 2.5
    would both run as 2 and be recorded as two different points."""
    if parameter_kind(key) is not int:
        return
    if rng.values is not None:
        levels, what = rng.values, f"values = {rng.values!r}"
    elif design.method == "factorial":
        levels = [float(v) for v in np.linspace(rng.low, rng.high, design.levels)]
        what = f"low = {rng.low!r}, high = {rng.high!r} with levels = {design.levels} gives {levels!r}"
    else:
        return  # a sampled range: the runs round each draw, and design.parquet records what they ran
    odd = [v for v in levels if isinstance(v, (int, float)) and not isinstance(v, bool) and not float(v).is_integer()]
    if odd:
        raise ScenarioError(f"{source}: key '{where}.\"{key}\"': {what}: {key} is a whole number and "
                            f"{odd[0]!r} is not; allowed: whole-number levels")


def _check_point(source: str, section: str, index: int, key: str, rng: ParameterRange, value: Any,
                 base: Scenario) -> None:
    """An explicit design point's value: one of the variable's ``values``, or a number within its
    ``low``/``high`` (whole for an integer key), that the scenario's schema accepts -- before any run,
    not as a failed run at the end of the batch."""
    where = f"{source}: key '{section}.points[{index}]' has {key} = {value!r}"
    values = default_values(key, rng)
    if values is not None:
        if value not in values:
            raise ScenarioError(f"{where}: allowed: one of its values {values!r}")
    else:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ScenarioError(f"{where}: allowed: a finite number")
        if not rng.low <= value <= rng.high:
            raise ScenarioError(f"{where}: allowed: within its range, low = {rng.low!r} to high = {rng.high!r}")
        if parameter_kind(key) is int and not float(value).is_integer():
            raise ScenarioError(f"{where}: {key} is a whole number; allowed: a whole number")
    base.with_updates({key: coerce_value(key, value)}, source=where)


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
            if parameter_kind(key) not in (int, float):
                raise ValueError("not a number")
        except ValueError as err:
            raise ScenarioError(f"{where}: posterior parameter {key!r}: {err}") from None
        for value in (posterior.values[:, j].min(), posterior.values[:, j].max()):
            for package in spec.packages:
                scenario = base if package == spec.baseline_package else spec.package_scenario(package)
                scenario.with_updates({key: coerce_value(key, value)},
                                      source=f"{where}: posterior parameter {key} = {value!r} (package '{package}')")
