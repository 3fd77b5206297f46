"""Entry of new outlets: would-be entrants, siting, the entry decision and the licence queue.

Mechanism (each month, per category):

1. Would-be entrants arrive as Poisson(``entrants_per_month`` x residents / 1,000). Residents
   found outlets too: each freelancer or recent graduate does with ``startup_per_month``
   (graduates: more, and subsidised, under the graduate start-up lever); a founder weighs a few
   ideas (a trade, more likely one with unmet demand, and a site) and takes the best that passes.
   Each shop vacated in the last ``VACANCY_MONTHS`` is also looked at, each month, by a would-be
   entrant of its former trade (succession: a viable site is soon re-let).
2. **Siting.** By default an entrant views ``sites_considered`` premises drawn at random among
   the nodes with shop space and weighs the best-looking one (expected revenue over costs). Under
   the demand-informed siting lever it ranks ``candidate_nodes`` nodes, half of them next to the
   homes with the most unmet needs of the category last month, and takes the best.
3. **Decision.** Expected monthly revenue at a node = the visits the outlet would draw by the
   residents' own choice rule (:func:`sim.services.kernels.expected_visits`: for every home in walking
   reach, the new outlet's logit share among the nearest outlets it would join, at a typical price,
   among the residents who would know of it on opening; rivals at the attraction residents saw
   that day: :func:`rival_attraction`) x 30 days x typical spend, up to its capacity. The
   entrant proceeds if that covers ``entry_hurdle`` x expected monthly costs (staff, rent, fixed
   costs, goods, and the start-up cost spread over ``payback_months``).
4. **Licence.** It applies for a licence and opens ``licence_days`` later, unless it gives up while
   waiting (``abandon_per_day``; drawn once at application). On opening, investors fund the
   start-up cost and ``opening_cash_months`` of running costs, less any start-up subsidy from the
   public budget (a resident founder's own cash is not used); the start-up cost is paid for fit-out
   and licences.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.services import kernels
from sim.services.blocks import use_threads
from sim.economy.ledger import MERCHANT
from sim.economy.population import FREELANCER, OWNER

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

DAYS_PER_MONTH = 30.0


_ENTRY_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per model, only while :func:`month_entry` runs: every category's :func:`rank_weights`
(:func:`_rank_weight_rows`), and ("money", category, successor) -> :func:`_money_terms`. Neither
the choice tables, today's attraction, the lever parameters nor the catalogue change while
would-be entrants decide (they only join the licence queue), so each is worked out once a month
instead of once per site."""

QUEUE_COLUMNS = ("open_day", "node", "category", "founder", "subsidy", "applied_day", "successor", "fitted",
                 "tender")

TENDERING_LEVERS = ("renovation", "governance")
"""Levers that tender sites (renovated space; the city budget's sites): the ``tender`` column of a
queued entrant is 1 + the tendering lever's place here, 0 for an entrant of the rules' own."""


@dataclass
class LicenceQueue:
    """Entrants waiting for their licence (parallel lists, one row per entrant).

    ``successor`` is 1 for an entrant taking over a vacated shop of its own trade (its customers
    know the premises); ``fitted`` is 1 for one on a site the city fitted out (a city-budget
    tender: no start-up cost of its own); ``tender`` names the lever whose tender brought it
    (:data:`TENDERING_LEVERS`), whose random stream its opening draws from. ``version`` counts changes per category: the entry test of later entrants
    sees the ones waiting (:func:`pending_distance`).
    """

    open_day: list[int] = field(default_factory=list)
    node: list[int] = field(default_factory=list)
    category: list[int] = field(default_factory=list)
    founder: list[int] = field(default_factory=list)
    subsidy: list[int] = field(default_factory=list)
    applied_day: list[int] = field(default_factory=list)
    successor: list[int] = field(default_factory=list)
    fitted: list[int] = field(default_factory=list)
    tender: list[int] = field(default_factory=list)
    version: dict[int, int] = field(default_factory=dict)

    def push(self, *, open_day: int, node: int, category: int, founder: int = -1, subsidy: int = 0,
             applied_day: int, successor: bool = False, fitted: bool = False, tender: str | None = None) -> None:
        """Queue one entrant (``tender``: the lever that tendered its site, one of :data:`TENDERING_LEVERS`)."""
        row = {"open_day": open_day, "node": node, "category": category, "founder": founder, "subsidy": subsidy,
               "applied_day": applied_day, "successor": successor, "fitted": fitted,
               "tender": 0 if tender is None else TENDERING_LEVERS.index(tender) + 1}
        for key in QUEUE_COLUMNS:
            getattr(self, key).append(int(row[key]))
        self.version[int(category)] = self.version.get(int(category), 0) + 1

    def pop_due(self, day: int) -> list[dict[str, int]]:
        """Remove and return the entrants whose licence is granted by ``day``."""
        due = [i for i, d in enumerate(self.open_day) if d <= day]
        rows = [{k: getattr(self, k)[i] for k in QUEUE_COLUMNS if k != "open_day"} for i in due]
        for i in reversed(due):
            self.version[self.category[i]] = self.version.get(self.category[i], 0) + 1
            for key in QUEUE_COLUMNS:
                del getattr(self, key)[i]
        return rows

    def nodes_of(self, category: int) -> np.ndarray:
        """Nodes of the entrants of ``category`` waiting for their licence."""
        return np.array([v for v, c in zip(self.node, self.category) if c == category], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.open_day)


def expected_revenue(model: LifeCircleModel, node: int, category: int, *, successor: bool = False) -> tuple[float, float]:
    """(expected monthly revenue, expected monthly costs) in fen of an outlet at ``node``.

    Costs include the start-up cost spread over ``economy.payback_months``, so cheaper start-up
    (electronic licences) lets more marginal sites pass the entry test. ``successor``: the entrant
    takes over a vacated shop of its own trade, which the residents around know.

    The answer depends on the month (lever parameters), the outlets open (rivals) and the entrants
    of the category waiting for their licence; it is kept until one of them changes, since
    would-be entrants and the siting lever weigh the same sites many times a month.
    """
    return expected_revenues(model, (node,), category, successor=successor)[0]


def expected_revenues(model: LifeCircleModel, nodes: Sequence[int] | np.ndarray, category: int, *,
                      successor: bool = False) -> list[tuple[float, float]]:
    """:func:`expected_revenue` at each of ``nodes`` (in order; a node may repeat), for the sites an
    entrant or the siting lever weighs together (:func:`_site_answers`)."""
    category = int(category)
    return _site_answers(model, [int(v) for v in nodes], [category] * len(nodes), bool(successor))


def _site_answers(model: LifeCircleModel, nodes: list[int], categories: list[int],
                  successor: bool) -> list[tuple[float, float]]:
    """:func:`expected_revenue` of an outlet of ``categories[i]`` at ``nodes[i]``, for each i.

    The answers already kept are reused; the others are computed in one compiled call, their reach
    in one search: :func:`sim.services.kernels.expected_visits_ranked` while :func:`month_entry`
    runs (sites of any trades together), else :func:`sim.services.kernels.expected_visits_sites`
    (one trade), each site exactly (to the bit) as :func:`~sim.services.kernels.expected_visits`
    alone. A 1,000,000-resident month end weighs ~16,000 sites: one call per site cost 70 us of
    Python around 25 us of kernel.
    """
    stamp = (model.month, model.reach.version)
    memo = model.revenue_memo
    if memo.get("stamp") != stamp:
        memo.clear()
        memo["stamp"] = stamp
    versions = model.licence_queue.version
    keys = [(v, c, successor, versions.get(c, 0)) for v, c in zip(nodes, categories)]
    missing = [key for key in dict.fromkeys(keys) if key not in memo]
    if missing:
        found = _expected_revenues(model, [key[0] for key in missing], [key[1] for key in missing], successor)
        for key, answer in zip(missing, found):
            memo[key] = answer
    return [memo[key] for key in keys]


def pending_distance(model: LifeCircleModel, category: int) -> np.ndarray:
    """(n_nodes,) metres from each node to the nearest entrant of ``category`` waiting for its
    licence (inf where none is within walking reach): an entrant weighs them as rivals.

    The array is the model's own (row ``category`` of :func:`_pending_rows`) and is brought up to
    date in place when entrants join the queue: read it before the queue changes again.
    """
    category = int(category)
    queue, limit = model.licence_queue, model.reach.limit_m
    version = queue.version.get(category, 0)
    memo = model.revenue_memo  # cleared with the month's expected revenues
    key = ("pending", category, limit)
    last = memo.get(key)
    if last is not None and last[0] is queue and last[1] == version:
        return last[4]
    # An entrant joining the queue only adds a rival: the last answer is brought up to date with the
    # new entrants alone (a minimum is exact in any order), so a month of N entrants costs N reach
    # searches, not N^2 / 2 (2.3 s of a 1,000,000-resident month end). Every push or removal adds
    # one to a category's version and a push one row at the end, so if the queue grew by as many
    # rows as its versions rose, the rows since the last answer are all new entrants. Any other
    # change rebuilds the answer from the whole queue.
    changes, length = sum(queue.version.values()), len(queue)
    if last is not None and last[0] is queue and length - last[2] == changes - last[3]:
        dist = last[4]
        new = [v for v, c in zip(queue.node[last[2]:], queue.category[last[2]:]) if c == category]
    else:  # every category's answer is a row of one array, so sites of several trades read theirs
        rows = memo.get(("pending rows", limit))
        if rows is None:
            rows = memo[("pending rows", limit)] = np.full((model.catalogue.n, model.city.graph.shape[0]), np.inf)
        dist, new = rows[category], queue.nodes_of(category)
        dist[:] = np.inf
    for v in new:
        nodes, d = model.nodes_within(int(v), limit)
        dist[nodes] = np.minimum(dist[nodes], d)  # a node appears once per search: no ufunc.at needed
    memo[key] = (queue, version, length, changes, dist)
    return dist


THREADED_SITES = 64
"""Sites weighed in one call from which their expected visits are shared among threads (a site
takes ~2.3 us on the 1,000,000-resident grid, 292 homes in reach; waking a sleeping thread ~50 us)."""


def _pending_rows(model: LifeCircleModel, categories: Sequence[int]) -> np.ndarray:
    """(C, n_nodes) :func:`pending_distance` of every category, the rows of ``categories`` up to date."""
    for c in categories:
        pending_distance(model, c)
    return model.revenue_memo[("pending rows", model.reach.limit_m)]


def _expected_revenues(model: LifeCircleModel, nodes: list[int], categories: list[int],
                       successor: bool) -> list[tuple[float, float]]:
    econ = model.scenario.economy
    site_category = np.array(categories, dtype=np.int64)
    trades = sorted(set(categories))
    # A trade's sites weighed one after another read the same tables (a site reads ~300 homes' rows
    # of its trade's: in turn, not mixed, 6.5 instead of 7.8 us a site at 1,000,000 residents).
    order = np.argsort(site_category, kind="stable") if len(trades) > 1 else np.arange(len(nodes))
    reach = model.nodes_within_many([nodes[i] for i in order], model.reach.limit_m)
    first = np.array([0, *itertools.accumulate(len(near) for near, _ in reach)], dtype=np.int64)
    tables = model.choice_tables
    near, dist = np.concatenate([near for near, _ in reach]), np.concatenate([d for _, d in reach])
    p_aware = 1.0 if successor else econ.initial_knowledge
    ranked = _ENTRY_TABLES.get(model)
    if ranked is not None:
        if len(nodes) >= THREADED_SITES:
            use_threads()
            ranked_visits = kernels.expected_visits_ranked_threads
        else:
            ranked_visits = kernels.expected_visits_ranked
        visits = np.empty(len(nodes))
        visits[order] = ranked_visits(
            first, near, dist, site_category[order], model.class_demand, tables.speeds, econ.walk_minute_weight,
            econ.max_walk_minutes, _rank_weight_rows(model, ranked), model.reach.dist_m,
            _pending_rows(model, trades), p_aware)
    else:
        if len(trades) != 1:
            raise ValueError("sites of several trades are weighed together only while month_entry runs")
        c = trades[0]
        visits = kernels.expected_visits_sites(
            first, near, dist, model.class_demand[c], tables.speeds, econ.walk_minute_weight, econ.max_walk_minutes,
            tables.walk.reshape(-1), rival_attraction(model), model.reach.dist_m[c], pending_distance(model, c), c,
            model.catalogue.n, tables.width, p_aware)
    terms = np.array([_terms(model, ranked, c, successor) for c in trades])[np.searchsorted(trades, site_category)]
    capacity, per_visit, cogs_share, spend, running, payback = terms.T
    # The same double arithmetic, in the same order, as one site at a time in Python floats.
    revenue = np.minimum(visits, capacity) * DAYS_PER_MONTH * per_visit
    goods = revenue * cogs_share * spend / np.maximum(per_visit, 1.0)
    costs = running + goods + payback
    return list(zip(revenue.tolist(), costs.tolist()))


def _terms(model: LifeCircleModel, ranked: dict | None, category: int, successor: bool) -> tuple[float, ...]:
    """:func:`_money_terms`, kept for the month entry when it runs."""
    terms = ranked.get(("money", category, successor)) if ranked is not None else None
    if terms is None:
        terms = _money_terms(model, category, successor)
        if ranked is not None:
            ranked[("money", category, successor)] = terms
    return terms


def _rank_weight_rows(model: LifeCircleModel, ranked: dict) -> np.ndarray:
    """:func:`rank_weights`, made at the month entry's first need (a settled city's would-be
    entrants come in every trade) and kept for it (:data:`_ENTRY_TABLES`)."""
    rows = ranked.get("rank weights")
    if rows is None:
        rows = ranked["rank weights"] = rank_weights(model)
    return rows


def _money_terms(model: LifeCircleModel, category: int, successor: bool) -> tuple[float, ...]:
    """(capacity, takings per visit, cost-of-goods share, typical spend, running costs, start-up
    cost per month of payback) of a new outlet of ``category``, as Python numbers (the same values,
    and the same double arithmetic, as the catalogue's NumPy scalars)."""
    cat, econ = model.catalogue, model.scenario.economy
    per_visit = cat.spend_fen[category] + (cat.money["parcel_fee"] if category == model.parcel_category else 0)
    payback = startup_cost_fen(model, successor) / econ.payback_months
    return (cat.capacity[category].item(), np.asarray(per_visit).item(), cat.cogs_share[category].item(),
            cat.spend_fen[category].item(), expected_revenue_costs_only(model, category), float(payback))


def rank_weights(model: LifeCircleModel) -> np.ndarray:
    """(C, n_nodes, S, width) float32: walk weight x the rival's attraction (:func:`rival_attraction`)
    of the outlet of each category at each rank (the products :func:`sim.services.kernels.expected_visits`
    forms), laid out for :func:`sim.services.kernels.expected_visits_ranked`; every category in one
    pass (:func:`sim.services.kernels.rank_weights_all`)."""
    walk = model.choice_tables.walk
    out = np.empty((walk.shape[2], walk.shape[0], walk.shape[1], walk.shape[3]), dtype=np.float32)
    return kernels.rank_weights_all(walk, rival_attraction(model), out)


def rival_attraction(model: LifeCircleModel) -> np.ndarray:
    """(n_nodes * C * width,) float32: the attraction of the outlet at each rank of the choice
    tables as residents saw it at the day's first choice (its price and the day before's
    crowding), 0 for an outlet shut since and, for one opened since, its own (no crowding yet):
    what a would-be entrant weighs its rivals by. Not the day's own table, whose rows after the
    month end's closures and the day's openings hold outlets that have moved rank (the table is
    rewritten at the next day's choice). Kept for the day (until outlets change)."""
    memo, stamp = model.revenue_memo, (model.day, model.reach.version)
    kept = memo.get("rivals")
    if kept is not None and kept[0] == stamp:
        return kept[1]
    tables = model.choice_tables
    table = np.empty_like(tables.attraction)
    kernels.rank_attraction(model.outlet_attraction()[0], tables.outlet.reshape(-1), table)
    memo["rivals"] = (stamp, table)
    return table


def startup_cost_fen(model: LifeCircleModel, successor: bool | np.ndarray = False) -> np.ndarray | int:
    """Start-up cost of a new shop, fen: the catalogue's (electronic licences lower it), or
    ``takeover_cost_share`` of it for a successor in a vacated shop of its own trade."""
    full = model.startup_cost_fen()
    share = model.scenario.economy.takeover_cost_share
    return np.where(successor, np.round(full * share), full).astype(np.int64) if isinstance(successor, np.ndarray) \
        else (int(round(full * share)) if successor else full)


def _site(model: LifeCircleModel, category: int, rng: np.random.Generator,
          shops: np.ndarray) -> tuple[int, tuple[float, float] | None]:
    """Where a would-be entrant of ``category`` looks: the siting lever's best site while it acts,
    else the best of ``economy.sites_considered`` premises drawn at random (among ``shops``, the
    nodes with shop space). Also its :func:`expected_revenue` when weighed here (else None)."""
    siting = model.levers.get("siting")
    if siting is not None and siting.acting:
        return siting.choose_site(model, category, shops), None
    seen = _premises(rng, shops, model.scenario.economy.sites_considered)
    if len(seen) == 1:
        return int(seen[0]), None
    return _best_site(seen, expected_revenues(model, seen, category))


def _premises(rng: np.random.Generator, shops: np.ndarray, viewed: int) -> np.ndarray:
    """The ``viewed`` premises a would-be entrant looks at: nodes of ``shops`` drawn at random."""
    return shops[rng.integers(len(shops), size=viewed)]


def _best_site(seen: np.ndarray, answers: list[tuple[float, float]]) -> tuple[int, tuple[float, float]]:
    """The best-looking of the premises viewed (:func:`_best_sites`) and its :func:`expected_revenue`."""
    best = int(_best_sites(*np.array(answers).T[:, None, :])[0])
    return int(seen[best]), answers[best]


def _best_sites(revenue: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """(n,) for each row of premises viewed ((n, viewed) expected revenues and costs, a row an
    entrant's), the column of the best-looking: expected revenue over expected costs, the first of
    equals."""
    return (revenue / np.maximum(costs, 1.0)).argmax(axis=1)


def _passes(model: LifeCircleModel, answer: tuple[float, float]) -> bool:
    """The entry test (:func:`_passing`) of one entrant's site."""
    return bool(_passing(model, *answer))


def _passing(model: LifeCircleModel, revenue: np.ndarray | float, costs: np.ndarray | float) -> np.ndarray:
    """The entry test, element by element: expected revenue covers ``entry_hurdle`` x expected costs."""
    return ~np.less(revenue, model.scenario.economy.entry_hurdle * np.asarray(costs))


WEIGH_AHEAD = (8, 32, 1024)
"""Would-be entrants weighed together by :func:`_weigh_arrivals`: the fewest, the first and the
most in one window (the window doubles after a window where none passed, halves after a pass)."""


def _weigh_arrivals(model: LifeCircleModel, categories: list[int], rng: np.random.Generator,
                    shops: np.ndarray) -> None:
    """The month's would-be entrants of ``categories``, in order, each as :func:`_consider` (the
    same draws, the same answers, the same entrants), weighed a window at a time.

    An entrant changes what later ones see only if it passes its entry test: its application
    takes a draw from ``rng`` (later entrants' premises move along the stream) and, queued, it
    is a rival for its own trade. So a window's entrants draw their premises as if none passed,
    are weighed together (one compiled call for every trade's sites), and the first that passes
    ends the window: the stream is put back to just after its premises, it applies, and the next
    window starts after it. In a settled city a few dozen of ~5,400 would-be entrants a month pass
    (1,000,000 residents; one by one they took 0.23 s a month, 0.19 s in windows, 0.14 s with the
    sites' expected visits on two threads). Answers weighed past
    the passing entrant stay in the memo (keyed by each trade's queue version) and are reused if
    still valid. Under the siting lever, or with one premises viewed, entrants are weighed one by one.

    A window's premises are one draw of ``viewed`` x entrants nodes: NumPy draws bounded integers
    below 2**32 one 32-bit output of the generator after another, whatever the calls, so one draw
    of n x viewed gives the same numbers, and leaves the stream where n draws of ``viewed`` would
    (``tests/test_entry_sites.py``; 5,400 calls a month at 1,000,000 residents cost ~15 ms).
    """
    econ = model.scenario.economy
    siting = model.levers.get("siting")
    if (siting is not None and siting.acting) or econ.sites_considered == 1:
        for category in categories:
            _consider(model, category, founder=-1, subsidy=0, rng=rng, shops=shops)
        return
    fewest, window, most = WEIGH_AHEAD
    viewed, start = econ.sites_considered, 0
    while start < len(categories):
        batch = categories[start:start + window]
        before = rng.bit_generator.state
        seen = _premises(rng, shops, viewed * len(batch))  # each entrant's ``viewed`` in turn: one draw
        # Every trade's sites in one call; each entrant's best premises and its entry test.
        answers = np.array(_site_answers(model, seen.tolist(), np.repeat(batch, viewed).tolist(), False))
        revenue, costs = answers[:, 0].reshape(len(batch), viewed), answers[:, 1].reshape(len(batch), viewed)
        pick = _best_sites(revenue, costs)
        rows = np.arange(len(batch))
        passing = np.flatnonzero(_passing(model, revenue[rows, pick], costs[rows, pick]))
        if len(passing) == 0:
            start += len(batch)
            window = min(2 * window, most)
            continue
        first = int(passing[0])
        rng.bit_generator.state = before  # the stream as it was after the passing entrant's premises
        _premises(rng, shops, viewed * (first + 1))
        _apply(model, batch[first], int(seen[first * viewed + pick[first]]), founder=-1, subsidy=0, rng=rng)
        start += first + 1
        window = max(window // 2, fewest)


VACANCY_MONTHS = 6
"""Months a vacated shop is offered to would-be entrants of its former trade before it is let for
other uses (or stays empty)."""


@dataclass
class Vacancies:
    """Shops vacated by closed outlets, offered to a successor of the same trade (parallel lists)."""

    node: list[int] = field(default_factory=list)
    category: list[int] = field(default_factory=list)
    month: list[int] = field(default_factory=list)

    def add(self, nodes: np.ndarray, categories: np.ndarray, month: int) -> None:
        """Record shops vacated in ``month``."""
        self.node += [int(v) for v in nodes]
        self.category += [int(c) for c in categories]
        self.month += [int(month)] * len(nodes)

    def current(self, month: int) -> list[tuple[int, int]]:
        """(node, category) of the shops still on offer in ``month`` (older offers lapse)."""
        keep = [i for i, m in enumerate(self.month) if month - m <= VACANCY_MONTHS]
        self.node, self.category, self.month = ([getattr(self, k)[i] for i in keep] for k in ("node", "category", "month"))
        return list(zip(self.node, self.category))

    def let(self, node: int, category: int) -> None:
        """The shop at ``node`` found a successor of ``category``: it is no longer on offer."""
        for i, (v, c) in enumerate(zip(self.node, self.category)):
            if v == node and c == category:
                for key in ("node", "category", "month"):
                    del getattr(self, key)[i]
                return

    def __len__(self) -> int:
        return len(self.node)


def month_entry(model: LifeCircleModel) -> None:
    """Would-be entrants and resident founders decide, and join the licence queue."""
    rng = model.streams["entry"]
    econ, cat = model.scenario.economy, model.catalogue
    shops = model.shop_nodes()  # shop space changes only with renovation, never while entrants decide
    _ENTRY_TABLES[model] = {}
    try:
        # Succession: each shop vacated in the last VACANCY_MONTHS is looked at by a would-be entrant
        # of its former trade (landlords advertise fitted-out premises; a viable site is re-let).
        for node, category in model.vacancies.current(model.month):
            if _consider(model, category, founder=-1, subsidy=0, rng=rng, shops=shops, node=node, successor=True):
                model.vacancies.let(node, category)
        arrivals = rng.poisson(econ.entrants_per_month * model.population.n / 1000.0, size=cat.n)
        _weigh_arrivals(model, np.repeat(np.arange(cat.n), arrivals).tolist(), rng, shops)
        _resident_founders(model, rng)
    finally:
        _ENTRY_TABLES.pop(model, None)


def _consider(model: LifeCircleModel, category: int, *, founder: int, subsidy: int, rng: np.random.Generator,
              shops: np.ndarray, node: int | None = None, successor: bool = False) -> bool:
    """An entrant of ``category`` looks at a site (``node``, or one found by :func:`_site` among
    ``shops``) and, if the entry test passes and it does not give up waiting, applies for a licence."""
    answer = None
    if node is None:
        node, answer = _site(model, category, rng, shops)
    if not _passes(model, expected_revenue(model, node, category, successor=successor) if answer is None else answer):
        return False
    return _apply(model, category, node, founder=founder, subsidy=subsidy, rng=rng, successor=successor)


def _apply(model: LifeCircleModel, category: int, node: int, *, founder: int, subsidy: int,
           rng: np.random.Generator, successor: bool = False) -> bool:
    """An entrant that passed its entry test applies for a licence, unless it gives up waiting."""
    days = int(round(model.param("licence_days")))
    if rng.random() < 1 - (1 - model.scenario.economy.abandon_per_day) ** days:
        return False  # gave up while waiting for the licence
    model.licence_queue.push(open_day=model.day + days, node=node, category=category,
                             founder=founder, subsidy=subsidy, applied_day=model.day, successor=successor)
    return True


FOUNDER_OPTIONS = 5
"""Business ideas (a trade and a site) a resident founder weighs before deciding (assumption)."""


def _resident_founders(model: LifeCircleModel, rng: np.random.Generator) -> None:
    pop = model.population
    free = np.flatnonzero((pop.status == FREELANCER) & (pop.owned < 0))
    base = model.scenario.economy.startup_per_month
    founders = list(free[rng.random(len(free)) < base])
    grads = np.flatnonzero(pop.graduate & (pop.owned < 0) & (pop.status != OWNER))
    lever = model.levers.get("graduate_startups")
    grad_rate = model.param("startup_per_month") if lever is not None and lever.acting else base
    draw = rng.random(len(grads))
    # The graduates who would found without the lever weigh their ideas on the shared stream, first;
    # the lever's extra founders on the lever's, so that the rules' own entrants draw as without it.
    grad_founders = [(person, rng) for person in grads[draw < min(base, grad_rate)]]
    if grad_rate > base:
        grad_founders += [(person, lever.rng) for person in grads[(draw >= base) & (draw < grad_rate)]]
    # Last month's unmet needs and the shop space do not change while founders decide: the odds of
    # each trade are worked out once (a sum over every node and category: 0.3 ms per founder).
    unmet = model.unmet_last_month.sum(axis=0).astype(np.float64)
    weight = unmet / unmet.sum() + 1.0 / len(unmet) if unmet.sum() > 0 else np.full(len(unmet), 1.0 / len(unmet))
    trade_odds, shops = weight / weight.sum(), model.shop_nodes()
    for person in founders:
        _found(model, int(person), 0, rng, trade_odds=trade_odds, shops=shops)
    for person, draws in grad_founders:
        subsidy = lever.subsidy_fen(model) if lever is not None and lever.acting else 0
        if _found(model, int(person), subsidy, draws, trade_odds=trade_odds, shops=shops):
            model.tally.graduate_startups += 1


def _found(model: LifeCircleModel, founder: int, subsidy: int, rng: np.random.Generator, *,
           trade_odds: np.ndarray, shops: np.ndarray) -> bool:
    """A resident who wants to start a business weighs ``FOUNDER_OPTIONS`` ideas -- a trade drawn
    in proportion to last month's unmet needs (plus an even share, so every trade can come up:
    ``trade_odds``) and a shop-space site drawn at random among ``shops`` -- and applies for a
    licence for the one with the best margin if it passes the entry test. The founder works in the
    business (one employee fewer to pay, like most of China's individual businesses), and a
    start-up subsidy lowers the start-up cost to pay back."""
    categories = rng.choice(len(trade_odds), size=FOUNDER_OPTIONS, p=trade_odds)
    nodes = _premises(rng, shops, FOUNDER_OPTIONS)
    hurdle = model.scenario.economy.entry_hurdle
    relief = subsidy / model.scenario.economy.payback_months
    wage = model.shop_wage_fen()
    margins = []
    answers = _site_answers(model, nodes.tolist(), categories.tolist(), False)  # the ideas weighed together
    for category, (revenue, costs) in zip(categories, answers):
        # The founder works in the shop: one employee fewer to pay (an owner-operated business).
        own_work = wage if model.catalogue.staff[category] > 0 else 0
        margins.append(revenue - hurdle * max(costs - relief - own_work, 0.0))
    best = int(np.argmax(margins))
    if margins[best] < 0:
        return False
    return _apply(model, int(categories[best]), int(nodes[best]), founder=founder, subsidy=subsidy, rng=rng)


def open_due(model: LifeCircleModel) -> None:
    """Open every queued entrant whose licence is granted today."""
    rows = model.licence_queue.pop_due(model.day)
    if not rows:
        return
    # A resident founder runs one business: a second licence due the same day (a freelancer who is also
    # a recent graduate may apply twice in a month) lapses, as one due after the first opened does.
    founders, founding = [], set()
    for r in rows:
        if r["founder"] >= 0 and model.population.owned[r["founder"]] < 0 and r["founder"] not in founding:
            founding.add(r["founder"])
            founders.append(r)
    # The rules' own entrants open first, drawing from the shared streams; outlets a lever tendered
    # draw from the lever's stream, so that the rules' own draw what they would without it.
    groups = [[r for r in rows if r["founder"] < 0 and r["tender"] == code] for code in range(len(TENDERING_LEVERS) + 1)]
    groups[0] += founders
    rows = [r for group in groups for r in group]
    initial = model.scenario.economy.initial_knowledge
    ids = np.concatenate([model.add_outlets(
        nodes=np.array([r["node"] for r in group]),
        categories=np.array([r["category"] for r in group]),
        owners=np.array([r["founder"] for r in group]),
        awareness=np.array([1.0 if r["successor"] else initial for r in group]),
        rng=model.levers.get(TENDERING_LEVERS[code - 1]).rng if code else None,
    ) for code, group in enumerate(groups) if group] or [np.zeros(0, dtype=np.int64)])
    # A start-up subsidy is paid on opening only while the programme still runs (it stops on its end month).
    grants = model.levers.get("graduate_startups")
    paying = grants is not None and grants.acting
    fund_openings(model, ids, subsidies=np.array([r["subsidy"] if paying else 0 for r in rows], dtype=np.int64),
                  successors=np.array([bool(r["successor"]) for r in rows]),
                  fitted_sites=np.array([bool(r["fitted"]) for r in rows]))
    for r, m in zip(rows, ids):
        if r["founder"] >= 0:
            model.merchants.staff_target[m] = max(int(model.merchants.staff_target[m]) - 1, 0)  # the owner works there
            pop = model.population
            pop.owned[r["founder"]] = m
            if pop.employer[r["founder"]] >= 0:
                model.merchants.staff_local[pop.employer[r["founder"]]] -= 1
            pop.employer[r["founder"]] = -1
            pop.wage[r["founder"]] = 0
            pop.benefit_left[r["founder"]] = 0
            pop.status[r["founder"]] = OWNER
            model.merchants.graduate_founded[m] = bool(pop.graduate[r["founder"]])
    model.roles_changed(np.array([r["founder"] for r in founders], dtype=np.int64))
    model.tally.births += len(ids)
    model.count_circle_events("births", model.merchants.node[ids])
    model.tally.licensed += len(rows)
    model.tally.licence_days += sum(model.day - r["applied_day"] for r in rows)
    nodes = model.merchants.node[ids]
    model.count_circle_events("licensed", nodes)
    model.count_circle_events("licence_days", nodes, np.array([model.day - r["applied_day"] for r in rows]))


def fund_openings(model: LifeCircleModel, ids: np.ndarray, subsidies: np.ndarray | None = None, *,
                  fitted_out: bool = False, successors: np.ndarray | None = None,
                  fitted_sites: np.ndarray | None = None) -> None:
    """Fund new outlets (start-up cost + working capital) and pay the start-up cost.

    Working capital is ``opening_cash_months`` of the outlet's running costs (a mobile vendor's
    own, far below a shop's); investors put in what subsidies do not cover, recorded per outlet
    (``capital_in``) so that a closing outlet repays them before its owner sees any cash.
    ``fitted_out``: outlets already trading on day one get working capital only; ``successors``:
    outlets taking over a vacated shop of their trade pay ``takeover_cost_share`` of the start-up cost;
    ``fitted_sites``: outlets on sites the city fitted out (its budget paid that) pay none.
    """
    if len(ids) == 0:
        return
    mer, ledger, money = model.merchants, model.ledger, model.catalogue.money
    successors = np.zeros(len(ids), dtype=bool) if successors is None else successors
    startup = np.where(mer.mobile[ids], money["vendor_startup_cost"], startup_cost_fen(model, successors)).astype(np.int64)
    if fitted_out:
        startup[:] = 0
    if fitted_sites is not None:
        startup[fitted_sites] = 0
    months = np.full(len(ids), model.scenario.economy.opening_cash_months)
    if fitted_out:
        # Day-one outlets are established businesses of different ages and reserves, not all
        # opened together: their cash is spread around the usual working capital (so that losing
        # ones do not all run out in the same month) and their opening days over the last ten years.
        rng = model.streams["outlets.age"]
        months *= rng.uniform(0.5, 1.5, size=len(ids))
        model.merchants.opened_day[ids] -= rng.integers(0, 3650, size=len(ids)).astype(np.int32)
    capital = startup + np.round(running_costs_fen(model, ids) * months).astype(np.int64)
    subsidies = np.zeros(len(ids), dtype=np.int64) if subsidies is None else subsidies
    if subsidies.any():
        ledger.transfer("public_budget", (MERCHANT, ids), subsidies, "lever.graduate_startups.subsidy")
    invested = np.maximum(capital - subsidies, 0)
    ledger.transfer("investors", (MERCHANT, ids), invested, "capital")
    mer.capital_in[ids] += invested
    if startup.any():
        ledger.transfer((MERCHANT, ids), "fit_out_and_licences", startup, "startup_cost")


def running_costs_fen(model: LifeCircleModel, ids: np.ndarray) -> np.ndarray:
    """Monthly running costs (fen) of outlets ``ids`` before any revenue: staff, rent and fixed
    costs for a shop; fixed costs and the stall permit for a mobile vendor (no staff, no rent)."""
    mer = model.merchants
    shop = np.array([expected_revenue_costs_only(model, int(c)) for c in mer.category[ids]], dtype=np.float64)
    vendors = model.levers.get("mobile_vendors")
    permit = vendors.permit_fee_fen() if vendors is not None else 0
    vendor = float(model.catalogue.money["vendor_fixed_cost"] + permit)
    return np.where(mer.mobile[ids], vendor, shop)


def expected_revenue_costs_only(model: LifeCircleModel, category: int) -> float:
    """Running costs (fen per month) of a new outlet of ``category`` before any revenue."""
    cat = model.catalogue
    return float(cat.staff[category] * model.shop_wage_fen() + cat.area_m2[category] * model.rent_fen_per_m2()
                 + cat.money["fixed_cost"])

