"""Indicators: pure functions of model state, in one registry.

Each indicator is a function ``model -> float`` (or, for a *family*, ``model -> {suffix: float}``,
recorded as ``name.suffix``). A scenario or user picks indicators by name; an unknown name is an
error. Period indicators (needs, births ...) read the model's :class:`~sim.services.tally.Tally`, which
covers the days since the last collection.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from sim.economy.population import DISABLED_CLASSES, ELDERLY_CLASSES, EMPLOYED, FREELANCER, OWNER, UNEMPLOYED
from sim.services import blocks, kernels
from sim.sorting import is_stable_order, stable_argsort, unique

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

WALK_CAP_MINUTES = 60.0  # walks longer than this count as 60 in means (no outlet at all: 60)
TIERS = (5, 10, 15)  # the life circles of GB 50180-2018 and the national guide, minutes on foot


@dataclass(frozen=True)
class Indicator:
    """A registered indicator."""

    name: str
    group: str
    unit: str
    doc: str
    fn: Callable[[LifeCircleModel], float | dict[str, float]]
    family: bool = False
    label: str = ""
    """Display name for a class or a report (figures, the view, notebooks): short, with no unit."""


REGISTRY: dict[str, Indicator] = {}


def indicator(name: str, group: str, unit: str, *, family: bool = False, label: str):
    """Register ``fn`` as indicator ``name`` (its docstring is the indicator's description;
    ``label`` its display name)."""

    def wrap(fn: Callable) -> Callable:
        REGISTRY[name] = Indicator(name, group, unit, (fn.__doc__ or "").strip(), fn, family, label)
        return fn

    return wrap


class UnknownIndicatorError(KeyError):
    """An indicator name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


def resolve(names: list[str] | tuple[str, ...]) -> list[str]:
    """Expand ``"all"`` and check every name; raises :class:`UnknownIndicatorError`."""
    if "all" in names:
        return list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise UnknownIndicatorError(
            f"unknown indicator(s) {unknown}; known: {', '.join(REGISTRY)} (or 'all')"
        )
    return list(names)


def compute(model: LifeCircleModel, names: list[str]) -> dict[str, float]:
    """Evaluate indicators ``names`` on the model now, families flattened to ``name.suffix``.

    The indicators of one call share what several of them derive from the same state (the
    households' per-head incomes and their sort order: :func:`_per_head_sorted`); the shared values
    live for the call only, so an indicator called on its own always reads the state afresh.
    """
    out: dict[str, float] = {}
    _COLLECTION[model] = {}
    try:
        threads = blocks.threads_for(model.population.n)
        if threads > 1 and len(names) >= THREADED_INDICATORS and blocks.threadsafe_layer():
            values = _evaluate_threaded(model, names, threads)
        else:
            values = [REGISTRY[name].fn(model) for name in names]
        for name, value in zip(names, values):
            ind = REGISTRY[name]
            if ind.family:
                for suffix, v in value.items():
                    out[f"{name}.{suffix}"] = float(v)
            else:
                out[name] = float(value)
    finally:
        _COLLECTION.pop(model, None)
    return out


THREADED_INDICATORS = 8
"""Indicators from which a :func:`compute` call shares them among Python threads, as many as the
daily passes of the population use (:func:`sim.services.blocks.threads_for`: one below three blocks of
residents, 196,608), when numba's threading layer may be entered from several threads at once
(:func:`sim.services.blocks.threadsafe_layer`)."""


def _evaluate_threaded(model: LifeCircleModel, names: list[str], threads: int) -> list[float | dict[str, float]]:
    """Each indicator's value, the indicators shared among ``threads`` Python threads.

    The indicators are pure functions of a state that does not change during the call, and nearly
    all their time is in NumPy's loops and numba's compiled passes, which release the GIL: two
    threads evaluate two at once (a 1,000,000-resident month end's 55 indicators: ~95 -> ~60 ms).
    Each value is computed exactly as on one thread, so the results are the same to the bit. What
    several of them share (home groups, the walk-minutes table, incomes per head and their order,
    status counts) is computed first, once, so no two threads build it at the same time. A
    compiled pass called from a pool thread runs on the caller's number of numba threads (numba's
    count is per thread)."""
    from concurrent.futures import ThreadPoolExecutor

    groups = {REGISTRY[name].group for name in names}
    if groups & {"access", "circles"}:
        home_groups(model)
        _minutes_tables(model)
    if "income" in groups:
        _per_head_sorted(model)
    if "employment" in groups:
        _status_counts(model, "not_disabled")  # and "all", "disabled"

    def evaluate(name: str) -> float | dict[str, float]:
        blocks.use_threads_here(threads)
        return REGISTRY[name].fn(model)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="indicators") as pool:
        return list(pool.map(evaluate, names))


# ----------------------------------------------------------------------------- helpers

_GROUP_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MINUTES_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COLLECTION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Values shared by the indicators of one :func:`compute` call (model state does not change during it)."""


@dataclass(frozen=True)
class HomeGroups:
    """Residents grouped by (home node, speed class): walk times depend on nothing else, so the
    access indicators work on these few thousand groups instead of every resident.

    Attributes:
        node, speed_class: (G,) of each group.
        size: (G,) residents in each group.
        of_resident: (N,) group of each resident.
    """

    node: np.ndarray
    speed_class: np.ndarray
    size: np.ndarray
    of_resident: np.ndarray


def home_groups(model: LifeCircleModel) -> HomeGroups:
    """The model's :class:`HomeGroups` (homes and speed classes are fixed for a run)."""
    groups = _GROUP_CACHE.get(model)
    if groups is None:
        pop = model.population
        code = pop.home.astype(np.int64) * 256 + pop.speed_class
        codes, of_resident, size = unique(code)
        groups = HomeGroups(codes // 256, (codes % 256).astype(np.int64), size, of_resident.astype(np.int64))
        _GROUP_CACHE[model] = groups
    return groups


def group_minutes(model: LifeCircleModel) -> np.ndarray:
    """(G, C) minutes from each home group to the nearest open outlet of each category.

    Computed once per state of the nearest-outlet table (``model.nearest_version``) and shared by
    the indicators of one collection.
    """
    return _minutes_tables(model)["minutes"]


def _minutes_tables(model: LifeCircleModel) -> dict[str, np.ndarray]:
    """The (G, C) minutes table and, derived from it, per home group: ``farthest.<T>``, the walk to
    the farthest of the nearest outlets of the basic categories whose tier is at most T minutes
    (T = 5, 10, 15), and ``within_tier``, whether every basic category is within its own tier."""
    key = (model.nearest_version, id(model.nearest_m))
    cached = _MINUTES_CACHE.get(model)
    if cached is None or cached[0] != key:
        g = home_groups(model)
        table = model.nearest_m[g.node] / model.speeds[g.speed_class][:, None]
        cat = model.catalogue
        basic = cat.basic_ids
        tables = {"minutes": table,
                  "within_tier": (table[:, basic] <= cat.tier_minutes[basic]).all(axis=1)}
        for tier in TIERS:
            members = basic[cat.tier_minutes[basic] <= tier]
            tables[f"farthest.{tier}"] = table[:, members].max(axis=1) if len(members) else np.zeros(len(g.node))
        cached = (key, tables)
        _MINUTES_CACHE[model] = cached
    return cached[1]


def walk_minutes(model: LifeCircleModel, categories: np.ndarray) -> np.ndarray:
    """(N, len(categories)) minutes from each resident's home to the nearest open outlet."""
    return group_minutes(model)[:, np.asarray(categories)][home_groups(model).of_resident]


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float(weighted_sum(weights, values) / total) if total else float("nan")


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """``sum(weights * values)`` by NumPy's own (pairwise) sum, the same to the bit whatever the
    machine's threads. Not ``weights @ values``: a dot product goes to the BLAS, which splits a long
    one among its threads and adds the parts in an order that depends on their number (home groups
    and households of a 1,000,000-resident city gave indicators that differed in the last bits
    between OPENBLAS_NUM_THREADS=1 and 2), and which on a busy machine took 20 ms instead of 0.1."""
    return float(np.add.reduce(np.multiply(weights, values, dtype=np.float64)))


def basic_coverage(model: LifeCircleModel, minutes: float, mask: np.ndarray | None = None,
                   group_mask: np.ndarray | None = None) -> float:
    """Share of residents (in ``mask``, per resident, or ``group_mask``, per home group) with every
    basic-guarantee category of the ``minutes`` circle within ``minutes`` on foot.

    The ``minutes`` circle holds the basic categories whose tier (catalogue ``tier_minutes``) is at
    most ``minutes``: the 5-minute circle the convenience store and the parcel point, the 10-minute
    circle those and the 8/10-minute services, the 15-minute circle every basic category.
    ``minutes`` must be one of the tiers (5, 10, 15).
    """
    if minutes not in TIERS:
        raise ValueError(f"basic_coverage: minutes = {minutes!r}; allowed: {TIERS}")
    g = home_groups(model)
    covered = _minutes_tables(model)[f"farthest.{int(minutes)}"] <= minutes
    return _group_share(g, covered, mask, group_mask)


def _group_share(g: HomeGroups, covered: np.ndarray, mask: np.ndarray | None, group_mask: np.ndarray | None) -> float:
    if mask is not None:
        size = np.bincount(g.of_resident[mask], minlength=len(g.size))
    else:
        size = g.size if group_mask is None else g.size * group_mask
    return _weighted_mean(covered.astype(np.float64), size)


def _share(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def _employment_rate(model: LifeCircleModel, mask: np.ndarray | str) -> float:
    """Employment rate of the working-age residents in ``mask`` (or of a group named ``"all"``,
    ``"disabled"``, ``"not_disabled"``: counted once per :func:`compute` call and shared)."""
    status = _status_counts(model, mask)
    working = status[EMPLOYED] + status[FREELANCER] + status[OWNER]
    return _share(working, working + status[UNEMPLOYED])


def _status_counts(model: LifeCircleModel, mask: np.ndarray | str) -> np.ndarray:
    """Working-age residents in ``mask`` by status (``np.bincount``). The named groups are kept for
    the collection: employment, unemployment and the disability gap counted the same residents four
    times (18 ms at 1,000,000 residents); those without a disability are all minus those with one
    (whole numbers: exact)."""
    pop = model.population
    if not isinstance(mask, str):
        return np.bincount(pop.status[mask & ~pop.elderly], minlength=OWNER + 1)
    shared = _COLLECTION.get(model, {})
    counts = shared.get(("status", mask))
    if counts is None:
        if mask == "all":
            counts = np.bincount(pop.status[~pop.elderly], minlength=OWNER + 1)
        elif mask == "disabled":
            counts = np.bincount(pop.status[pop.disabled & ~pop.elderly], minlength=OWNER + 1)
        elif mask == "not_disabled":
            every, disabled = _status_counts(model, "all"), _status_counts(model, "disabled")
            width = max(len(every), len(disabled))
            counts = np.pad(every, (0, width - len(every))) - np.pad(disabled, (0, width - len(disabled)))
        else:
            raise ValueError(f"_status_counts: unknown group {mask!r}")
        if model in _COLLECTION:
            shared[("status", mask)] = counts
    return counts


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, 1 = one has all)."""
    v = np.sort(np.maximum(np.asarray(values, dtype=np.float64), 0))
    n = len(v)
    if n == 0 or v.sum() == 0:
        return 0.0
    return float(weighted_sum(2 * np.arange(1, n + 1) - n - 1, v) / (n * v.sum()))


def _met(model: LifeCircleModel) -> np.ndarray:
    t = model.tally.needs
    return t["met_walk"] + t["met_delivery"] + t["met_automated"] + t["met_volunteer"]


# ----------------------------------------------------------------------------- access

for _minutes in TIERS:
    def _cov(model: LifeCircleModel, _m: int = _minutes) -> float:
        return basic_coverage(model, _m)

    _cov.__doc__ = (f"Share of residents with every basic-guarantee category of the {_minutes}-minute circle (tier "
                    f"<= {_minutes} minutes in the catalogue) within {_minutes} minutes on foot (own walk speed).")
    indicator(f"basic_coverage_{_minutes}", "access", "share",
              label=f"Every basic service of the {_minutes}-min circle within {_minutes} min on foot")(_cov)


@indicator("basic_coverage_tiered", "access", "share", label="Every basic service within its own tier (5/10/15 min)")
def basic_coverage_tiered(model: LifeCircleModel) -> float:
    """Share of residents with every basic-guarantee category within its own tier (5, 10 or 15
    minutes on foot, catalogue ``tier_minutes``): the national guide's standard in one number."""
    return _group_share(home_groups(model), _minutes_tables(model)["within_tier"], None, None)


@indicator("basic_coverage_15_elderly", "access", "share", label="Every basic service within 15 min, residents 60+")
def basic_coverage_15_elderly(model: LifeCircleModel) -> float:
    """Basic coverage within 15 minutes among residents of retirement age."""
    return basic_coverage(model, 15.0, group_mask=np.isin(home_groups(model).speed_class, ELDERLY_CLASSES))


@indicator("basic_coverage_15_disabled", "access", "share", label="Every basic service within 15 min, residents with a disability")
def basic_coverage_15_disabled(model: LifeCircleModel) -> float:
    """Basic coverage within 15 minutes among residents with a disability."""
    return basic_coverage(model, 15.0, group_mask=np.isin(home_groups(model).speed_class, DISABLED_CLASSES))


@indicator("basic_coverage_15_old_blocks", "access", "share", label="Every basic service within 15 min, old communities")
def basic_coverage_15_old_blocks(model: LifeCircleModel) -> float:
    """Basic coverage within 15 minutes among residents of old communities."""
    return basic_coverage(model, 15.0, group_mask=model.city.old_blocks[home_groups(model).node])


@indicator("basic_category_coverage_15", "access", "share", label="Basic categories within 15 min (mean over categories)")
def basic_category_coverage_15(model: LifeCircleModel) -> float:
    """Mean over basic-guarantee categories of the share of residents with an outlet of the
    category within 15 minutes (gaps closed one category at a time show here first)."""
    basic = model.catalogue.basic_ids
    if not len(basic):
        return float("nan")
    share = (group_minutes(model)[:, basic] <= 15.0).mean(axis=1)
    return _weighted_mean(share, home_groups(model).size)


@indicator("coverage_15", "access", "share", label="Within 15 min on foot", family=True)
def coverage_15(model: LifeCircleModel) -> dict[str, float]:
    """Per category: share of residents with an outlet within 15 minutes on foot."""
    g = home_groups(model)
    within = g.size @ (group_minutes(model) <= 15.0) / max(g.size.sum(), 1)
    return dict(zip(model.catalogue.names, within))


@indicator("mean_walk_minutes", "access", "minutes", label="Mean walk to the nearest basic outlet")
def mean_walk_minutes(model: LifeCircleModel) -> float:
    """Mean over residents and basic categories of the walk to the nearest outlet (capped at 60)."""
    basic = model.catalogue.basic_ids
    if not len(basic):
        return float("nan")
    minutes = np.minimum(group_minutes(model)[:, basic], WALK_CAP_MINUTES).mean(axis=1)
    return _weighted_mean(minutes, home_groups(model).size)


@indicator("effective_coverage_15", "access", "share", label="Every basic service within 15 min on foot or by delivery")
def effective_coverage_15(model: LifeCircleModel) -> float:
    """Basic coverage counting delivery: a basic category counts if an outlet is within 15 minutes
    on foot or, while the platform acts and the service can be delivered (catalogue
    ``deliverable``), if one of the outlets the platform would send the order to (within its
    delivery radius) had spare capacity over the period (visits wanted below capacity x days)."""
    return _weighted_mean(covered_with_delivery(model).astype(np.float64), home_groups(model).size)


def covered_with_delivery(model: LifeCircleModel, minutes: float = 15.0) -> np.ndarray:
    """(G,) home groups with every basic category within ``minutes`` on foot or, while the platform
    acts, deliverable from an outlet with spare capacity (see ``effective_coverage_15``)."""
    g = home_groups(model)
    basic = model.catalogue.basic_ids
    covered = group_minutes(model)[:, basic] <= minutes
    platform = model.levers.get("platform")
    if platform is not None and platform.acting:
        mer = model.merchants
        spare = np.append(mer.wanted_month < mer.capacity.astype(np.int64) * max(model.tally.days, 1), False)
        for j, c in enumerate(basic):
            if model.catalogue.deliverable[c]:
                covered[:, j] |= spare[platform.delivery.outlet[c][g.node]].any(axis=1)  # -1 reads False
    return covered.all(axis=1)


@indicator("needs", "access", "needs per period", label="Needs")
def needs(model: LifeCircleModel) -> float:
    """Needs that arose in the period."""
    return float(model.tally.needs["needs"].sum())


@indicator("needs_met_share", "access", "share", label="Needs met")
def needs_met_share(model: LifeCircleModel) -> float:
    """Share of the period's needs that were met (on foot, delivered, automated or by volunteers)."""
    return _share(_met(model).sum(), model.tally.needs["needs"].sum())


@indicator("basic_needs_met_share", "access", "share", label="Basic needs met")
def basic_needs_met_share(model: LifeCircleModel) -> float:
    """Share of the period's basic-guarantee needs that were met."""
    basic = model.catalogue.basic
    return _share(_met(model)[basic].sum(), model.tally.needs["needs"][basic].sum())


@indicator("unmet_needs", "access", "needs per period", label="Needs unmet")
def unmet_needs(model: LifeCircleModel) -> float:
    """Needs of the period that went unmet (out of range, outlet full, or unaffordable)."""
    return float(model.tally.needs["needs"].sum() - _met(model).sum())


@indicator("needs_met_by", "access", "needs per period", label="Needs by outcome", family=True)
def needs_met_by(model: LifeCircleModel) -> dict[str, float]:
    """Needs of the period by outcome: met_walk, met_delivery, met_automated, met_volunteer,
    unmet_range, unmet_capacity, unmet_money."""
    t = model.tally.needs
    return {k: float(t[k].sum()) for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer",
                                          "unmet_range", "unmet_capacity", "unmet_money")}


@indicator("night_needs_met_share", "access", "share", label="Night-time needs met")
def night_needs_met_share(model: LifeCircleModel) -> float:
    """Share of the period's night-time needs that were met."""
    return _share(model.tally.needs["night_met"].sum(), model.tally.needs["night_needs"].sum())


@indicator("trips_saved", "access", "trips per period", label="Trips saved (lockers, vending, delivery)")
def trips_saved(model: LifeCircleModel) -> float:
    """Needs met without a shop trip (lockers, vending points, deliveries) in the period."""
    t = model.tally.needs
    return float(t["met_automated"].sum() + t["met_delivery"].sum())


_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


@indicator("known_outlet_share", "access", "share", label="Outlets in reach that residents know of")
def known_outlet_share(model: LifeCircleModel) -> float:
    """Share of the outlets within residents' walking range (their nearest few per category) that
    they know of (map users know them all): what word of mouth, newcomers and the service map move."""
    pop = model.population
    # Counted per resident in a compiled loop over blocks of residents (both threads): the NumPy
    # version built four (N, C) temporaries, 0.4 s of a 1,000,000-resident month end.
    total, known = kernels.known_in_reach(model.choice_tables.walk, model.reach.k, pop.home, pop.speed_class,
                                          pop.map_user, pop.knows, blocks.resident_blocks(pop.n), _POPCOUNT)
    return _share(np.int64(known), np.int64(total))


@indicator("outlet_load_cv", "access", "ratio", label="Spread of outlet load (coefficient of variation)")
def outlet_load_cv(model: LifeCircleModel) -> float:
    """Coefficient of variation of open outlets' visits per unit of capacity in the period (lower:
    demand spread more evenly)."""
    mer = model.merchants
    ids = mer.open_ids()
    if len(ids) < 2:
        return float("nan")
    load = mer.visits_month[ids] / np.maximum(mer.capacity[ids], 1)
    return float(load.std() / load.mean()) if load.mean() > 0 else float("nan")


# ----------------------------------------------------------------------------- employment

@indicator("employment_rate", "employment", "share", label="Employment rate")
def employment_rate(model: LifeCircleModel) -> float:
    """Working-age residents in work (employed, freelance, own business) over the labour force
    (those outside it -- students, homemakers, early retirees -- are not counted)."""
    return _employment_rate(model, "all")


@indicator("local_job_share", "employment", "share", label="Shop jobs held by residents")
def local_job_share(model: LifeCircleModel) -> float:
    """Share of jobs at the circle's merchants that residents hold (the rest commute in)."""
    mer = model.merchants
    ids = mer.open_ids()
    local = mer.staff_local[ids].sum()
    return _share(local, local + mer.staff_outside[ids].sum())


@indicator("freelancers", "employment", "residents", label="Freelancers")
def freelancers(model: LifeCircleModel) -> float:
    """Residents in freelance gig work."""
    return float((model.population.status == FREELANCER).sum())


@indicator("freelancer_income_mean", "employment", "CNY per month", label="Freelancers' mean income")
def freelancer_income_mean(model: LifeCircleModel) -> float:
    """Mean income of freelancers in the last complete month (those who were freelancers when its
    incomes were paid: the labour market after the accounts turns some to freelancing, some away)."""
    pop = model.population
    sel = pop.paid_as == FREELANCER
    return float(pop.income_last[sel].mean() / 100) if sel.any() else float("nan")


@indicator("disability_employment_gap", "employment", "share points", label="Disability employment gap")
def disability_employment_gap(model: LifeCircleModel) -> float:
    """Employment rate of working-age residents without a disability minus that of those with one."""
    return _employment_rate(model, "not_disabled") - _employment_rate(model, "disabled")


@indicator("graduate_entrepreneurs", "employment", "residents", label="Graduate entrepreneurs")
def graduate_entrepreneurs(model: LifeCircleModel) -> float:
    """Recent graduates running an outlet of their own."""
    pop = model.population
    return float((pop.graduate & (pop.owned >= 0)).sum())


@indicator("retirees_working", "employment", "residents", label="Retirees in paid work")
def retirees_working(model: LifeCircleModel) -> float:
    """Residents of retirement age in paid work."""
    pop = model.population
    return float((pop.elderly & (pop.employer != -1)).sum())


@indicator("volunteer_hours", "employment", "hours per month", label="Volunteer hours")
def volunteer_hours(model: LifeCircleModel) -> float:
    """Hours of community service volunteered by retirees this month."""
    return float(model.population.volunteer.sum() * model.scenario.economy.volunteer_hours_per_month)


# ----------------------------------------------------------------------------- income

def _income(model: LifeCircleModel) -> np.ndarray:
    """Each resident's own income in the last complete month, CNY."""
    return model.population.income_last / 100


def _per_head(model: LifeCircleModel) -> tuple[np.ndarray, np.ndarray]:
    """(income per member of each household in the last complete month, CNY; members) -- the
    household survey's per-capita disposable income, children counted as members."""
    shared = _COLLECTION.get(model, {})
    answer = shared.get("per_head")
    if answer is None:
        hh = model.households
        persons = hh.persons
        # Fen per member first, then CNY: the month end ranks fen per member (income_order_hint).
        answer = (hh.total(model.population.income_last) / np.maximum(persons, 1) / 100, persons)
        if model in _COLLECTION:
            shared["per_head"] = answer
    return answer


def _per_head_sorted(model: LifeCircleModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_per_head` and the households in ascending order of it (a stable sort: ties in
    household order). Within one :func:`compute` call both are computed once: the median, Gini,
    quintile and poverty indicators used to sort the same incomes four times a collection (about
    360,000 households for 1,000,000 residents: 0.2 s of a month end)."""
    per_head, persons = _per_head(model)
    shared = _COLLECTION.get(model, {})
    order = shared.get("per_head_order")
    if order is None:
        # The month end sorted the same incomes per member in fen (LifeCircleModel.mark_low_income):
        # its order is checked in a few ms where sorting took 20-30 (400,000 households) and used if
        # it is this one (two fen values a hundredth apart in CNY could tie: the check fails, we sort).
        hint = getattr(model, "income_order_hint", None)
        order = hint if hint is not None and is_stable_order(per_head, hint) else stable_argsort(per_head)
        if model in _COLLECTION:
            shared["per_head_order"] = order
    return per_head, persons, order


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float, order: np.ndarray | None = None) -> float:
    """The ``q`` quantile of ``values`` held by ``weights`` people each (``order``: a stable
    ascending argsort of ``values``, if already known)."""
    order = np.argsort(values, kind="stable") if order is None else order
    cum = np.cumsum(weights[order])
    if not len(cum) or cum[-1] <= 0:
        return float("nan")
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


def weighted_gini(values: np.ndarray, weights: np.ndarray, order: np.ndarray | None = None) -> float:
    """Gini coefficient of non-negative ``values`` held by ``weights`` people each (``order``: a
    stable ascending argsort of ``values``, if already known)."""
    order = np.argsort(values, kind="stable") if order is None else order
    v, w = np.maximum(values[order], 0.0), weights[order].astype(np.float64)
    total = (v * w).sum()
    if total <= 0:
        return 0.0
    people = w.cumsum()
    share = (v * w).cumsum() / total
    previous = np.concatenate([[0.0], share[:-1]])
    return float(1.0 - ((share + previous) * w).sum() / people[-1])


@indicator("income_mean", "income", "CNY per person per month", label="Mean income per person")
def income_mean(model: LifeCircleModel) -> float:
    """Mean per-capita household income in the last complete month: households' incomes over their
    members, children counted (NBS per-capita disposable income)."""
    per_head, persons = _per_head(model)
    return _weighted_mean(per_head, persons)


@indicator("income_median", "income", "CNY per person per month", label="Median income per person")
def income_median(model: LifeCircleModel) -> float:
    """Median per-capita household income (over persons) in the last complete month."""
    per_head, persons, order = _per_head_sorted(model)
    return _weighted_quantile(per_head, persons, 0.5, order)


@indicator("income_gini", "income", "index 0-1", label="Income Gini")
def income_gini(model: LifeCircleModel) -> float:
    """Gini coefficient of per-capita household income over persons in the last complete month."""
    per_head, persons, order = _per_head_sorted(model)
    return weighted_gini(per_head, persons, order)


@indicator("income_quintile", "income", "CNY per person per month", family=True, label="Income per person by fifth of households")
def income_quintile(model: LifeCircleModel) -> dict[str, float]:
    """Mean per-capita household income of each fifth of persons, poorest (``q1``) to richest
    (``q5``): the NBS household survey's quintile groups."""
    per_head, persons, order = _per_head_sorted(model)
    cum = np.cumsum(persons[order]) / max(persons.sum(), 1)
    fifth = np.minimum((np.concatenate([[0.0], cum[:-1]]) * 5).astype(np.int64), 4)
    # fifth never falls along the order, so each fifth is one run of it: its households in order.
    bounds = np.searchsorted(fifth, np.arange(6))
    out = {}
    for q in range(5):
        sel = order[bounds[q]:bounds[q + 1]]
        out[f"q{q + 1}"] = _weighted_mean(per_head[sel], persons[sel])
    return out


@indicator("poverty_share", "income", "share", label="Persons below half the median income")
def poverty_share(model: LifeCircleModel) -> float:
    """Share of persons in households whose per-capita income is below half the median (the
    relative poverty line of the OECD and the World Bank's societal line)."""
    per_head, persons, order = _per_head_sorted(model)
    line = 0.5 * _weighted_quantile(per_head, persons, 0.5, order)
    return _weighted_mean((per_head < line).astype(np.float64), persons)


@indicator("income_mean_by_group", "income", "CNY per month", label="Mean income by group", family=True)
def income_mean_by_group(model: LifeCircleModel) -> dict[str, float]:
    """Residents' own mean income in the last complete month by group, CNY: ``elderly`` (retirement
    age), ``disabled``, ``graduates`` (recent), ``freelancers`` and ``local_workers`` (in shop jobs
    in the circle) when the month's incomes were paid (the month end's labour market moves people
    after: a resident hired then brings the income of what they were), ``working_age``. Groups
    overlap; a group with no members is nan."""
    pop, inc = model.population, _income(model)
    groups = {"elderly": pop.elderly, "disabled": pop.disabled, "graduates": pop.graduate,
              "freelancers": pop.paid_as == FREELANCER, "local_workers": pop.paid_local,
              "working_age": ~pop.elderly}
    return {k: float(inc.sum(where=m) / n) if (n := m.sum()) else float("nan") for k, m in groups.items()}


@indicator("unemployment_rate", "employment", "share", label="Unemployment rate")
def unemployment_rate(model: LifeCircleModel) -> float:
    """Unemployed working-age residents over the working-age labour force (employed, freelancing,
    running a business or looking for work): the surveyed urban unemployment rate."""
    return 1.0 - _employment_rate(model, "all")


@indicator("service_spending", "income", "CNY per person per month", label="Spending on the catalogue's services per person")
def service_spending(model: LifeCircleModel) -> float:
    """What residents paid at the catalogue's outlets in the period (walk-ins, orders with their fees,
    vending), per household member (children counted) and per 30 days."""
    spent = model.tally.service_spent(model)
    days = max(model.tally.days, 1)
    return spent / 100 / max(int(model.households.persons.sum()), 1) * 30 / days


@indicator("low_income_needs_met_share", "access", "share", label="Needs met, poorest fifth of households")
def low_income_needs_met_share(model: LifeCircleModel) -> float:
    """Share of the period's needs met for residents of the poorest fifth of households (per-capita
    income last month): where budgets bind, an income or a job shows up here."""
    t = model.tally
    return _share(t.low_income_met, t.low_income_needs)


@indicator("household_coverage_15", "access", "share", label="Households with every member covered within 15 min")
def household_coverage_15(model: LifeCircleModel) -> float:
    """Share of households in which every adult member (at their own walk speed) has every
    basic-guarantee category within 15 minutes on foot."""
    g = home_groups(model)
    covered = (_minutes_tables(model)["farthest.15"] <= 15.0)[g.of_resident]
    hh = model.households
    return float(np.minimum.reduceat(covered.astype(np.int8), hh.first[:-1]).mean()) if hh.n else float("nan")


# ----------------------------------------------------------------------------- merchants

@indicator("merchants_open", "merchants", "outlets", label="Outlets open")
def merchants_open(model: LifeCircleModel) -> float:
    """Outlets trading now (mobile vendors included)."""
    return float(model.merchants.open.sum())


@indicator("merchant_births", "merchants", "outlets per period", label="Outlets opened")
def merchant_births(model: LifeCircleModel) -> float:
    """Outlets opened in the period."""
    return float(model.tally.births)


@indicator("merchant_deaths", "merchants", "outlets per period", label="Outlets closed")
def merchant_deaths(model: LifeCircleModel) -> float:
    """Outlets closed in the period."""
    return float(model.tally.deaths)


@indicator("licence_wait_days", "merchants", "days", label="Days waiting for a licence")
def licence_wait_days(model: LifeCircleModel) -> float:
    """Mean days the outlets that opened in the period waited for their licence (nan: none opened)."""
    return _share(model.tally.licence_days, model.tally.licensed)


@indicator("merchant_transfers", "merchants", "outlets per period", label="Outlets taken over by a new owner")
def merchant_transfers(model: LifeCircleModel) -> float:
    """Outlets taken over by a new owner in the period (they go on trading; see
    ``economy.exit_per_month``)."""
    return float(model.tally.transfers)


@indicator("merchant_survival", "merchants", "share", label="Day-one outlets still open")
def merchant_survival(model: LifeCircleModel) -> float:
    """Share of the outlets open when the measured period began (month 0) that are still open."""
    start = model.start_outlets
    return _share(model.merchants.open[start].sum(), len(start))


@indicator("merchant_profit_mean", "merchants", "CNY per month", label="Mean outlet profit")
def merchant_profit_mean(model: LifeCircleModel) -> float:
    """Mean profit of open outlets in the last complete month."""
    mer = model.merchants
    ids = mer.open_ids()
    return float(mer.profit_last[ids].mean() / 100) if len(ids) else float("nan")


@indicator("smart_store_share", "merchants", "share", label="Smart stores")
def smart_store_share(model: LifeCircleModel) -> float:
    """Share of open outlets that are digitalised."""
    mer = model.merchants
    ids = mer.open_ids()
    return float(mer.smart[ids].mean()) if len(ids) else float("nan")


@indicator("complaints", "merchants", "complaints per period", label="Complaints about vendors")
def complaints(model: LifeCircleModel) -> float:
    """Residents' complaints about mobile vendors trading outside quiet hours in the period."""
    return float(model.tally.complaints)


# ----------------------------------------------------------------------------- cost and long term

@indicator("public_spending", "cost", "CNY (cumulative)", label="Public spending on levers")
def public_spending(model: LifeCircleModel) -> float:
    """Net public spending on levers since the start (subsidies, installations, training,
    rent support, less permit fees)."""
    return model.ledger.spent_on("lever.") / 100


@indicator("public_spending_by_lever", "cost", "CNY (cumulative)", label="Public spending by lever", family=True)
def public_spending_by_lever(model: LifeCircleModel) -> dict[str, float]:
    """Net public spending since the start, per lever."""
    from sim.levers import LEVERS

    return {cls.name: model.ledger.spent_on(f"lever.{cls.name}.") / 100 for cls in LEVERS}


@indicator("evaluations_passed", "long-term", "share", label="Evaluations passed")
def evaluations_passed(model: LifeCircleModel) -> float:
    """Share of the governance system's evaluations so far that met their target (nan: none yet)."""
    ev = model.evaluations
    return float(np.mean([e["passed"] for e in ev])) if ev else float("nan")


@indicator("lever_implementation", "long-term", "share", label="Lever implementation")
def lever_implementation(model: LifeCircleModel) -> float:
    """How fully levers are implemented this month (governance)."""
    return float(model.levers.implementation)


# The spread between life circles (registered by its module, which builds on the helpers above).
from sim.metrics import circles as _circles  # noqa: E402,F401
