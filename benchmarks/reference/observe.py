"""The engine observed with the reference's indicators (:mod:`benchmarks.reference.records`).

Most come straight from the engine's indicator registry (:mod:`sim.metrics.indicators`); those the registry
has no name for -- the world as built, metres walked per walk-in, the choice rule's scores, the
share of outlets open at night, outlets with negative cash, the losing months of outlets that
close -- are computed here from the engine's state: its population, merchants and ledger, and each
day's needs (:class:`sim.services.demand.DayBuffers`), read after every step and never written. Distances
and the k nearest outlets are the observer's own (SciPy's Dijkstra), not the engine's tables.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.csgraph import dijkstra

from benchmarks.reference.scores import SCORES, choice_scores
from sim.economy.merchants import NOT_CLOSED
from sim.model import LifeCircleModel
from sim.scenario import Scenario


class _Day:
    """Walk-in and choice statistics of the days since the last month end."""

    def __init__(self) -> None:
        self.walk_m = 0.0
        self.walk_ins = 0
        self.scores = np.zeros(len(SCORES))
        self.draws = 0
        self.mismatched = 0  # choices the observer could not explain (should stay 0)


class _Nearest:
    """The k nearest open outlets of every category from every node within the walking limit, by
    (distance, outlet id), computed by the observer from its own distances (not the engine's tables)."""

    def __init__(self, model: LifeCircleModel, metres: np.ndarray) -> None:
        self.model = model
        self.metres = metres
        self.key: bytes | None = None

    def tables(self, trading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outlet ids (C, n, k), metres (C, n, k)) for the outlets ``trading`` (ids)."""
        key = trading.tobytes()
        if key != self.key:
            model = self.model
            mer, k, limit = model.merchants, model.reach.k, model.reach.limit_m
            n, C = self.metres.shape[0], model.catalogue.n
            self.outlet = np.full((C, n, k), -1, dtype=np.int64)
            self.dist = np.full((C, n, k), np.inf)
            for c in range(C):
                ids = trading[mer.category[trading] == c]  # ascending ids: a stable sort keeps ties in id order
                if not len(ids):
                    continue
                d = self.metres[:, mer.node[ids]]
                order = np.argsort(d, axis=1, kind="stable")[:, :k]
                near = np.take_along_axis(d, order, axis=1)
                within = near <= limit
                self.outlet[c, :, : order.shape[1]] = np.where(within, ids[order], -1)
                self.dist[c, :, : order.shape[1]] = np.where(within, near, np.inf)
            self.key = key
        return self.outlet, self.dist


def engine_months(scenario: Scenario, seed: int, *, rule: Scenario | None = None,
                  observe_choices: bool = False) -> list[dict[str, float]]:
    """Run the engine on ``scenario`` and ``seed`` and return its measured months' indicators,
    named and defined as the reference records them. With ``observe_choices``, every day's walks
    and choices are read too (metres walked, choice scores): the choice scores weigh choices by
    ``rule``'s economy (default: the scenario's; a docking run with a changed engine passes the
    unchanged one)."""
    model = LifeCircleModel(scenario=scenario, seed=seed, create_agents=False, checkpoints=False)
    economy = (rule or scenario).economy
    metres = dijkstra(model.city.graph, directed=True)  # node-to-node walking distances
    nearest = _Nearest(model, metres)
    cat, mer, pop = model.catalogue, model.merchants, model.population
    night_trade = cat.night_share > 0
    months: list[dict[str, float]] = []
    day = _Day()
    seen = len(model._records)
    closed_before = 0
    while model.running:
        if observe_choices:
            before = (pop.knows.copy(), model.reach.outlet.copy(), mer.load_yesterday.copy())
        model.step()
        if observe_choices:
            _observe_day(model, metres, day)
            _observe_choices(model, nearest, before, economy, day)
        if len(model._records) > seen:
            seen = len(model._records)
            values = model._records[-1][2]
            open_ids = mer.open_ids()
            night = open_ids[night_trade[mer.category[open_ids]]]
            needs = values["needs"]
            cash = model.ledger.merchant_cash[open_ids]
            closed = np.flatnonzero(~mer.open & (mer.closed_day != NOT_CLOSED))
            newly_closed = closed[mer.closed_day[closed] >= closed_before]
            closed_before = model.day  # the next month's closures happen after today
            months.append({
                "needs": needs,
                "needs_met_share": values["needs_met_share"],
                "basic_needs_met_share": values["basic_needs_met_share"],
                "night_needs_met_share": values["night_needs_met_share"],
                **{f"{k}_share": values[f"needs_met_by.{k}"] / needs if needs else math.nan
                   for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer", "unmet_range",
                             "unmet_capacity", "unmet_money")},
                "visits_per_outlet": values["needs_met_by.met_walk"] / values["merchants_open"],
                "merchants_open": values["merchants_open"],
                "merchant_births": values["merchant_births"],
                "merchant_deaths": values["merchant_deaths"],
                "losing_months_at_closure": float(mer.months_losing[newly_closed].sum()),
                "merchant_transfers": values["merchant_transfers"],
                "merchant_profit_mean": values["merchant_profit_mean"],
                "negative_cash_share": float((cash < 0).mean()) if len(cash) else math.nan,
                "outlet_load_cv": values["outlet_load_cv"],
                "night_open_share": float(mer.night[night].mean()) if len(night) else math.nan,
                "employment_rate": values["employment_rate"],
                "freelancer_share": values["freelancers"] / pop.n,
                "local_job_share": values["local_job_share"],
                "income_mean": values["income_mean"],
                "service_spending": values["service_spending"],
                "low_income_needs_met_share": values["low_income_needs_met_share"],
                "known_outlet_share": values["known_outlet_share"],
                "visit_walk_m": day.walk_m / day.walk_ins if day.walk_ins else math.nan,
                **{name: day.scores[i] / day.draws if day.draws else math.nan for i, name in enumerate(SCORES)},
                "draws": float(day.draws),
                "unexplained_choices": float(day.mismatched),
                # Entrants that passed their market study and wait for a licence, after the month's
                # entry decisions: the entry rule's own outcome (births follow weeks later).
                "entrants_waiting": float(len(model.licence_queue)),
            })
            day = _Day()
    return months


def _observe_day(model: LifeCircleModel, metres: np.ndarray, day: _Day) -> None:
    """Add the day's walk-ins (first and second tries) to ``day``: metres from home to the outlet."""
    buf, mer, pop = model.day_buffers, model.merchants, model.population
    n_needs = int(buf.counts.sum())
    res = buf.res[:n_needs]
    platform = model.levers.get("platform")
    delivered = buf.delivered[:n_needs] if platform is not None and platform.acting else np.zeros(n_needs, dtype=bool)
    first = buf.visit[:n_needs] & ~delivered
    second = buf.visit2[:n_needs] & ~buf.skip[:n_needs]
    outlet = np.concatenate([buf.chosen[:n_needs][first], buf.chosen2[:n_needs][second]])
    who = np.concatenate([res[first], res[second]])
    day.walk_m += float(metres[pop.home[who], mer.node[outlet]].sum())
    day.walk_ins += len(outlet)


def _observe_choices(model: LifeCircleModel, nearest: _Nearest, before: tuple[np.ndarray, np.ndarray, np.ndarray],
                     economy, day: _Day) -> None:  # noqa: ANN001 - EconomyConfig
    """Add the day's first tries drawn among known outlets to the choice scores
    (:mod:`benchmarks.reference.scores`).

    The options are the k nearest outlets that traded today within the walking limit (the
    observer's own distances), in reach at the resident's speed and open at the need's time of
    day; the known ones are decoded from the residents' knowledge at the start of the day (bits by
    rank of the engine's walking table). Needs of a node and trade whose list changed during the day
    (an outlet opened or closed) are left out: their start-of-day knowledge no longer applies.
    """
    knows, reach_before, load = before
    buf, mer, pop, cat = model.day_buffers, model.merchants, model.population, model.catalogue
    n_needs = int(buf.counts.sum())
    chosen = buf.chosen[:n_needs].astype(np.int64)
    res, cats, night = buf.res[:n_needs], buf.cats[:n_needs], buf.night[:n_needs]
    trading = np.flatnonzero(mer.open | (mer.closed_day == model.day - 1))
    outlet, dist = nearest.tables(trading)
    home = pop.home[res]
    keep = (chosen >= 0) & ~(reach_before != model.reach.outlet).any(axis=2)[cats, home]
    res, cats, night, chosen, home = res[keep], cats[keep], night[keep], chosen[keep], home[keep]
    options = outlet[cats, home]                                               # (n, k)
    minutes = dist[cats, home] / model.speeds[pop.speed_class[res]][:, None]
    drawable = (options >= 0) & (minutes <= economy.max_walk_minutes)
    drawable &= ~night[:, None] | mer.night[np.maximum(options, 0)]
    ranks = reach_before[cats, home]                                           # the engine's ranks
    bits = np.where(pop.map_user[res], 0xFF, knows[res, cats]).astype(np.int64)
    known_rank = ((bits[:, None] >> np.arange(ranks.shape[1])) & 1).astype(bool) & (ranks >= 0)
    known_ids = np.where(known_rank, ranks, -2)
    drawable &= (options[:, :, None] == known_ids[:, None, :]).any(axis=2)
    draws = drawable.any(axis=1)
    match = (options == chosen[:, None]) & drawable
    explained = match.any(axis=1)
    day.mismatched += int((draws & ~explained).sum())
    use = draws & explained
    if not use.any():
        return
    options, minutes, drawable = options[use], minutes[use], drawable[use]
    safe = np.maximum(options, 0)
    price_term = mer.price[safe] / np.maximum(cat.spend_fen[mer.category[safe]], 1) - 1
    load_now = np.zeros(mer.n)
    load_now[: len(load)] = load  # outlets opened today had no load yesterday
    day.scores += choice_scores(np.where(drawable, minutes, 0.0), price_term, load_now[safe], drawable,
                                match[use].argmax(axis=1), economy)
    day.draws += int(use.sum())


def engine_world(scenario: Scenario, seed: int) -> dict[str, float]:
    """The world the engine builds on day one (no day simulated; the scenario must have no warm-up),
    named and defined as :func:`benchmarks.reference.records.world_record`."""
    from sim.metrics import indicators as metrics
    from sim.economy.entry import running_costs_fen
    from sim.economy.population import EMPLOYED, FREELANCER, OUT_OF_LABOUR, OWNER, RETIRED, UNEMPLOYED  # noqa: F401

    model = LifeCircleModel(scenario=scenario, seed=seed, create_agents=False, checkpoints=False)
    cat, mer, pop, hh = model.catalogue, model.merchants, model.population, model.households
    ids = mer.open_ids()
    night = ids[cat.night_share[mer.category[ids]] > 0]
    priced = ids[cat.spend_fen[mer.category[ids]] > 0]
    term = mer.price[priced] / cat.spend_fen[mer.category[priced]] - 1
    working_age = ~pop.elderly
    status = pop.status
    working = np.isin(status[working_age], (EMPLOYED, FREELANCER, OWNER)).sum()
    looking = (status[working_age] == UNEMPLOYED).sum()
    employed = status == EMPLOYED
    local = mer.staff_local[ids].sum()
    children = (hh.young_children + hh.school_children).sum()
    return {
        "night_open_share": float(mer.night[night].mean()),
        "price_term_mean": float(term.mean()),
        "price_term_sd": float(term.std()),
        "merchant_cash_months": float((model.ledger.merchant_cash[ids] / running_costs_fen(model, ids)).mean()),
        "local_job_share": float(local / (local + mer.staff_outside[ids].sum())),
        "employment_rate": float(working / (working + looking)),
        "out_of_labour_share": float((status[working_age] == OUT_OF_LABOUR).mean()),
        "freelancer_share": float((status == FREELANCER).mean()),
        "elderly_share": float(pop.elderly.mean()),
        "disabled_share": float(pop.disabled.mean()),
        "graduate_share": float(pop.graduate.mean()),
        "insured_share": float((pop.benefit_left > 0).mean()),
        "persons_per_household": float(hh.persons.mean()),
        "children_per_adult": float(children / pop.n),
        "young_children_share": float(hh.young_children.sum() / children),
        "wage_mean": float(pop.wage[employed].mean() / 100),
        "pension_mean": float(pop.pension[pop.elderly].mean() / 100),
        "property_income_mean": float(hh.property_income.mean() / 100),
        "cash_mean": float(model.ledger.resident_cash.mean() / 100),
        "known_outlet_share": metrics.known_outlet_share(model),
        "basic_coverage_15": metrics.basic_coverage(model, 15),
    }
