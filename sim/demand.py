"""Daily needs, outlet choice, capacity and spending, over the whole population at once.

Mechanism (one simulated day):

1. **Needs.** Each resident's needs of category *c* arrive as a Poisson process with rate
   ``visits_per_day[c]`` (times ``elderly_factor[c]`` for the elderly), split into day and night
   needs by ``night_share[c]``. Drawing the number of needs per group and then the residents
   uniformly with replacement gives exactly independent Poisson counts per resident.
2. **Automated outlets** (lockers lever): a parcel (or a small purchase) within reach of a locker
   (vending point) is met there without a shop trip.
3. **Choice.** A resident weighs the ``k`` nearest outlets of the category that lie within
   ``max_walk_minutes`` at *their own* walk speed and that they *know of*, with multinomial-logit
   weights ``exp(-walk_minute_weight * minutes - price_weight * (price/typical - 1)
   - crowding_weight * yesterday's load)``. A resident who knows none of the reachable outlets
   searches and finds the best one (and knows it from then on). Night needs consider only outlets
   open at night.
4. **Online orders** (platform lever): a share of needs is ordered online, and needs with no
   outlet in walking range are ordered from the nearest outlet within the delivery radius; a
   freelancer delivers.
5. **Capacity.** An outlet serves at most ``capacity`` visits a day; the excess, chosen at random,
   is turned away and counted as unmet (not dropped).
6. **Spending.** Every visit is paid through the ledger: resident to merchant (and to the platform
   and the courier for orders; couriers pay parcel points per parcel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.ledger import MERCHANT, RESIDENT

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


class ChoiceWeights:
    """Walk-time part of the choice weights per speed class: exp(-b * minutes), 0 beyond the limit.

    Attributes:
        table: (k, speed classes, C, n_nodes) float32; ``table[r, s, c, v]`` is the walk weight of
            the r-th nearest outlet of category c from node v at speed class s. Rank-major so that
            the daily choice gathers one contiguous rank column at a time.
        version: Bumped on every update (the daily choice caches tables derived from this one).
    """

    def __init__(self, speeds_m_per_min: np.ndarray, n_categories: int, n_nodes: int, k: int) -> None:
        self.speeds = np.asarray(speeds_m_per_min, dtype=np.float64)
        self.C, self.n, self.k = n_categories, n_nodes, k
        self.table = np.zeros((k, len(self.speeds), n_categories, n_nodes), dtype=np.float32)
        self.version = 0

    def update(self, categories: np.ndarray, dist_m: np.ndarray, minute_weight: float, max_minutes: float) -> None:
        """Recompute the rows of ``categories`` from the reach table's distances (C, n, k)."""
        for cat in np.atleast_1d(categories):
            for s, speed in enumerate(self.speeds):
                minutes = dist_m[cat] / speed                                   # (n, k)
                self.table[:, s, cat] = np.where(minutes <= max_minutes, np.exp(-minute_weight * minutes), 0.0).T
        self.version += 1


class DayTables:
    """Per-day lookup tables of the choice, one entry per (speed class, category, node) row.

    The only per-resident part of a choice is the knowledge bitmask, so the walk weight times the
    outlet's attraction is computed once a day per row (rows: S * C * n, far fewer than needs at
    realistic densities) and each need gathers its row: no (needs x k) float64 temporaries.
    """

    def __init__(self) -> None:
        self.key: tuple[int, int, int] | None = None
        self.outlet_t: np.ndarray | None = None   # (k, C * n) intp outlet ids, rank-major
        self.rows_key: tuple[int, int, int] | None = None
        self.rows: np.ndarray | None = None

    def outlets(self, model: LifeCircleModel) -> np.ndarray:
        """The reach table's outlet ids, rank-major (k, C * n), rebuilt only when the reach changes."""
        key = (id(model.reach), model.reach.version, model.reach.outlet.shape[1])
        if key != self.key:
            K = model.reach.k
            self.outlet_t = np.ascontiguousarray(model.reach.outlet.reshape(-1, K).T).astype(np.intp)
            self.key = key
        return self.outlet_t

    def resident_rows(self, model: LifeCircleModel) -> np.ndarray:
        """Each resident's row offset ``speed_class * C * n + home`` (homes and speed classes are
        fixed for a run; recomputed if the population arrays are replaced)."""
        pop = model.population
        key = (id(pop.home), id(pop.speed_class), model.reach.outlet.shape[1])
        if key != self.rows_key:
            CN = model.reach.outlet.shape[0] * model.reach.outlet.shape[1]
            self.rows = pop.speed_class.astype(np.intp) * CN + pop.home
            self.rows_key = key
        return self.rows


def sample_needs(model: LifeCircleModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw today's needs: (resident ids, category ids, night flags)."""
    res, cats, night, _ = _draw_needs(model, rng)
    return res, cats, night


def _draw_needs(model: LifeCircleModel, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Today's needs (resident ids, category ids, night flags) and the count per category.

    Needs come out grouped (by resident group, day/night, category); residents are drawn
    uniformly with replacement within each group, which gives independent Poisson counts.
    """
    cat = model.catalogue
    groups = model.need_groups  # [(resident ids, per-category rate multiplier)]
    night = cat.night_share
    lam = []
    for members, factor in groups:
        rate = cat.visits_per_day * factor * len(members)
        lam.append(rate * (1 - night))
        lam.append(rate * night)
    counts = rng.poisson(np.array(lam))  # (2 * groups, C)
    residents, categories, nights = [], [], []
    arange_c = np.arange(cat.n, dtype=np.intp)
    for g, (members, _) in enumerate(groups):
        for is_night in (0, 1):
            per_cat = counts[2 * g + is_night]
            total = int(per_cat.sum())
            if total == 0 or len(members) == 0:
                continue
            residents.append(members[rng.integers(len(members), size=total)])
            categories.append(np.repeat(arange_c, per_cat))
            nights.append(np.full(total, bool(is_night)))
    if not residents:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.astype(bool), np.zeros(cat.n, dtype=np.int64)
    per_cat = sum(counts[2 * g] + counts[2 * g + 1] for g, (m, _) in enumerate(groups) if len(m))
    return (np.concatenate(residents), np.concatenate(categories), np.concatenate(nights),
            np.asarray(per_cat, dtype=np.int64))


def serve_day(model: LifeCircleModel) -> None:
    """Run one day of needs, choices, visits and payments (see the module docstring)."""
    timer = model.phase_timer
    pop, mer, cat, tally, ledger = model.population, model.merchants, model.catalogue, model.tally, model.ledger
    if timer is not None:
        timer.start("needs")
    res, cats, night, per_cat = _draw_needs(model, model.streams["needs"])
    tally.days += 1
    tally.needs["needs"] += per_cat
    tally.add("night_needs", cats[night])
    E = len(res)
    served = np.zeros(E, dtype=bool)  # met one way or another

    # 2. Automated outlets (lockers and vending points), when the lever provides them.
    for lever in model.levers.active():
        lever.intercept_needs(model, res, cats, night, served)
    any_served = bool(served.any())

    # 3. Walking choice.
    if timer is not None:
        timer.start("choice")
    n_nodes, K, C = model.reach.outlet.shape[1], model.reach.k, cat.n
    CN = C * n_nodes
    # Index arrays are intp throughout: NumPy converts any other index dtype on every gather.
    cat_off = cats * n_nodes
    node = pop.home[res]
    ocol = cat_off + node                                                        # (E,) row of (cat, node)
    wrow = model.choice_tables.resident_rows(model)[res] + cat_off               # (E,) row of (class, cat, node)
    outlet_t = model.choice_tables.outlets(model)                                 # (K, C*n)
    factor, factor_night = model.outlet_attraction()
    walk_t = model.choice_weights.table.reshape(K, -1, CN)                       # (K, S, C*n)
    # Today's weight of each (class, cat, node) row and rank: walk weight x outlet attraction.
    day_w = (walk_t * factor[outlet_t][:, None, :]).reshape(K, -1)               # (K, S*C*n)
    night_idx = np.flatnonzero(night)
    has_night = len(night_idx) > 0
    if has_night:  # the few night needs: their own weights, from outlets open at night
        n_wrow, n_ocol = wrow[night_idx], ocol[night_idx]
        walk_flat = walk_t.reshape(K, -1)
    bits = pop.knows.reshape(-1)[res * C + cats]                                 # (E,) uint8
    if pop.map_user.any():
        bits[pop.map_user[res]] = np.uint8(0xFF)
    weight = np.empty((K, E), dtype=np.float32)                                  # rank-major: rows contiguous
    for r in range(K):
        np.take(day_w[r], wrow, out=weight[r])
        if has_night:
            weight[r, night_idx] = walk_flat[r, n_wrow] * factor_night[outlet_t[r, n_ocol]]
    if any_served:
        weight[:, served] = 0.0
    total_all = weight.sum(axis=0)
    reachable = total_all > 0
    # Cumulative weight over the known outlets, rank by rank (the inverse-CDF draw below).
    cum = np.empty((K, E), dtype=np.float32)
    known_r = np.empty(E, dtype=np.float32)
    for r in range(K):
        np.bitwise_and(bits, np.uint8(1 << r), out=known_r, casting="unsafe")   # 0 or 2**r
        np.multiply(weight[r], known_r, out=cum[r])
        cum[r] *= np.float32(1.0 / (1 << r))
        if r:
            cum[r] += cum[r - 1]
    total_known = cum[K - 1]
    searched = reachable & (total_known <= 0)
    u = model.streams["choice"].random(E, dtype=np.float32)
    u *= total_known
    pick = np.zeros(E, dtype=np.intp)
    for r in range(K - 1):  # pick = number of ranks whose cumulative weight is below u (< K)
        pick += cum[r] < u
    s_idx = np.flatnonzero(searched)
    if len(s_idx):
        pick[s_idx] = np.argmax(weight[:, s_idx], axis=0)
    pick *= CN
    pick += ocol
    chosen = outlet_t.reshape(-1)[pick].astype(np.intp)
    pick -= ocol
    pick //= CN
    chosen[~reachable] = -1
    if len(s_idx):  # a resident who searched now knows the outlet
        s_res, s_cat = res[s_idx], cats[s_idx]
        pop.knows[s_res, s_cat] |= (np.uint8(1) << pick[s_idx].astype(np.uint8))

    # 4. Online orders and deliveries, when the platform lever is on.
    platform = model.levers.get("platform")
    if platform is not None and platform.acting:
        chosen, delivered = platform.route_orders(model, res, cats, night, served, chosen)
        any_delivered = bool(delivered.any())
    else:
        delivered, any_delivered = None, False

    # 5. Capacity and affordability.
    if timer is not None:
        timer.start("spending")
    want = chosen >= 0
    if any_served:
        want &= ~served
    price = mer.price[chosen] if mer.n else np.zeros(E, dtype=np.int64)  # -1 reads the last; masked below
    price[~want] = 0
    extra = platform.order_surcharge(model, price, delivered) if any_delivered else 0
    broke = want & (price + extra > ledger.resident_cash[res])
    if broke.any():
        tally.add("unmet_money", cats[broke])
        want &= ~broke
    full = _over_capacity(chosen, want, mer.capacity, model.streams["capacity"])
    if full is not None:
        tally.add("unmet_capacity", cats[full])
        visit = want & ~full
    else:
        visit = want

    # 6. Payments and bookkeeping.
    if any_delivered:
        walk = visit & ~delivered
        order = visit & delivered
    else:
        walk, order = visit, None
    w_idx = np.flatnonzero(walk)
    w_out, w_price = chosen[w_idx], price[w_idx]
    if len(w_idx):
        ledger.transfer((RESIDENT, res[w_idx]), (MERCHANT, w_out), w_price, "purchase")
    if order is not None and order.any():
        platform.settle_orders(model, res[order], chosen[order], price[order], cats[order])
    parcel_fee = model.catalogue.money["parcel_fee"]
    parcels = (visit & (cats == model.parcel_category)) if model.parcel_category >= 0 else None
    if parcels is not None and parcel_fee > 0 and parcels.any():
        ledger.transfer("couriers", (MERCHANT, chosen[parcels]), parcel_fee, "parcel_fee")
    visit_outlets = chosen[visit] if order is not None else w_out
    visits = np.bincount(visit_outlets, minlength=mer.n)
    mer.visits_today[:] = visits
    mer.visits_month += visits
    mer.revenue_month += np.bincount(w_out, weights=w_price, minlength=mer.n).astype(np.int64)
    if parcels is not None and parcels.any():
        mer.revenue_month += np.bincount(chosen[parcels], minlength=mer.n) * parcel_fee
    with np.errstate(divide="ignore", invalid="ignore"):
        mer.load_yesterday[:] = np.where(mer.capacity > 0, visits / np.maximum(mer.capacity, 1), 0)
    tally.add("met_walk", cats[w_idx])
    if order is not None:
        tally.add("met_delivery", cats[order])
    served |= visit

    # Elder care that found no place: volunteers (retirees) deliver what their hours allow.
    if model.volunteer_visits_left > 0 and model.care_category >= 0:
        waiting = np.flatnonzero(~served & (cats == model.care_category))
        take = waiting[: int(model.volunteer_visits_left)]
        served[take] = True
        model.volunteer_visits_left -= len(take)
        tally.add("met_volunteer", cats[take])

    unmet = ~served
    unmet_range = unmet & ~reachable & (chosen < 0)
    tally.add("unmet_range", cats[unmet_range])
    u_idx = np.flatnonzero(unmet)
    model.record_unmet(node[u_idx], cats[u_idx])
    if has_night:
        tally.add("night_met", cats[night_idx[served[night_idx]]])
    if timer is not None:
        timer.stop()


def _over_capacity(chosen: np.ndarray, want: np.ndarray, capacity: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray | None:
    """Mask of visits turned away because their outlet is full (the excess, at random); None if none is.

    The visits to each full outlet are put in a uniformly random order (one permutation, then a
    stable counting sort by outlet) and those beyond its capacity are turned away.
    """
    demand = np.bincount(chosen[want], minlength=len(capacity))
    over = demand > capacity
    if not over.any():
        return None
    at_full = np.flatnonzero(want & over[chosen])          # want excludes chosen == -1
    at_full = at_full[rng.permutation(len(at_full))]
    over_ids = np.flatnonzero(over)
    compact = (np.cumsum(over) - 1)[chosen[at_full]]      # 0 .. (full outlets - 1)
    if len(over_ids) < np.iinfo(np.int16).max:
        compact = compact.astype(np.int16)                 # stable sort of int16 is a radix sort
    order = np.argsort(compact, kind="stable")
    ranked = at_full[order]
    group = compact[order]
    counts = demand[over_ids]
    start = np.cumsum(counts) - counts
    rank = np.arange(len(ranked)) - start[group]
    full = np.zeros(len(chosen), dtype=bool)
    full[ranked[rank >= capacity[over_ids][group]]] = True
    return full
