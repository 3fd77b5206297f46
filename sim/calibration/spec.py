"""Calibration files: a frozen, validated description of one ABC-SMC calibration.

A calibration file (TOML) names the scenario the model is calibrated on (with overrides that make
it a small district), how each particle is simulated (warm-up and measured years), the parameters
to calibrate with their priors, the target patterns with their observed values, tolerances and
sources, and the ABC settings (population size, distance, epsilon schedule) and stopping rule. It
is validated the way scenarios and batch files are (:mod:`sim.scenario`): an unknown key, a wrong
type, an out-of-range value, a parameter that is not a numeric scenario key or whose prior leaves
the range the schema allows, an unknown indicator or category -- each raises
:class:`~sim.scenario.ScenarioError` naming the file, the key, the value and what is allowed.

Example::

    name = "demo"
    scenario = "../baseline.toml"
    seed = 20240601

    [overrides]
    "population.residents" = 5000

    [simulation]
    settled_seeds = 8        # starts settled once each (the scenario's 20-year warm-up)
    adjust_years = 2.0       # a particle's own values act this long, unmeasured
    measure_years = 3.0

    [parameters."economy.entry_hurdle"]
    prior = "uniform"
    low = 0.9
    high = 1.6

    [targets.unemployment]
    statistic = "mean"
    indicator = "unemployment_rate"
    observed = 0.052
    tolerance = 0.005
    source = "NBS 2023: surveyed urban unemployment rate, annual mean"

    [abc]
    population_size = 100

    [stop]
    max_generations = 4

See ``docs/calibration.md`` ("Calibrating with ABC") for every key.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from sim.batch.spec import flatten_tables
from sim.scenario import (WARMUP_YEARS, Scenario, ScenarioError, _describe_allowed, _format_error, _Strict,
                          load_scenario, read_toml_file)

STATISTICS = ("mean", "ratio", "outlets_per_10k", "outlet_survival", "closure_rate")
"""The summary statistics a target can name (:mod:`sim.calibration.statistics`)."""

SIMULATION_KEYS = {
    "seed": "seed: per particle",
    "years": "years: [simulation] adjust_years + measure_years",
    "warmup_years": "warmup_years: [simulation]",
    "output.indicators": "output.indicators: the indicators the targets read",
}
"""Scenario keys the calibration sets itself (the particle's seed, ``[simulation]``, the indicators
its targets read), with where each comes from: neither a parameter nor an override may name them,
or the value given would be silently replaced."""


class PriorSpec(_Strict):
    """The prior of one calibrated parameter (a dotted scenario key)."""

    prior: Literal["uniform", "loguniform", "normal"] = "uniform"
    """Shape: ``uniform`` on [low, high]; ``loguniform`` (uniform in the logarithm, for rates
    spanning orders of magnitude; low > 0); ``normal`` with ``mean`` and ``sd``, truncated to
    [low, high]. Integer scenario keys are rounded to the nearest whole number when applied; a
    uniform prior of an integer key spans [low - 0.5, high + 0.5], so each whole number from low
    to high has the same prior mass."""
    low: float
    """Lower end of the support, in the scenario key's own unit (within the schema's range)."""
    high: float
    """Upper end of the support (within the schema's range)."""
    mean: float | None = None
    """``normal`` only: the mean, between low and high."""
    sd: float | None = Field(None, gt=0.0)
    """``normal`` only: the standard deviation (> 0)."""
    note: str = ""
    """Why this prior (what is known of the parameter; free text)."""

    @model_validator(mode="after")
    def _shape(self) -> PriorSpec:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.prior == "loguniform" and not self.low > 0:
            raise ValueError(f"a loguniform prior needs low > 0 (got low = {self.low})")
        if self.prior == "normal":
            if self.mean is None or self.sd is None:
                raise ValueError("a normal prior needs mean and sd (and low, high: it is truncated to them)")
            if not self.low <= self.mean <= self.high:
                raise ValueError(f"mean ({self.mean}) must lie between low ({self.low}) and high ({self.high})")
        elif self.mean is not None or self.sd is not None:
            raise ValueError(f"mean and sd are for a normal prior, not a {self.prior} one")
        return self


class TargetSpec(_Strict):
    """One target pattern: a summary statistic of the simulated district, its observed value and source."""

    statistic: Literal["mean", "ratio", "outlets_per_10k", "outlet_survival", "closure_rate"]
    """``mean``: an indicator's mean over the measured months; ``ratio``: the mean of ``indicator``
    over the mean of ``denominator``; ``outlets_per_10k``: outlets open per 10,000 persons (adults
    and their children), mean over the measured months, of ``categories`` (default: every
    category); ``outlet_survival``: the share of outlets the model opened that still trade
    ``years`` after opening (Kaplan-Meier, observed from ``simulation.survival_from_year``);
    ``closure_rate``: outlets closed per open outlet per year over the measured period."""
    indicator: str | None = None
    """``mean`` and ``ratio``: an indicator name (``lifecircle indicators``; a family member as
    ``name.suffix``, e.g. ``coverage_15.pharmacy``)."""
    denominator: str | None = None
    """``ratio`` only: the indicator divided by."""
    categories: list[str] | None = Field(None, min_length=1)
    """``outlets_per_10k`` only: service categories counted (names from the catalogue)."""
    years: float | None = Field(None, gt=0.0, le=50.0)
    """``outlet_survival`` only: the age at which survival is read, years."""
    observed: float
    """The observed value, in the statistic's unit."""
    tolerance: float = Field(gt=0.0)
    """How far from ``observed`` a simulation may be and still count as agreeing, in the
    statistic's unit: the observation's uncertainty plus how loosely it describes a district like
    the model's. The distance weighs each target by 1 / tolerance."""
    source: str = Field(min_length=1)
    """Where the observed value comes from (publication, table, year) and how it was derived."""
    note: str = ""
    """Anything else a reader should know (free text)."""

    @model_validator(mode="after")
    def _arguments(self) -> TargetSpec:
        needs = {"mean": {"indicator"}, "ratio": {"indicator", "denominator"}, "outlets_per_10k": set(),
                 "outlet_survival": {"years"}, "closure_rate": set()}[self.statistic]
        may = needs | ({"categories"} if self.statistic == "outlets_per_10k" else set())
        given = {k for k in ("indicator", "denominator", "categories", "years") if getattr(self, k) is not None}
        missing = sorted(needs - given)
        if missing:
            raise ValueError(f"statistic = {self.statistic!r} needs {', '.join(missing)}")
        extra = sorted(given - may)
        if extra:
            raise ValueError(f"statistic = {self.statistic!r} takes no {', '.join(extra)}")
        if not self.source.strip():
            raise ValueError("source must say where the observed value comes from")
        return self


class SimulationConfig(_Strict):
    """How each particle is simulated: from the settled start of one of a few seeds, through an
    adjustment period under its own values, then the measured years (:mod:`sim.calibration.simulate`)."""

    warmup_years: float = Field(WARMUP_YEARS, ge=0.0, le=100.0)
    """Years each start seed's district is warmed up (every lever off, the scenario's own values of
    the calibrated parameters) into its settled start, once per seed, kept in ``DIR/checkpoints``;
    default: the scenario schema's warm-up (20 years). 0: no settled start, every particle starts
    from the synthetic first day with its own values."""
    settled_seeds: int = Field(8, ge=1, le=1000)
    """Start seeds (derived from the calibration's ``seed``): a particle begins from the settled
    start of one of them, drawn at random, with fresh noise of its own after it."""
    adjust_years: float = Field(2.0, ge=0.0, le=100.0)
    """Years a particle runs under its own values after its settled start before measuring, so that
    the measured months show its parameters rather than the scenario's settled state (not measured)."""
    measure_years: float = Field(3.0, gt=0.0, le=100.0)
    """Measured years after the adjustment: the months that ``mean``, ``ratio``, ``outlets_per_10k``
    and ``closure_rate`` average over."""
    survival_from_year: float = Field(0.0, ge=0.0, le=100.0)
    """``outlet_survival`` follows the outlets the model opens from this many years after the
    settled start onward (0: every outlet opened under the particle's values), to the end of the
    run (adjustment and measured years)."""

    @property
    def run_years(self) -> float:
        """Years a particle simulates after its settled start: ``adjust_years + measure_years``."""
        return self.adjust_years + self.measure_years

    @property
    def adjust_months(self) -> int:
        """The collected months of the adjustment period (not measured)."""
        return int(round(self.adjust_years * 12))


class ABCConfig(_Strict):
    """ABC-SMC settings (pyabc)."""

    population_size: int = Field(100, ge=2, le=1_000_000)
    """Particles accepted per generation (``pyabc.ConstantPopulationSize``)."""
    distance: Literal["pnorm", "adaptive"] = "pnorm"
    """``pnorm``: ``pyabc.PNormDistance`` with each target weighted by 1 / tolerance; ``adaptive``:
    ``pyabc.AdaptivePNormDistance`` (weights from the spread of each statistic in the last
    generation; tolerances are then used for the predictive check only)."""
    p: float = Field(2.0, ge=1.0, le=100.0)
    """The p of the p-norm (2: Euclidean distance in tolerance units)."""
    epsilon_quantile: float = Field(0.5, gt=0.0, le=1.0)
    """Each generation's acceptance threshold is this weighted quantile of the last generation's
    distances (``pyabc.QuantileEpsilon``); the first generation accepts every prior draw."""


class StopConfig(_Strict):
    """When to stop. The first rule met stops; rerunning with larger limits continues."""

    max_generations: int = Field(5, ge=1, le=10_000)
    """Generations in all (over every invocation of the command)."""
    min_epsilon: float = Field(0.0, ge=0.0)
    """Stop once a generation's threshold is at or below this distance (in tolerance units with
    ``pnorm``: sqrt(number of targets) means every target within about one tolerance)."""
    max_walltime_minutes: float | None = Field(None, gt=0.0)
    """Start no new generation after this many minutes of this invocation (a generation that has
    started finishes); None: no limit."""


class PredictiveConfig(_Strict):
    """The posterior predictive check written after the last generation."""

    draws: int = Field(40, ge=0, le=1_000_000)
    """Parameter sets drawn from the posterior (by weight) and simulated once each with a fresh
    seed; 0: no predictive check."""
    interval: float = Field(0.9, gt=0.0, lt=1.0)
    """Central interval of the simulated statistics reported against each observed value."""


class CalibrationSpec(_Strict):
    """A calibration: scenario x priors x targets x ABC settings."""

    name: str = "calibration"
    """Short name, used in outputs."""
    description: str = ""
    """What is calibrated and why."""
    scenario: str
    """The scenario file (relative to the calibration file) the parameters are calibrated on."""
    seed: int = Field(20240101, ge=0, le=2**32 - 1)
    """Master seed: every job of the sampler and every predictive draw is seeded from it, so the
    same file and seed give the same posterior (docs/calibration.md, "Reproducibility")."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Dotted scenario keys set in every simulation (e.g. a small district); nested tables are
    accepted too. ``seed``, ``years`` and ``warmup_years`` are the calibration's own."""
    simulation: SimulationConfig = SimulationConfig()
    """How each particle is simulated."""
    parameters: dict[str, PriorSpec] = Field(min_length=1)
    """Calibrated parameters: dotted numeric scenario key -> prior."""
    targets: dict[str, TargetSpec] = Field(min_length=1)
    """Target patterns: name (letters, digits, ``_`` and ``-``) -> statistic, observed value, tolerance, source."""
    abc: ABCConfig = ABCConfig()
    """ABC-SMC settings."""
    stop: StopConfig = StopConfig()
    """Stopping rule."""
    predictive: PredictiveConfig = PredictiveConfig()
    """Posterior predictive check."""
    source: str = Field("<dict>", exclude=True)
    """The calibration file (set by the loader)."""

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationSpec:
        for name in self.targets:
            if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
                raise ValueError(f"targets: name {name!r} may use letters, digits, '_' and '-' only")
        flat = flatten_tables(self.overrides)
        for key in SIMULATION_KEYS:
            if key in flat:
                raise ValueError(f"overrides: {key!r} = {flat[key]!r} is set by the calibration itself "
                                 f"({SIMULATION_KEYS[key]}); remove it")
            if key in self.parameters:
                raise ValueError(f"parameters: {key!r} cannot be calibrated (it is set by the calibration itself)")
        both = sorted(set(flat) & set(self.parameters))
        if both:
            raise ValueError(f"{', '.join(both)}: both an override and a calibrated parameter; keep one")
        total = self.simulation.run_years
        if self.simulation.survival_from_year >= total:
            raise ValueError(f"simulation.survival_from_year ({self.simulation.survival_from_year}) must be below "
                             f"adjust_years + measure_years ({total})")
        oldest = self.simulation.warmup_years + total - self.simulation.survival_from_year
        for name, target in self.targets.items():
            if target.statistic == "outlet_survival" and target.years >= oldest:
                raise ValueError(f"targets.{name}.years = {target.years}: survival that long cannot be observed: no "
                                 f"outlet is older than {oldest:g} years while observed (warmup_years + adjust_years "
                                 f"+ measure_years - survival_from_year)")
        return self

    # ------------------------------------------------------------------ derived

    @property
    def base_dir(self) -> Path:
        """Folder of the calibration file (the scenario path is relative to it)."""
        return Path(self.source).parent if self.source != "<dict>" else Path(".")

    @property
    def scenario_path(self) -> Path:
        """The absolute path of the scenario file."""
        path = Path(self.scenario).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def names(self) -> list[str]:
        """The calibrated scenario keys, in file order."""
        return list(self.parameters)

    def flat_overrides(self) -> dict[str, Any]:
        """``overrides`` with nested tables flattened to dotted keys."""
        return flatten_tables(self.overrides)

    def indicators(self) -> list[str]:
        """The registry indicators the targets read (their families for ``name.suffix``)."""
        names = {"merchants_open"}
        for target in self.targets.values():
            for ref in (target.indicator, target.denominator):
                if ref:
                    names.add(ref.split(".")[0])
            if target.statistic == "closure_rate":
                names.add("merchant_deaths")
        return sorted(names)

    def base_scenario(self) -> Scenario:
        """The scenario every particle starts from: the file's scenario with the overrides, the
        simulation's warm-up, its adjustment and measured years (the run's ``years``) and the
        indicators the targets read. Its values of the calibrated parameters settle the starts."""
        updates = {**self.flat_overrides(), "warmup_years": float(self.simulation.warmup_years),
                   "years": float(self.simulation.run_years), "output.indicators": self.indicators()}
        return load_scenario(self.scenario_path, updates=updates)

    def integer_keys(self) -> set[str]:
        """The calibrated keys whose scenario field is an integer (rounded when applied)."""
        from sim.batch.spec import parameter_kind

        return {key for key in self.parameters if parameter_kind(key) is int}

    def observed(self) -> dict[str, float]:
        """The observed summary statistics, by target name."""
        return {name: float(t.observed) for name, t in self.targets.items()}

    def fingerprint(self) -> str:
        """Hash of everything that decides the posterior, the engine's code included: not the name,
        description, stopping rule or predictive check (so that a calibration can be continued with
        more generations)."""
        from sim.io.checkpoint import engine_fingerprint

        data = self.model_dump(mode="json", exclude={"name", "description", "source", "stop", "predictive"})
        data["scenario_hash"] = self.base_scenario().content_hash()
        data["engine"] = engine_fingerprint()  # generations simulated by other rules are another calibration's
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file, with its scenario, parameters and targets.

    Raises:
        ScenarioError: the file, its scenario, a prior or a target is invalid; the message names
            the file, the key, the value and what is allowed.
    """
    path = Path(path).expanduser().resolve()
    data = read_toml_file(path, "calibration")
    if not data:
        raise ScenarioError(f"{path}: empty calibration file (no keys); it names at least a scenario, "
                            f"[parameters.\"KEY\"] and [targets.NAME]")
    return calibration_from_dict(data, source=str(path))


def calibration_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> CalibrationSpec:
    """Validate a calibration given as nested dicts (as TOML would give) and check it against the
    scenario schema, the indicator registry and the catalogue."""
    if "source" in data:  # the loader's own: from a file it would be silently replaced
        raise ScenarioError(f"{source}: invalid calibration file\n  unknown key 'source'; "
                            f"{_describe_allowed(CalibrationSpec, ('source',))}")
    try:
        spec = CalibrationSpec.model_validate({**data, "source": source})
    except ValidationError as err:
        whole = [e for e in err.errors() if not e["loc"]]  # the file-wide checks: no key to name, no value to show
        if whole:
            message = str(whole[0]["msg"]).removeprefix("Value error, ")
            raise ScenarioError(f"{source}: invalid calibration file: {message}") from None
        raise ScenarioError(_format_error(err, source, CalibrationSpec)
                            .replace("invalid scenario", "invalid calibration file")) from None
    _check_against_model(spec)
    return spec


def _check_against_model(spec: CalibrationSpec) -> None:
    """The scenario loads with the overrides; every parameter is a numeric key whose prior support
    the schema accepts; every target's indicators and categories exist."""
    from sim.batch.spec import coerce_value, parameter_kind
    from sim.io.inputs import check_inputs
    from sim.metrics.indicators import REGISTRY

    src = spec.source
    path = spec.scenario_path
    if not path.is_file():
        raise ScenarioError(f"{src}: key 'scenario' = {spec.scenario!r}: no such scenario file ({path})")
    try:
        base = spec.base_scenario()
        catalogue = check_inputs(base, source=str(path))
    except ScenarioError as err:
        raise ScenarioError(f"{src}: scenario {spec.scenario!r} with the calibration's overrides: {err}") from None
    for key, prior in spec.parameters.items():
        where = f"{src}: key 'parameters.\"{key}\"'"
        try:
            kind = parameter_kind(key)
        except ValueError as err:
            raise ScenarioError(f"{where}: {err}") from None
        if kind not in (int, float):
            raise ScenarioError(f"{where}: a {kind.__name__} key, not a number; a prior spans a range of numbers; "
                                f"allowed: a numeric economy.<key> (lifecircle schema lists them)")
        if not key.startswith("economy."):
            raise ScenarioError(f"{where}: not an economy.* key; a particle starts from the settled district of its "
                                f"seed (its city, people and their history), so only the economy's rules can be "
                                f"calibrated; allowed: economy.<key> (lifecircle schema lists them)")
        for end in (prior.low, prior.high):
            if kind is int and not float(end).is_integer():
                raise ScenarioError(f"{where}: low/high = {end!r}: {key} is a whole number; allowed: whole-number ends")
            try:
                base.with_updates({key: coerce_value(key, end)}, source=f"{src}: parameters.\"{key}\" = {end!r}")
            except ScenarioError as err:
                raise ScenarioError(str(err)) from None
    for name, target in spec.targets.items():
        where = f"{src}: key 'targets.{name}"
        for field in ("indicator", "denominator"):
            ref = getattr(target, field)
            if ref is None:
                continue
            family, _, suffix = ref.partition(".")
            known = REGISTRY.get(family)
            if known is None or bool(suffix) != known.family:
                plain = sorted(n for n, ind in REGISTRY.items() if not ind.family)
                families = sorted(f"{n}.<suffix>" for n, ind in REGISTRY.items() if ind.family)
                raise ScenarioError(f"{where}.{field}' = {ref!r}: not an indicator; allowed: "
                                    f"{', '.join(plain + families)}")
            if suffix and suffix not in _family_suffixes(family, base):
                raise ScenarioError(f"{where}.{field}' = {ref!r}: {family} has no member {suffix!r}; allowed: "
                                    f"{', '.join(f'{family}.{s}' for s in _family_suffixes(family, base))}")
        for category in target.categories or []:
            if category not in catalogue.names:
                raise ScenarioError(f"{where}.categories' = {category!r}: not a service category of the catalogue; "
                                    f"allowed: {', '.join(catalogue.names)}")
        if not math.isfinite(target.observed):
            raise ScenarioError(f"{where}.observed' = {target.observed!r}: allowed: a finite number")


def _family_suffixes(family: str, base: Scenario) -> list[str]:
    """The members an indicator family records, evaluated on a tiny grid model with the scenario's
    catalogue (families are keyed by category, group, outcome or lever)."""
    from sim.metrics.indicators import REGISTRY
    from sim.model import LifeCircleModel
    from sim.scenario import scenario_from_dict

    tiny = scenario_from_dict({"population": {"residents": 50}, "city": {"blocks_x": 2, "blocks_y": 2},
                               "economy": {"catalogue": base.economy.catalogue},
                               "warmup_years": 0.0, "years": 0.01}, base_dir=base.base_dir)
    model = LifeCircleModel(scenario=tiny, create_agents=False, checkpoints=False)
    return sorted(REGISTRY[family].fn(model))
