"""Daily needs, outlet choice, capacity and spending, over the whole population at once.

Mechanism (one simulated day):

1. **Needs.** Each resident's needs of category *c* arrive as a Poisson process with rate
   ``visits_per_day[c]`` (times ``elderly_factor[c]`` for the elderly), split into day and night
   needs by ``night_share[c]``. Each resident's total is drawn from the Poisson distribution of
   the summed rate and each need's (category, day/night) from the rates' shares (alias method):
   the same as independent Poisson counts per category and time of day.
2. **Automated outlets** (lockers lever): a parcel (or a small purchase) within reach of a locker
   (vending point) is met there without a shop trip.
3. **Choice.** A resident weighs the ``k`` nearest outlets of the category that lie within
   ``max_walk_minutes`` at *their own* walk speed and that they *know of*, with multinomial-logit
   weights ``exp(-walk_minute_weight * minutes - price_weight * (price/typical - 1)
   - crowding_weight * min(yesterday's load, 2))``, the load being the visits the outlet was
   wanted for yesterday over its capacity (above 1 when it turned people away). A resident who
   knows none of the reachable outlets
   searches and finds the best one (and knows it from then on). Night needs consider only outlets
   open at night.
4. **Online orders** (platform lever): a share of needs is ordered online, and needs with no
   outlet in walking range are ordered from the nearest outlet within the delivery radius; a
   freelancer delivers.
5. **Capacity.** An outlet serves at most ``capacity`` visits a day; the excess, chosen at random,
   is turned away. A walk-in turned away tries once more, by the same rule, among the outlets it
   knows in reach that still have room; what it still cannot find is counted as unmet.
6. **Spending.** Every visit is paid through the ledger: resident to merchant (and to the platform
   and the courier for orders; couriers pay parcel points per parcel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import math

import numpy as np

from sim.services import kernels
from sim.services.blocks import resident_blocks, use_threads
from sim.services.fastrng import block_states, pack_alias, seed_state
from sim.economy.ledger import MERCHANT, RESIDENT

if TYPE_CHECKING:
    from sim.model import LifeCircleModel
    from sim.city.walk import OutletReach


class Needs(NamedTuple):
    """The needs a pass reads: each need's resident, category and night flag, and each block's
    first need (``need_first``, B + 1): today's (:class:`DayBuffers`), or a gathered subset of
    them in need order (the second try's, :func:`_try_again`)."""

    res: np.ndarray
    cats: np.ndarray
    night: np.ndarray
    need_first: np.ndarray


def _today(buf: DayBuffers) -> Needs:
    """Today's needs in the day buffers."""
    return Needs(buf.res, buf.cats, buf.night, buf.need_first)


class ChoiceTables:
    """The choice tables the daily loop reads: walk weights and outlet ids per rank, ``width``
    ranks to a row (``k`` rounded up to 4 or 8; the extra ranks are empty).

    The tables are node-major: everything the residents of one node read is contiguous, and the
    daily loop (in resident order, so in home-node order) streams through them once, instead of
    jumping between one region per category.

    Attributes:
        walk: (n_nodes, speed classes, C, width) float32; ``walk[v, s, c, r]`` is exp(-b x
            minutes) to the r-th nearest outlet of category c from node v at speed class s, 0
            beyond the walking limit.
        outlet: (n_nodes, C, width) int32 outlet id at each rank (-1: none).
        attraction, night_attraction: (n_nodes * C * width,) float32 today's attraction of the
            outlet at each rank, by day and at night.
    """

    def __init__(self, speeds_m_per_min: np.ndarray, n_categories: int, n_nodes: int, k: int) -> None:
        self.speeds = np.asarray(speeds_m_per_min, dtype=np.float64)
        self.C, self.n, self.k = n_categories, n_nodes, k
        self.width = 4 if k <= 4 else 8
        self.walk = np.zeros((n_nodes, len(self.speeds), n_categories, self.width), dtype=np.float32)
        self.outlet = np.full((n_nodes, n_categories, self.width), -1, dtype=np.int32)
        self.attraction = np.zeros(self.outlet.size, dtype=np.float32)
        self.night_attraction = np.zeros(self.outlet.size, dtype=np.float32)

    def update(self, categories: np.ndarray, reach: OutletReach, minute_weight: float, max_minutes: float,
               rows: dict[int, np.ndarray] | None = None) -> None:
        """Recompute the rows of ``categories`` from the reach table: every node's, or only the nodes
        ``rows[c]`` of category c (those whose k nearest changed: an opening or closure touches the
        nodes within walking reach of it, not the whole network). The same values either way."""
        k = self.k
        for cat in np.atleast_1d(categories):
            cat = int(cat)
            nodes = slice(None) if rows is None else rows[cat]
            self.outlet[nodes, cat, :k] = reach.outlet[cat][nodes]
            dist = reach.dist_m[cat][nodes]
            for s, speed in enumerate(self.speeds):
                minutes = dist / speed                                                # (n, k)
                self.walk[nodes, s, cat, :k] = np.where(minutes <= max_minutes, np.exp(-minute_weight * minutes), 0.0)


MAX_CHILDREN = 3
"""Children of an age group counted for a carer's needs (more count as this many)."""


def need_groups(pop, households, catalogue) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each resident's need group and each group's visit rates (C,) a day.

    A group is (elderly or not, the household's young children, its school children -- the last
    two only for the household's carer, up to ``MAX_CHILDREN`` each): adults' categories at the
    adult or elderly rate, plus the children's categories per child (catalogue ``demand_of``).
    """
    cat = catalogue
    adult = np.where(cat.demand_of == 0, cat.visits_per_day, 0.0)
    per_young = np.where(cat.demand_of == 1, cat.visits_per_day, 0.0)
    per_school = np.where(cat.demand_of == 2, cat.visits_per_day, 0.0)
    young = np.zeros(pop.n, dtype=np.int64)
    school = np.zeros(pop.n, dtype=np.int64)
    young[households.carer] = np.minimum(households.young_children, MAX_CHILDREN)
    school[households.carer] = np.minimum(households.school_children, MAX_CHILDREN)
    group = (pop.elderly.astype(np.int64) + 2 * (young + (MAX_CHILDREN + 1) * school)).astype(np.uint8)
    rates = []
    for g in range(2 * (MAX_CHILDREN + 1) ** 2):
        elderly, rest = g % 2, g // 2
        y, k = rest % (MAX_CHILDREN + 1), rest // (MAX_CHILDREN + 1)
        rates.append(adult * (cat.elderly_factor if elderly else 1.0) + y * per_young + k * per_school)
    return group, rates


class NeedRates:
    """The need distribution of each need group (:func:`need_groups`), for the kernels.

    Attributes:
        count_table: (G, L) packed alias tables (:func:`sim.services.fastrng.pack_alias`) of a resident's
            number of needs a day: Poisson with the group's summed rate, up to the count whose
            upper tail is below 1e-12 (the rest of the tail is folded into the last count).
        slot_table: (G, 2C) packed alias tables of a need's slot: category ``j % C``, by day
            (j < C) or at night (j >= C), in proportion to its rate.
    """

    def __init__(self, group_rates: list[np.ndarray], night_share: np.ndarray) -> None:
        rates = [np.concatenate([r * (1 - night_share), r * night_share]) for r in group_rates]
        pmfs = [_poisson_pmf(float(r.sum())) for r in rates]
        width = max(len(p) for p in pmfs)
        self.count_table = np.array([pack_alias(*alias_table(np.pad(p, (0, width - len(p))))) for p in pmfs])
        self.slot_table = np.array([pack_alias(*alias_table(r)) for r in rates])


def _poisson_pmf(lam: float) -> np.ndarray:
    """P(X = k) for k = 0, 1, ... up to the count whose upper tail is below 1e-12 (the tail beyond
    it is added to the last entry, so the entries sum to 1)."""
    if lam <= 0:
        return np.ones(1)
    pmf = [math.exp(-lam)]
    cdf = pmf[0]
    while 1.0 - cdf >= 1e-12 and len(pmf) < 256:  # P(X > k) = 1 - cdf, to double precision
        pmf.append(pmf[-1] * lam / len(pmf))
        cdf += pmf[-1]
    out = np.array(pmf)
    out[-1] += 1.0 - out.sum()
    return out


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) for drawing index j with probability
    ``weights[j] / weights.sum()``: pick a column uniformly, keep it with ``prob[j]``, else take
    ``alias[j]``."""
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    prob = np.zeros(n)
    alias = np.arange(n)
    if w.sum() <= 0:
        return np.ones(n), alias
    scaled = w * n / w.sum()
    small = [j for j in range(n) if scaled[j] < 1.0]
    large = [j for j in range(n) if scaled[j] >= 1.0]
    while small and large:
        s, big = small.pop(), large.pop()
        prob[s] = scaled[s]
        alias[s] = big
        scaled[big] -= 1.0 - scaled[s]
        (small if scaled[big] < 1.0 else large).append(big)
    for j in small + large:
        prob[j] = 1.0
    return prob, alias


class DayBuffers:
    """Arrays of one day's needs, kept for the whole run and grown when a day needs more.

    A fresh array of a day's size costs more in page faults than the loops that fill it, so the
    daily loops write into these. Views of the first ``E`` entries are today's needs. The
    population's blocks (:mod:`sim.services.blocks`): ``first`` (B + 1,) their first residents,
    ``need_first`` (B + 1,) their first needs today.
    """

    def __init__(self, n_residents: int) -> None:
        self.counts = np.zeros(n_residents, dtype=np.uint8)
        self.first = resident_blocks(n_residents)
        self.n_blocks = len(self.first) - 1
        self.block_needs = np.zeros(self.n_blocks, dtype=np.int64)
        self.need_first = np.zeros(self.n_blocks + 1, dtype=np.int64)
        self.block_slots = np.zeros((self.n_blocks, 0), dtype=np.int64)
        self.block_deferred = np.zeros(self.n_blocks, dtype=np.int64)
        self.homes_sorted: bool | None = None  # residents in home-node order (checked once, when blocked)
        self._size = 0
        self.grow(0)

    def grow(self, E: int) -> None:
        """Make room for ``E`` needs (with headroom, so growth is rare)."""
        if E <= self._size:
            return
        size = max(int(E * 1.25) + 1024, self._size)
        self.res = np.zeros(size, dtype=np.int32)
        self.cats = np.zeros(size, dtype=np.int32)
        self.night = np.zeros(size, dtype=np.bool_)
        self.served = np.zeros(size, dtype=np.bool_)
        self.chosen = np.zeros(size, dtype=np.int32)
        self.visit = np.zeros(size, dtype=np.bool_)
        self.outcome = np.zeros(size, dtype=np.uint8)  # why a need went unmet (kernels.NO_REASON ...)
        self.delivered = np.zeros(size, dtype=np.bool_)
        # The second try of needs turned away at a full outlet.
        self.skip = np.zeros(size, dtype=np.bool_)     # not tried again (kept after the day: views read it)
        self.again = np.zeros(size, dtype=np.int32)    # scratch: each block's needs that try again
        self.chosen2 = np.zeros(size, dtype=np.int32)  # read only where ~skip & visit2
        self.visit2 = np.zeros(size, dtype=np.bool_)
        if self.n_blocks > 1:  # visits to full outlets, decided after the blocks (kernels.settle_visits_blocks)
            self.deferred = np.zeros(size, dtype=np.int32)
            self.deferred_draw = np.zeros(size, dtype=np.float64)
            self.by_outlet = np.zeros(size, dtype=np.int32)
            self.by_outlet_draw = np.zeros(size, dtype=np.float64)
        self._size = size


class OutletBuffers:
    """Per-outlet arrays of the daily loops, grown with the merchant arrays (and per-block partial
    counts when the population spans several blocks)."""

    def __init__(self) -> None:
        self.size = -1
        self.blocks = 0
        self.ensure(0)

    def ensure(self, M: int, blocks: int = 1) -> None:
        if M == self.size and blocks == self.blocks:
            return
        self.demand = np.zeros(M, dtype=np.int64)
        self.visits = np.zeros(M, dtype=np.int64)
        self.walk_ins = np.zeros(M, dtype=np.int64)
        self.takings = np.zeros(M, dtype=np.int64)
        self.demand2 = np.zeros(M, dtype=np.int64)
        self.visits2 = np.zeros(M, dtype=np.int64)
        self.walk_ins2 = np.zeros(M, dtype=np.int64)
        self.takings2 = np.zeros(M, dtype=np.int64)
        if blocks > 1:
            self.block_visits = np.zeros((blocks, M), dtype=np.int64)
            self.block_walk_ins = np.zeros((blocks, M), dtype=np.int64)
        self.size, self.blocks = M, blocks


def serve_day(model: LifeCircleModel) -> None:
    """Run one day of needs, choices, visits and payments (see the module docstring)."""
    timer = model.phase_timer
    pop, mer, cat, tally, ledger = model.population, model.merchants, model.catalogue, model.tally, model.ledger
    buf, C = model.day_buffers, cat.n
    blocked = buf.n_blocks > 1
    if blocked:
        use_threads(buf.n_blocks)
    if timer is not None:
        timer.start("needs")
    E, slots = _draw_needs(model)
    tally.needs["needs"] += slots[:C] + slots[C:]
    tally.needs["night_needs"] += slots[C:]
    tally.days += 1
    res, cats, night, served = buf.res[:E], buf.cats[:E], buf.night[:E], buf.served[:E]
    served[:] = False

    # 2. Automated outlets (lockers and vending points), when the lever provides them.
    for lever in model.levers.active():
        lever.intercept_needs(model, res, cats, night, served)

    # 3. Walking choice.
    if timer is not None:
        timer.start("choice")
    np.copyto(mer.load_yesterday, mer.load_today)  # a new day: yesterday's load sets today's crowding
    factor, factor_night = model.outlet_attraction()
    tables = model.choice_tables
    _rank_attraction(blocked, factor, factor_night, tables)
    platform = model.levers.get("platform")
    orders = platform is not None and platform.acting
    ob = model.outlet_buffers
    ob.ensure(mer.n, buf.n_blocks)
    needs = tally.needs
    _choose(model, "choice", E, served, buf.chosen)
    chosen = buf.chosen[:E]

    # 4. Online orders and deliveries, when the platform lever is on.
    delivered, any_delivered = buf.delivered[:E], False
    if orders:
        any_delivered = platform.route_orders(model, res, cats, night, served, chosen, delivered)

    # 5. Affordability, capacity and walk-in payments.
    if timer is not None:
        timer.start("spending")
    fee = platform.order_surcharge(model) if any_delivered else 0
    _want(model, E, buf.chosen, buf.served, buf.delivered, any_delivered, fee, buf.visit, ob.demand, buf.outcome)
    # Tomorrow's crowding reads the visits wanted (served or turned away), so excess demand is
    # visible. Until tomorrow the outlets keep the attraction residents saw today (month-end
    # decisions weigh rivals by it: :meth:`LifeCircleModel.outlet_attraction`).
    np.divide(ob.demand, np.maximum(mer.capacity, 1), out=mer.load_today, casting="unsafe")
    mer.wanted_month += ob.demand
    walk_paid, parcel_paid = _settle(model, "capacity", E, buf.chosen, buf.served, buf.delivered, any_delivered,
                                     mer.capacity, buf.visit, ob.demand, ob.visits, ob.walk_ins, ob.takings,
                                     buf.outcome)
    ledger.booked(RESIDENT, MERCHANT, "purchase", walk_paid)
    ledger.booked("couriers", MERCHANT, "parcel_fee", parcel_paid)
    if any_delivered:
        platform.settle_orders(model, res, cats, chosen, buf.visit[:E], delivered)
    _try_again(model, E, any_delivered)
    mer.visits_today[:] = ob.visits
    mer.visits_month += ob.visits
    mer.revenue_month += ob.takings

    # Elder care that found no place: volunteers (retirees) deliver what their hours allow.
    care, places = model.care_category, int(model.volunteer_visits_left)
    if care >= 0 and places > 0:
        waiting = kernels.count_waiting_blocks(buf.need_first, cats, served, care) if blocked \
            else kernels.count_waiting(E, cats, served, care)
    else:
        waiting = 0
    state = seed_state(model.streams["volunteer_care"]) if waiting > places else np.ones(4, dtype=np.uint64)
    if blocked and _homes_sorted(buf, pop.home):
        helped, poor_needs, poor_met = kernels.close_day_blocks(
            state, buf.need_first, res, cats, night, served, buf.outcome, pop.home, C, care, places, waiting,
            needs["met_volunteer"], needs["unmet_range"], needs["unmet_capacity"], needs["unmet_money"],
            model.unmet_this_month, needs["night_met"], model.low_income, np.zeros((buf.n_blocks, 4, C), np.int64),
            buf.deferred)
    else:
        helped = kernels.close_day(state, E, res, cats, night, served, buf.outcome, pop.home, C,
                                   care, places, waiting, needs["met_volunteer"], needs["unmet_range"],
                                   needs["unmet_capacity"], needs["unmet_money"], model.unmet_this_month,
                                   needs["night_met"])
        poor = model.low_income[res]
        poor_needs, poor_met = np.count_nonzero(poor), np.count_nonzero(poor & served)
    model.volunteer_visits_left -= helped
    tally.low_income_needs += int(poor_needs)
    tally.low_income_met += int(poor_met)
    if timer is not None:
        timer.stop()


# The passes of a day, unblocked (a population of one block, with the draws it always had) or
# blocked (each block its own generator; blocks shared among threads): kernels.*_blocks.


def _draw_needs(model: LifeCircleModel) -> tuple[int, np.ndarray]:
    """Draw the day's needs into the day buffers; (number of needs, slots drawn (2C,))."""
    buf, rates, C = model.day_buffers, model.need_rates, model.catalogue.n
    slots = np.zeros(2 * C, dtype=np.int64)
    if buf.n_blocks == 1:
        state = seed_state(model.streams["needs"])
        E = kernels.count_needs(state, model.need_group, rates.count_table, buf.counts)
        buf.grow(E + 4)
        kernels.fill_needs(state, model.need_group, buf.counts, rates.slot_table, C,
                           buf.res, buf.cats, buf.night, slots)
        buf.need_first[1] = E
        return E, slots
    states = block_states(model.streams["needs"], buf.n_blocks)
    kernels.count_needs_blocks(states, buf.first, model.need_group, rates.count_table, buf.counts, buf.block_needs)
    np.cumsum(buf.block_needs, out=buf.need_first[1:])
    E = int(buf.need_first[-1])
    buf.grow(E + 4)
    if buf.block_slots.shape[1] != 2 * C:
        buf.block_slots = np.zeros((buf.n_blocks, 2 * C), dtype=np.int64)
    kernels.fill_needs_blocks(states, buf.first, buf.need_first, model.need_group, buf.counts, rates.slot_table, C,
                              buf.res, buf.cats, buf.night, buf.block_slots)
    buf.block_slots.sum(axis=0, out=slots)
    return E, slots


def _rank_attraction(blocked: bool, factor: np.ndarray, factor_night: np.ndarray, tables: ChoiceTables) -> None:
    """Today's attraction of the outlet at each rank of the choice tables, by day and at night."""
    outlets = tables.outlet.reshape(-1)
    rank = kernels.rank_attraction_blocks if blocked else kernels.rank_attraction
    rank(factor, outlets, tables.attraction)
    rank(factor_night, outlets, tables.night_attraction)


def _choose(model: LifeCircleModel, stream: str, E: int, skip: np.ndarray, chosen: np.ndarray,
            room: np.ndarray | None = None, needs: Needs | None = None) -> None:
    """Each need's outlet by the choice rule (``skip``: needs that do not choose), drawing from
    ``stream``; with ``room`` (per outlet), the outlets without room count for nothing. ``needs``:
    today's (default) or a subset (:class:`Needs`)."""
    buf, pop, tables, C = model.day_buffers, model.population, model.choice_tables, model.catalogue.n
    needs = needs or _today(buf)
    args = (needs.res, needs.cats, needs.night, skip, pop.speed_class, pop.home, pop.knows.reshape(-1), pop.map_user,
            tables.walk.reshape(-1), tables.attraction, tables.night_attraction, tables.outlet.reshape(-1),
            len(tables.speeds), C, chosen, tuple(range(tables.width)), room)
    if buf.n_blocks == 1:
        kernels.choose_outlets(seed_state(model.streams[stream]), E, *args)
    else:
        kernels.choose_outlets_blocks(block_states(model.streams[stream], buf.n_blocks), needs.need_first, *args)


def _want(model: LifeCircleModel, E: int, chosen: np.ndarray, served: np.ndarray, delivered: np.ndarray,
          any_delivered: bool, fee: int, visit: np.ndarray, demand: np.ndarray, outcome: np.ndarray,
          needs: Needs | None = None) -> None:
    """The visits wanted and affordable (:func:`kernels.want_visits`)."""
    buf, mer, cash = model.day_buffers, model.merchants, model.ledger.resident_cash
    needs = needs or _today(buf)
    if buf.n_blocks == 1:
        kernels.want_visits(E, needs.res, chosen, served, delivered, any_delivered, fee, mer.price, cash, visit,
                            demand, outcome)
    else:
        kernels.want_visits_blocks(needs.need_first, needs.res, chosen, served, delivered, any_delivered, fee,
                                   mer.price, cash, visit, demand, outcome, model.outlet_buffers.block_visits)


def _settle(model: LifeCircleModel, stream: str, E: int, chosen: np.ndarray, served: np.ndarray,
            delivered: np.ndarray, any_delivered: bool, capacity: np.ndarray, visit: np.ndarray, demand: np.ndarray,
            visits: np.ndarray, walk_ins: np.ndarray, takings: np.ndarray, outcome: np.ndarray,
            needs: Needs | None = None) -> tuple[int, int]:
    """Capacity and walk-in payments (:func:`kernels.settle_visits`), drawing from ``stream``."""
    buf, mer, ledger, cat = model.day_buffers, model.merchants, model.ledger, model.catalogue
    needs = needs or _today(buf)
    parcel_fee = int(cat.money["parcel_fee"]) if model.parcel_category >= 0 else 0
    if buf.n_blocks == 1:
        return kernels.settle_visits(
            seed_state(model.streams[stream]), E, needs.res, chosen, served, delivered, any_delivered,
            mer.price, mer.category, capacity, ledger.resident_cash, ledger.merchant_cash,
            model.parcel_category, parcel_fee, visit, demand, visits, walk_ins, takings,
            model.tally.needs["met_walk"], outcome)
    ob = model.outlet_buffers
    return kernels.settle_visits_blocks(
        block_states(model.streams[stream], buf.n_blocks), needs.need_first, needs.res, chosen, served, delivered,
        any_delivered, mer.price, mer.category, capacity, ledger.resident_cash, ledger.merchant_cash,
        model.parcel_category, parcel_fee, visit, demand, visits, walk_ins, takings, model.tally.needs["met_walk"],
        outcome, buf.deferred, buf.deferred_draw, buf.by_outlet, buf.by_outlet_draw, ob.block_visits, ob.block_walk_ins,
        buf.block_deferred)


def learn_bits(model: LifeCircleModel, mask_table: np.ndarray) -> None:
    """Word of mouth (:func:`kernels.learn_bits`) over every resident's knowledge, drawing from the
    ``knowledge`` stream, block by block when the population spans several blocks."""
    buf, knows = model.day_buffers, model.population.knows
    if buf.n_blocks == 1:
        kernels.learn_bits(seed_state(model.streams["knowledge"]), knows.reshape(-1), mask_table)
    else:
        use_threads(buf.n_blocks)
        kernels.learn_bits_blocks(block_states(model.streams["knowledge"], buf.n_blocks), buf.first, knows.shape[1],
                                  knows.reshape(-1), mask_table)


def _homes_sorted(buf: DayBuffers, home: np.ndarray) -> bool:
    """Whether residents are in home-node order (as the population is built; homes never change), so
    that the blocked counts may split the needs at changes of node (checked once)."""
    if buf.homes_sorted is None:
        buf.homes_sorted = bool(np.all(home[1:] >= home[:-1]))
    return buf.homes_sorted


def _try_again(model: LifeCircleModel, E: int, any_delivered: bool) -> None:
    """Walk-ins turned away at a full outlet try once more: by the same choice rule, among the
    outlets they know in reach that still have room today (a sold-out cart or a full clinic sends
    people to the next shop, not home); one who knows none with room searches and learns the best
    in reach that has room, as a first try does when it knows none in reach. What they find is settled like any visit; those who find
    nothing stay turned away. Orders turned away are not tried again.

    The needs that try again (a few thousand of 1,600,000 on the 1,000,000-resident grid) are
    gathered, in need order and block by block, and the second try's passes read only them: each
    block's generator draws for the same needs in the same order as a pass over all of today's needs
    that skips the others, so the answers are the same to the bit."""
    buf, ob, mer = model.day_buffers, model.outlet_buffers, model.merchants
    served, skip = buf.served[:E], buf.skip[:E]
    if buf.n_blocks > 1:
        per_block = kernels.mark_retry_blocks(buf.need_first, buf.outcome, buf.delivered, any_delivered, buf.skip,
                                              buf.again)
        need_first = np.zeros(buf.n_blocks + 1, dtype=np.int64)
        np.cumsum(per_block, out=need_first[1:])
        retrying = int(need_first[-1])
        starts = buf.need_first[:-1].tolist()
        again = np.concatenate([buf.again[lo:lo + n] for lo, n in zip(starts, per_block.tolist())])
    else:
        np.not_equal(buf.outcome[:E], kernels.TURNED_AWAY, out=skip)
        if any_delivered:
            skip |= buf.delivered[:E]
        again = np.flatnonzero(~skip)
        retrying = len(again)
        need_first = np.array([0, retrying], dtype=np.int64)
    buf.visit2[:E] = False  # the views read it for every need (True: found a place on the second try)
    if retrying == 0:
        return
    needs = Needs(buf.res[again], buf.cats[again], buf.night[again], need_first)
    none = np.zeros(retrying, dtype=np.bool_)  # none of them is served (or skipped) yet
    kept = np.zeros(retrying, dtype=np.bool_)  # the settlement marks the visits it keeps (visit says so too)
    chosen = np.empty(retrying, dtype=np.int32)
    visit = np.empty(retrying, dtype=np.bool_)
    outcome = np.empty(retrying, dtype=np.uint8)
    # Today's tables, the outlets that are full weighed at 0: a retrying need looks up its ranks'
    # outlets (few needs retry; rewriting the tables' every slot cost 10 ms a day on Porto's network).
    _choose(model, "choice.retry", retrying, none, chosen, ob.visits < mer.capacity, needs=needs)
    # No orders on a second try: with any_delivered False the kernels do not read ``delivered``.
    _want(model, retrying, chosen, none, buf.delivered, False, 0, visit, ob.demand2, outcome, needs=needs)
    left = np.maximum(mer.capacity - ob.visits, 0).astype(mer.capacity.dtype)
    walk_paid, parcel_paid = _settle(model, "capacity.retry", retrying, chosen, kept, buf.delivered, False,
                                     left, visit, ob.demand2, ob.visits2, ob.walk_ins2, ob.takings2, outcome,
                                     needs=needs)
    model.ledger.booked(RESIDENT, MERCHANT, "purchase", walk_paid)
    model.ledger.booked("couriers", MERCHANT, "parcel_fee", parcel_paid)
    buf.chosen2[again], buf.visit2[again] = chosen, visit
    # Those still without a place keep their reason: turned away (or, now, unable to pay).
    found = again[visit]
    served[found] = True
    buf.outcome[found] = kernels.NO_REASON
    buf.outcome[again[outcome == kernels.CANNOT_PAY]] = kernels.CANNOT_PAY
    ob.visits += ob.visits2
    ob.walk_ins += ob.walk_ins2
    ob.takings += ob.takings2
