"""Population state: every resident's attributes as NumPy arrays (index = resident id).

The rules of :mod:`sim.services.demand`, :mod:`sim.economy.labour` and :mod:`sim.economy.accounts` run over these arrays
for the whole population at once; the Mesa agents of :mod:`agents` are views onto one row.

Ages are held fixed over a run (a stationary population: residents who age out are replaced by
newcomers like them), so groups such as "elderly" do not drift over a ten-year run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.services.catalogue import Catalogue
from sim.city.grid import City
from sim.economy.households import Households, draw_households
from sim.scenario import Scenario

# Labour status codes.
EMPLOYED = 0      # works for a local merchant (employer >= 0) or outside the circle (employer == -2)
UNEMPLOYED = 1
FREELANCER = 2
RETIRED = 3
OWNER = 4         # runs an outlet of their own
OUT_OF_LABOUR = 5  # working age, outside the labour force (students, homemakers, early retirees)
STATUS_NAMES = ("employed", "unemployed", "freelancer", "retired", "owner", "out_of_labour_force")
OUTSIDE_JOB = -2
NO_JOB = -1

# Walk-speed classes: (elderly, disabled) -> 0..3; walk speeds take only these four values.
SPEED_CLASSES = 4
ELDERLY_CLASSES = (1, 3)   # speed classes of residents of retirement age
DISABLED_CLASSES = (2, 3)  # speed classes of residents with a disability


@dataclass
class Population:
    """Arrays describing the N residents.

    Attributes:
        home: Node each resident lives at.
        age: Age in years.
        elderly: Age >= retirement age.
        disabled: Has a disability.
        graduated_month: Model month in which the resident graduated, for recent graduates (in the
            last ``GRADUATE_MONTHS``); ``NOT_GRADUATE`` for everyone else. ``graduate`` is derived from it.
        speed_class: 0 adult, 1 elderly, 2 disabled, 3 elderly and disabled.
        status: Labour status code (``EMPLOYED`` ...).
        employer: Merchant id for local jobs, ``OUTSIDE_JOB``, or ``NO_JOB``.
        owned: Merchant id the resident owns, or -1.
        knows: (N, C) uint8 bitmask: bit k set = knows the k-th nearest outlet of the category.
        map_user: Uses the dynamic service map (knows every outlet in reach).
        volunteer: Volunteers in community services (retirees).
        wants_work: Retiree who wants paid work.
        trained: Freelancer trained under the flexible-employment lever.
        household: Household of each resident (:class:`sim.economy.households.Households`).
        wage: Monthly wage of the current job, fen (0 without one): drawn when the job is taken.
        pension: Monthly pension, fen (residents of retirement age).
        benefit_left: Months of unemployment insurance still to draw (0: none).
        income_month: Income received so far this month, fen.
        income_last: Income received in the last complete month, fen.
        paid_as: Labour status when the last complete month's incomes were paid (the labour market,
            after the accounts, moves people between statuses: income_last is that of their status here).
        paid_local: In a shop job in the circle (``employer >= 0``) when the last complete month's
            incomes were paid (as ``paid_as``: the labour market hires and lays off after the accounts).
    """

    home: np.ndarray
    age: np.ndarray
    elderly: np.ndarray
    disabled: np.ndarray
    graduated_month: np.ndarray
    speed_class: np.ndarray
    status: np.ndarray
    employer: np.ndarray
    owned: np.ndarray
    knows: np.ndarray
    map_user: np.ndarray
    volunteer: np.ndarray
    wants_work: np.ndarray
    trained: np.ndarray
    household: np.ndarray
    wage: np.ndarray
    pension: np.ndarray
    benefit_left: np.ndarray
    income_month: np.ndarray
    income_last: np.ndarray
    paid_as: np.ndarray
    paid_local: np.ndarray

    @property
    def n(self) -> int:
        """Number of residents."""
        return len(self.home)

    def working_age(self) -> np.ndarray:
        """Mask of residents below retirement age."""
        return ~self.elderly

    @property
    def graduate(self) -> np.ndarray:
        """Mask of recent graduates (graduated in the last ``GRADUATE_MONTHS`` months)."""
        return self.graduated_month != NOT_GRADUATE


GRADUATE_MONTHS = 36
"""A resident counts as a recent graduate for three years after graduating (the window of China's
employment and start-up support for graduates, e.g. MOHRSS start-up subsidies)."""
NOT_GRADUATE = np.iinfo(np.int32).min
GRADUATE_MAX_AGE = 28
"""Residents up to this age may graduate (bachelor's at ~22, master's at ~25, PhD at ~28)."""


def renew_graduates(pop: Population, month: int, share: float, rng: np.random.Generator) -> None:
    """Month end: graduates of ``GRADUATE_MONTHS`` ago stop counting as recent graduates, and new
    ones graduate, so the share of recent graduates stays at ``share`` of the residents.

    Ages are fixed over a run (a stationary population), so new graduates are drawn from the
    working-age residents up to ``GRADUATE_MAX_AGE`` who are not recent graduates (a newcomer like
    the one who aged out); the inflow is Poisson with mean ``share x N / GRADUATE_MONTHS`` a month.
    """
    graduate = pop.graduate
    expired = graduate & (month - pop.graduated_month >= GRADUATE_MONTHS)
    pop.graduated_month[expired] = NOT_GRADUATE
    pool = np.flatnonzero(~pop.graduate & ~pop.elderly & (pop.age <= GRADUATE_MAX_AGE) & (pop.owned < 0))
    new = min(int(rng.poisson(share * pop.n / GRADUATE_MONTHS)), len(pool))
    if new:
        pop.graduated_month[rng.choice(pool, size=new, replace=False)] = month


def speed_table(scenario: Scenario) -> np.ndarray:
    """Walk speed (m/min) of each speed class."""
    p = scenario.population
    base = p.walk_speed_m_per_min
    return np.array([
        base,
        base * p.elderly_walk_factor,
        base * p.disabled_walk_factor,
        base * min(p.elderly_walk_factor, p.disabled_walk_factor) * max(p.elderly_walk_factor, p.disabled_walk_factor),
    ])


def build_population(
    scenario: Scenario, city: City, catalogue: Catalogue, rng: np.random.Generator, start_month: int = 0
) -> tuple[Population, Households]:
    """Draw households and their adult residents: homes by the city's residential weights, ages,
    disabilities, labour status, wages, pensions. ``start_month``: the model month the population is
    built in (the warm-up's first: negative), from which the recent graduates' months count back.

    Jobs at local merchants are assigned afterwards by :func:`sim.economy.labour.staff_initial_outlets`;
    here the employed all start with outside jobs.
    """
    p, econ, money = scenario.population, scenario.economy, catalogue.money
    n = p.residents
    adults, young, school = draw_households(n, p.household_sizes, p.children_per_adult, p.young_children_share, rng)
    H = len(adults)
    weight = np.asarray(city.residential_weight, dtype=np.float64)
    # Households are numbered by home node and their residents are stored together, so residents
    # are in home order too (a relabelling: no attribute below depends on it) and the day's needs,
    # drawn in resident order, read the walking tables nearly in sequence.
    household_home = np.sort(rng.choice(len(weight), size=H, p=weight / weight.sum())).astype(np.int32)
    household = np.repeat(np.arange(H, dtype=np.int32), adults)
    first = np.concatenate([[0], np.cumsum(adults)]).astype(np.int64)
    home = household_home[household]
    elderly = rng.random(n) < p.elderly_share
    # Working-age adults 18..retirement-1, elderly retirement..95; uniform within each band.
    age = np.where(
        elderly,
        rng.integers(p.retirement_age, 96, size=n),
        rng.integers(18, max(p.retirement_age, 19), size=n),
    ).astype(np.int16)
    disabled = rng.random(n) < p.disabled_share
    # Recent graduates among the young: graduate_share of all residents, graduated in the three years
    # before the start (uniformly over those months, so their flags do not all expire at once; counted
    # from the month the run starts in, the warm-up's first, so they expire during the warm-up and not
    # in the first measured years).
    young_adult = (~elderly) & (age <= GRADUATE_MAX_AGE)
    graduate = young_adult & (rng.random(n) < min(1.0, p.graduate_share * n / max(young_adult.sum(), 1)))
    graduated_month = np.where(graduate, start_month - rng.integers(0, GRADUATE_MONTHS, size=n), NOT_GRADUATE).astype(np.int32)
    speed_class = (elderly.astype(np.int8) + 2 * disabled.astype(np.int8)).astype(np.int8)
    # Labour status of the working-age: outside the labour force, or in it: unemployed, freelancing
    # or employed (the shares of the labour force).
    draw = rng.random(n)
    outside = rng.random(n) < p.outside_labour_force_share
    status = np.full(n, EMPLOYED, dtype=np.int8)
    status[draw < p.unemployment_rate] = UNEMPLOYED
    status[(draw >= p.unemployment_rate) & (draw < p.unemployment_rate + p.freelancer_share)] = FREELANCER
    status[outside] = OUT_OF_LABOUR
    status[elderly] = RETIRED
    employer = np.where(status == EMPLOYED, OUTSIDE_JOB, NO_JOB).astype(np.int32)
    wage = np.where(status == EMPLOYED, draw_wages(money["outside_wage"], econ.wage_spread, n, rng), 0)
    pension = np.where(elderly, draw_wages(money["pension"], econ.pension_spread, n, rng), 0)
    insured = (status == UNEMPLOYED) & (rng.random(n) < p.unemployment_insured_share)
    benefit_left = np.where(insured, rng.integers(1, max(econ.benefit_months, 1) + 1, size=n), 0).astype(np.int16)
    knows = _initial_knowledge(n, catalogue.n, scenario.economy.choice_candidates,
                               scenario.economy.initial_knowledge, rng)
    has_property = rng.random(H) < econ.property_income_share
    property_income = np.where(has_property, draw_wages(money["property_income"], econ.property_income_spread, H, rng), 0)
    # The children's carer: the household's first working-age adult, else its first adult.
    rank = np.where(elderly, n, np.arange(n))
    carer = np.minimum.reduceat(rank, first[:-1])
    carer = np.where(carer < n, carer, first[:-1]).astype(np.int64)
    households = Households(first=first, home=household_home, young_children=young, school_children=school,
                            carer=carer, property_income=property_income.astype(np.int64), of_resident=household)
    population = Population(
        home=home, age=age, elderly=elderly, disabled=disabled, graduated_month=graduated_month,
        speed_class=speed_class, status=status, employer=employer,
        owned=np.full(n, -1, dtype=np.int32), knows=knows,
        map_user=np.zeros(n, dtype=bool), volunteer=np.zeros(n, dtype=bool),
        wants_work=np.zeros(n, dtype=bool), trained=np.zeros(n, dtype=bool),
        household=household, wage=wage.astype(np.int64), pension=pension.astype(np.int64), benefit_left=benefit_left,
        income_month=np.zeros(n, dtype=np.int64), income_last=np.zeros(n, dtype=np.int64), paid_as=status.copy(),
        paid_local=employer >= 0,
    )
    return population, households


def draw_wages(median_fen: int, spread: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` monthly amounts (fen) drawn log-normally around ``median_fen`` with log-sigma ``spread``."""
    return np.round(median_fen * np.exp(spread * rng.standard_normal(size))).astype(np.int64)


def newcomers(pop: Population, share: float, k: int, p_know: float, rng: np.random.Generator) -> np.ndarray:
    """Month end: each resident moves away with ``share`` and a newcomer like them moves in (the
    population is stationary: same home, age and circumstances), who knows the nearest outlet of
    each category and each other nearby one with ``p_know``, and does not use the service map yet.
    Returns the residents replaced."""
    moved = np.flatnonzero(rng.random(pop.n) < share)
    if len(moved):
        pop.knows[moved] = _initial_knowledge(len(moved), pop.knows.shape[1], k, p_know, rng)
        pop.map_user[moved] = False
    return moved


def _initial_knowledge(n: int, n_categories: int, k: int, p_know: float, rng: np.random.Generator) -> np.ndarray:
    """Each resident knows the nearest outlet of each category, and each other one with ``p_know``."""
    bits = (rng.random((n, n_categories, k)) < p_know).astype(np.uint8)
    bits[:, :, 0] = 1
    return (bits << np.arange(k, dtype=np.uint8)).sum(axis=2, dtype=np.uint8)
