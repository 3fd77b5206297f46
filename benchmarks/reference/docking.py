"""Docking: the engine against the per-agent reference, paired by seed, with tolerances from the
seed-to-seed spread of the paired differences.

Each model builds its own world from the same scenario and seed -- the same streets (the network
and a grid's shop space are input data), but its own households, residents, outlets and random
draws -- so a seed pairs the two runs by their streets, and the difference of a statistic between
the models, seed by seed, carries no street-to-street variance (only each model's own draws). For
each statistic the docking takes the differences over the seeds and their paired t interval: the
two models agree when the mean difference lies within ``t(1 - alpha / 2, n - 1) x sd / sqrt(n)``
of zero, ``alpha`` being the docking's family-wise 5 % shared equally among the three parts and
within a part among its statistics (Bonferroni): a correct engine fails the docking by chance at
most once in twenty fresh sets of seeds. The smallest true difference a statistic detects four
times in five (80 % power) follows from the noncentral t distribution (:func:`detectable_difference`,
:attr:`Agreement.detectable`).

Three parts, each at the size where its rules show:

* :data:`DAY_ONE` -- the world as built, before any day (households, labour status, wages, outlets,
  prices, night opening, staffing, what residents know, coverage): many seeds of a large district.
* :data:`FIRST_MONTH` -- the daily rules and one month end, on a district large enough for many
  choices: needs met and why not, visits, crowding, the choice rule's scores
  (:mod:`benchmarks.reference.scores`), then the month's accounts, jobs and word of mouth.
* :data:`THREE_YEARS` -- the monthly dynamics from the synthetic start over three years on a small
  district, with the platform, lockers and siting acting from month 12: closures, entrants, jobs,
  incomes, deliveries and lockers, in the first year and in years two and three.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy import optimize, stats

from benchmarks.reference.scores import SCORES

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "baseline.toml"
FAMILY_ALPHA = 0.05
"""Chance that a correct engine fails the docking (any statistic of any part) with a fresh set of
seeds: shared equally among the parts (:attr:`Part.family_share`) and within a part among its
statistics (Bonferroni)."""


@dataclass(frozen=True)
class Statistic:
    """An indicator averaged over months ``first`` to ``last`` (exclusive; None: to the end)."""

    indicator: str
    first: int = 0
    last: int | None = None

    @property
    def name(self) -> str:
        if self.first == 0 and self.last is None:
            return self.indicator
        return f"{self.indicator}[{self.first}:{'' if self.last is None else self.last}]"


@dataclass(frozen=True)
class Part:
    """One docking run: a scenario (overrides of ``scenarios/baseline.toml``), seeds, statistics.

    ``day_one``: compare the world as built (no day simulated). ``choices``: observe every day's
    walks and choices (metres walked, choice scores), which slows both models. ``family_share``:
    the part's share of :data:`FAMILY_ALPHA` (the docking's three parts: a third each)."""

    name: str
    updates: Mapping[str, object]
    seeds: tuple[int, ...]
    statistics: tuple[Statistic, ...]
    day_one: bool = False
    choices: bool = False
    family_share: float = 1.0

    @property
    def runs_key(self) -> str:
        """What a part's runs depend on (not how they are judged): a key to keep them by."""
        return repr((self.name, dict(self.updates), self.seeds, self.statistics, self.day_one, self.choices))

    def scenario(self, extra: Mapping[str, object] | None = None):  # noqa: ANN201 - sim.scenario.Scenario
        """The part's scenario (with ``extra`` overrides, for a changed engine)."""
        from sim.scenario import load_scenario

        return load_scenario(BASELINE, updates={**self.updates, **(extra or {})})

    @property
    def alpha(self) -> float:
        """Each statistic's share of the docking's family-wise false-alarm rate."""
        return FAMILY_ALPHA * self.family_share / len(self.statistics)


DAY_ONE = Part(
    name="day one",
    updates={"population.residents": 16_000, "city.blocks_x": 14, "city.blocks_y": 14, "years": 1 / 365,
             "warmup_years": 0.0},
    seeds=tuple(range(1, 21)),
    day_one=True,
    family_share=1 / 3,
    statistics=tuple(Statistic(s) for s in (
        "night_open_share", "price_term_mean", "price_term_sd", "merchant_cash_months", "local_job_share",
        "employment_rate", "out_of_labour_share", "freelancer_share", "elderly_share", "disabled_share",
        "graduate_share", "insured_share", "persons_per_household", "children_per_adult", "young_children_share",
        "wage_mean", "pension_mean", "property_income_mean", "cash_mean", "known_outlet_share", "basic_coverage_15")),
)
"""The world as built: 16,000 residents on 14 x 14 blocks of 100 m (82 a block), 20 seeds (fewer
residents or seeds and the share of outlets open at night, drawn for a few dozen outlets of the
night trades per seed, no longer detects a change from 0.2 to 0.3 with good power)."""

FIRST_MONTH = Part(
    name="first month",
    updates={"population.residents": 6_000, "city.blocks_x": 9, "city.blocks_y": 9, "years": 31 / 365,
             "warmup_years": 0.0},
    seeds=tuple(range(1, 11)),
    choices=True,
    family_share=1 / 3,
    statistics=tuple(Statistic(s) for s in (
        "needs_met_share", "basic_needs_met_share", "night_needs_met_share", "unmet_range_share",
        "unmet_capacity_share", "unmet_money_share", "met_volunteer_share", "visits_per_outlet", "outlet_load_cv",
        "visit_walk_m", *SCORES, "known_outlet_share", "merchant_profit_mean", "employment_rate", "freelancer_share",
        "local_job_share", "income_mean", "service_spending", "entrants_waiting")),
)
"""January from the synthetic start: 6,000 residents on 9 x 9 blocks (74 a block), 10 seeds."""

_LEVERS_FROM_MONTH_12 = {f"levers.{name}.{key}": value for name in ("platform", "lockers", "siting")
                         for key, value in (("enabled", True), ("start_month", 12))}
_YEAR_ONE, _LATER = (0, 12), (12, None)
THREE_YEARS = Part(
    name="three years",
    updates={"population.residents": 1_500, "city.blocks_x": 5, "city.blocks_y": 5, "years": 3.0,
             "warmup_years": 0.0, "economy.opening_cash_months": 1.0, **_LEVERS_FROM_MONTH_12},
    seeds=tuple(range(1, 9)),
    family_share=1 / 3,
    statistics=(
        *(Statistic(s, *window) for window in (_YEAR_ONE, _LATER) for s in (
            "needs_met_share", "basic_needs_met_share", "night_needs_met_share", "unmet_range_share",
            "unmet_money_share", "visits_per_outlet", "merchants_open", "merchant_births", "merchant_deaths",
            "merchant_profit_mean", "negative_cash_share", "employment_rate", "income_mean", "service_spending",
            "known_outlet_share", "entrants_waiting")),
        *(Statistic(s, *_LATER) for s in ("met_delivery_share", "met_automated_share")),
        *(Statistic(s) for s in ("losing_months_at_closure", "merchant_transfers", "outlet_load_cv",
                                 "freelancer_share", "local_job_share")),
    ),
)
"""Three years from the synthetic start, platform, lockers and siting acting from month 12: 1,500
residents on 5 x 5 blocks (60 a block), 8 seeds. Outlets open with one month of running costs in
hand (``opening_cash_months`` = 1, the default 3), so that those that do not pay run out of cash
within months and the closure rule (``closure_months`` losing months with negative cash) decides
when they close."""

PARTS = (DAY_ONE, FIRST_MONTH, THREE_YEARS)

CHEAPEST_FIRST = (FIRST_MONTH, THREE_YEARS, DAY_ONE)
"""The parts in the order of the engine's cost for all their seeds (first month about 3 s, three
years 5 s, day one 17 s of one core): a changed engine is tried on them in this order and the first part that
fails decides (:func:`verdict`)."""

MUTATIONS: dict[str, dict[str, object]] = {
    "crowding weight 0": {"economy.crowding_weight": 0.0},
    "walking weight halved": {"economy.walk_minute_weight": 0.125},
    "price weight 0": {"economy.price_weight": 0.0},
    "night opening 0.2 -> 0.3": {"economy.night_open_share": 0.3},
    "word of mouth x10": {"economy.discovery_per_month": 0.5},
    "closure after 1 losing month": {"economy.closure_months": 1},
    "owners leave x10": {"economy.exit_per_month": 0.06},
    "entry off": {"economy.entrants_per_month": 0.0},
    "wages x0.8": {"economy.wage_multiplier": 0.8},
    "rent x1.5": {"economy.rent_multiplier": 1.5},
    "outside job finding off": {"economy.outside_job_finding_per_month": 0.0},
    "local hiring off": {"economy.local_hire_share": 0.0},
}
"""Changes made to the engine alone (its scenario; the reference and the choice scores keep the
part's), one per rule the docking must catch: the rules of issue 12 (crowding, walking and
price weights, night opening, word of mouth, closures) and one per monthly rule (closures and
hand-overs: owners leaving; entry: no arrivals; accounts: wages and rent; labour market: jobs
outside and local hiring). ``tests/test_docking_mutations.py`` asserts that each fails the docking."""

BEYOND_POWER: dict[str, dict[str, object]] = {
    "entrants view 1 site, not the best of 3": {"economy.sites_considered": 1},
}
"""Changes the docking is known *not* to detect at its sizes, reported by
``benchmarks/docking_report.py --mutations`` and not asserted. Viewing one premises instead of the
best of three hardly changes how many entrants pass their market study (a trade's viability, not
the site, decides that: 10.1 against 12.3 entrants waiting after the first month, tolerance 9.4);
it changes where they open, which shows in basic coverage after closures over years of a settled
district, beyond a three-year docking of 1,500 residents."""


# ---------------------------------------------------------------------------------------- runs
def summarise(months: list[dict[str, float]], statistics: tuple[Statistic, ...]) -> dict[str, float]:
    """Each statistic over its months: the mean of the monthly values; choice scores weighted by the
    month's draws; the losing months at closure summed and divided by the closures."""
    out = {}
    for stat in statistics:
        window = months[stat.first: stat.last]
        if stat.indicator == "losing_months_at_closure":
            closures = sum(m["merchant_deaths"] for m in window)
            out[stat.name] = sum(m[stat.indicator] for m in window) / closures if closures else math.nan
        elif stat.indicator in SCORES:
            draws = sum(m["draws"] for m in window)
            out[stat.name] = sum(m[stat.indicator] * m["draws"] for m in window if m["draws"]) / draws if draws else math.nan
        else:
            values = [m[stat.indicator] for m in window if not math.isnan(m[stat.indicator])]
            out[stat.name] = float(np.mean(values)) if values else math.nan
    return out


def run_engine(part: Part, seed: int, changes: Mapping[str, object] | None = None) -> dict[str, float]:
    """The engine's statistics of ``part`` for ``seed``, with the engine's scenario ``changes``
    (the reference and the choice scores keep the part's own scenario)."""
    from benchmarks.reference.observe import engine_months, engine_world

    scenario = part.scenario()
    engine_scenario = part.scenario(changes) if changes else scenario
    if part.day_one:
        values = engine_world(engine_scenario, seed)
        return {s.name: values[s.indicator] for s in part.statistics}
    return summarise(engine_months(engine_scenario, seed, rule=scenario, observe_choices=part.choices), part.statistics)


def run_reference(part: Part, seed: int) -> dict[str, float]:
    """The reference's statistics of ``part`` for ``seed``."""
    from benchmarks.reference.model import ReferenceModel
    from benchmarks.reference.records import world_record

    model = ReferenceModel(scenario=part.scenario(), seed=seed, observe_choices=part.choices)
    if part.day_one:
        values = world_record(model)
        return {s.name: values[s.indicator] for s in part.statistics}
    while model.running:
        model.step()
    return summarise(model.records, part.statistics)


def _run(task: tuple[str, Part, int, Mapping[str, object] | None]) -> dict[str, float]:
    which, part, seed, changes = task
    return run_reference(part, seed) if which == "reference" else run_engine(part, seed, changes)


def default_workers() -> int:
    """Worker processes for docking runs: ``LIFECIRCLE_DOCKING_WORKERS``, else up to 2 of the
    machine's cores."""
    return int(os.environ.get("LIFECIRCLE_DOCKING_WORKERS", min(2, os.cpu_count() or 1)))


def process_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """A pool of fresh interpreters for :func:`run_all` (None with a single worker)."""
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def run_all(tasks: list[tuple[str, Part, int, Mapping[str, object] | None]],
            pool: ProcessPoolExecutor | None = None) -> list[dict[str, float]]:
    """Run ``(model, part, seed, engine changes)`` tasks, ``model`` being "engine" or "reference",
    in ``pool`` (else here, one after another); results in the order of the tasks. Each run depends
    only on its scenario and seed, so where it runs changes nothing."""
    if pool is None or len(tasks) <= 1:
        return [_run(task) for task in tasks]
    return list(pool.map(_run, tasks))


# ---------------------------------------------------------------------------------------- comparison
POWER = 0.8
"""The power at which :func:`detectable_difference` states each statistic's detectable difference."""


def detectable_difference(sd: float, n: int, alpha: float, power: float = POWER) -> float:
    """The smallest true mean difference that the two-sided paired t test at level ``alpha``
    detects with probability ``power``, for ``n`` seeds whose differences have standard deviation
    ``sd``: the exact answer from the noncentral t distribution (the mean difference over its
    standard error is noncentral t with n - 1 degrees of freedom), not the normal approximation
    ``(t(1 - alpha / 2) + t(power)) x sd / sqrt(n)``, which understates it at few seeds."""
    if n < 2 or not sd > 0:
        return math.nan if n < 2 or math.isnan(sd) else 0.0
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)

    def reject(noncentrality: float) -> float:
        lower = stats.nct.cdf(-critical, df, noncentrality)  # the wrong-sign tail (tiny; NaN far out)
        return stats.nct.sf(critical, df, noncentrality) + (0.0 if math.isnan(lower) else lower)

    noncentrality = optimize.brentq(lambda nc: reject(nc) - power, 0.0, 4 * critical + 10)
    return float(noncentrality * sd / math.sqrt(n))


@dataclass(frozen=True)
class Agreement:
    """One statistic of one part: the paired differences engine - reference over the seeds."""

    part: str
    statistic: str
    engine_mean: float
    reference_mean: float
    mean_difference: float
    sd_difference: float
    n: int
    alpha: float
    tolerance: float = field(init=False)
    detectable: float = field(init=False)

    def __post_init__(self) -> None:
        se = self.sd_difference / math.sqrt(self.n) if self.n > 1 else math.nan
        t_alpha = stats.t.ppf(1 - self.alpha / 2, self.n - 1) if self.n > 1 else math.nan
        object.__setattr__(self, "tolerance", t_alpha * se)
        object.__setattr__(self, "detectable", detectable_difference(self.sd_difference, self.n, self.alpha))

    @property
    def interval95(self) -> tuple[float, float]:
        """The 95 % paired t confidence interval of the mean difference (not Bonferroni-adjusted)."""
        if self.n < 2:
            return (math.nan, math.nan)
        half = stats.t.ppf(0.975, self.n - 1) * self.sd_difference / math.sqrt(self.n)
        return (self.mean_difference - half, self.mean_difference + half)

    @property
    def compared(self) -> bool:
        """At least three seeds gave the statistic in both models."""
        return self.n >= 3

    @property
    def passes(self) -> bool:
        """The mean difference lies within the tolerance (a statistic not compared passes nothing)."""
        return self.compared and abs(self.mean_difference) <= self.tolerance

    @property
    def t(self) -> float:
        """The paired t statistic (inf when every seed's difference is the same non-zero value)."""
        if self.sd_difference > 0:
            return self.mean_difference / (self.sd_difference / math.sqrt(self.n))
        return 0.0 if self.mean_difference == 0 else math.copysign(math.inf, self.mean_difference)

    def line(self) -> str:
        """One line of a report."""
        verdict = "ok  " if self.passes else "FAIL"
        return (f"{verdict} {self.part:12s} {self.statistic:32s} engine {self.engine_mean:12.5g} reference "
                f"{self.reference_mean:12.5g} difference {self.mean_difference:+11.4g} tolerance {self.tolerance:10.4g} "
                f"t {self.t:+7.2f} detectable {self.detectable:10.4g} (n={self.n})")


def compare(part: Part, engine: list[dict[str, float]], reference: list[dict[str, float]]) -> list[Agreement]:
    """Paired comparison of a part's statistics: ``engine[i]`` and ``reference[i]`` are the runs of
    the part's i-th seed."""
    out = []
    for stat in part.statistics:
        pairs = [(e[stat.name], r[stat.name]) for e, r in zip(engine, reference)
                 if not (math.isnan(e[stat.name]) or math.isnan(r[stat.name]))]
        e = np.array([p[0] for p in pairs])
        r = np.array([p[1] for p in pairs])
        d = e - r
        out.append(Agreement(
            part=part.name, statistic=stat.name, n=len(pairs), alpha=part.alpha,
            engine_mean=float(e.mean()) if len(e) else math.nan, reference_mean=float(r.mean()) if len(r) else math.nan,
            mean_difference=float(d.mean()) if len(d) else math.nan,
            sd_difference=float(d.std(ddof=1)) if len(d) > 1 else math.nan))
    return out


def verdict(agreements: list[Agreement]) -> str:
    """"agree" when every statistic compared passes, else "differ"."""
    return "agree" if all(a.passes for a in agreements) else "differ"
