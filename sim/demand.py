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
        table: (speed classes * C * n_nodes, k) float32 rows, row = (class * C + cat) * n + node.
    """

    def __init__(self, speeds_m_per_min: np.ndarray, n_categories: int, n_nodes: int, k: int) -> None:
        self.speeds = np.asarray(speeds_m_per_min, dtype=np.float64)
        self.C, self.n, self.k = n_categories, n_nodes, k
        self.table = np.zeros((len(self.speeds) * n_categories * n_nodes, k), dtype=np.float32)

    def update(self, categories: np.ndarray, dist_m: np.ndarray, minute_weight: float, max_minutes: float) -> None:
        """Recompute the rows of ``categories`` from the reach table's distances (C, n, k)."""
        view = self.table.reshape(len(self.speeds), self.C, self.n, self.k)
        for cat in np.atleast_1d(categories):
            for s, speed in enumerate(self.speeds):
                minutes = dist_m[cat] / speed
                view[s, cat] = np.where(minutes <= max_minutes, np.exp(-minute_weight * minutes), 0.0)


def sample_needs(model: LifeCircleModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw today's needs: (resident ids, category ids, night flags)."""
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
    for g, (members, _) in enumerate(groups):
        for is_night in (0, 1):
            per_cat = counts[2 * g + is_night]
            total = int(per_cat.sum())
            if total == 0 or len(members) == 0:
                continue
            residents.append(members[rng.integers(len(members), size=total)])
            categories.append(np.repeat(np.arange(cat.n, dtype=np.int32), per_cat))
            nights.append(np.full(total, bool(is_night)))
    if not residents:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.astype(np.int32), empty.astype(bool)
    return np.concatenate(residents), np.concatenate(categories), np.concatenate(nights)


def serve_day(model: LifeCircleModel) -> None:
    """Run one day of needs, choices, visits and payments (see the module docstring)."""
    pop, mer, cat, tally, ledger = model.population, model.merchants, model.catalogue, model.tally, model.ledger
    econ = model.scenario.economy
    res, cats, night = sample_needs(model, model.streams["needs"])
    tally.days += 1
    tally.add("needs", cats)
    tally.add("night_needs", cats[night])
    E = len(res)
    served = np.zeros(E, dtype=bool)  # met one way or another

    # 2. Automated outlets (lockers and vending points), when the lever provides them.
    for lever in model.levers.active():
        lever.intercept_needs(model, res, cats, night, served)

    # 3. Walking choice.
    n_nodes, K = model.reach.outlet.shape[1], model.reach.k
    node = pop.home[res].astype(np.int64)
    orow = cats.astype(np.int64) * n_nodes + node
    outlets = model.reach.outlet.reshape(-1, K)[orow]                              # (E, K)
    wrow = (pop.speed_class[res].astype(np.int64) * cat.n + cats) * n_nodes + node
    weight = model.choice_weights.table[wrow]                                    # (E, K)
    factor, factor_night = model.outlet_attraction()
    weight *= np.where(night[:, None], factor_night[outlets], factor[outlets])
    weight[served] = 0.0
    reachable = weight.max(axis=1) > 0
    bits = np.where(pop.map_user[res], np.uint8(0xFF), pop.knows[res, cats])
    known = ((bits[:, None] >> np.arange(K, dtype=np.uint8)) & 1).astype(np.float32)
    known_weight = weight * known
    total_known = known_weight.sum(axis=1)
    searched = reachable & (total_known <= 0)
    u = model.streams["choice"].random(E).astype(np.float32) * total_known
    pick = (np.cumsum(known_weight, axis=1) < u[:, None]).sum(axis=1)
    pick = np.minimum(pick, K - 1)
    pick[searched] = np.argmax(weight[searched], axis=1)
    chosen = np.where(reachable, outlets[np.arange(E), pick], -1)
    if searched.any():  # a resident who searched now knows the outlet
        s_res, s_cat = res[searched], cats[searched]
        pop.knows[s_res, s_cat] |= (np.uint8(1) << pick[searched].astype(np.uint8))

    # 4. Online orders and deliveries, when the platform lever is on.
    delivered = np.zeros(E, dtype=bool)
    platform = model.levers.get("platform")
    if platform is not None and platform.acting:
        chosen, delivered = platform.route_orders(model, res, cats, night, served, chosen)

    # 5. Capacity and affordability.
    want = (chosen >= 0) & ~served
    price = np.where(want, mer.price[np.maximum(chosen, 0)], 0)
    extra = platform.order_surcharge(model, price, delivered) if delivered.any() else 0
    broke = want & (price + extra > ledger.resident_cash[res])
    tally.add("unmet_money", cats[broke])
    want &= ~broke
    full = _over_capacity(chosen, want, mer.capacity, model.streams["capacity"])
    tally.add("unmet_capacity", cats[full])
    visit = want & ~full

    # 6. Payments and bookkeeping.
    walk = visit & ~delivered
    order = visit & delivered
    if walk.any():
        ledger.transfer((RESIDENT, res[walk]), (MERCHANT, chosen[walk]), price[walk], "purchase")
    if order.any():
        platform.settle_orders(model, res[order], chosen[order], price[order], cats[order])
    parcels = visit & (cats == model.parcel_category)
    if parcels.any() and model.catalogue.money["parcel_fee"] > 0:
        ledger.transfer("couriers", (MERCHANT, chosen[parcels]), model.catalogue.money["parcel_fee"], "parcel_fee")
    visits = np.bincount(chosen[visit], minlength=mer.n)
    mer.visits_today[:] = visits
    mer.visits_month += visits
    mer.revenue_month += np.bincount(chosen[walk], weights=price[walk], minlength=mer.n).astype(np.int64)
    if model.parcel_category >= 0 and parcels.any():
        mer.revenue_month += np.bincount(
            chosen[parcels], minlength=mer.n
        ) * model.catalogue.money["parcel_fee"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mer.load_yesterday[:] = np.where(mer.capacity > 0, visits / np.maximum(mer.capacity, 1), 0)
    tally.add("met_walk", cats[walk])
    tally.add("met_delivery", cats[order])
    served |= visit

    # Elder care that found no place: volunteers (retirees) deliver what their hours allow.
    if model.volunteer_visits_left > 0 and model.care_category >= 0:
        waiting = np.flatnonzero(~served & (cats == model.care_category))
        take = waiting[: int(model.volunteer_visits_left)]
        served[take] = True
        model.volunteer_visits_left -= len(take)
        tally.add("met_volunteer", cats[take])

    unmet_range = ~served & ~reachable & (chosen < 0)
    tally.add("unmet_range", cats[unmet_range])
    unmet = ~served
    model.record_unmet(node[unmet], cats[unmet])
    tally.add("night_met", cats[served & night])


def _over_capacity(chosen: np.ndarray, want: np.ndarray, capacity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mask of visits turned away because their outlet is full (the excess, at random)."""
    full = np.zeros(len(chosen), dtype=bool)
    idx = np.flatnonzero(want)
    demand = np.bincount(chosen[idx], minlength=len(capacity))
    over = demand > capacity
    if not over.any():
        return full
    at_full = idx[over[chosen[idx]]]
    keys = rng.random(len(at_full))
    order = np.lexsort((keys, chosen[at_full]))
    ranked = at_full[order]
    outlet = chosen[ranked]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = outlet[1:] != outlet[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(ranked)), 0))
    rank = np.arange(len(ranked)) - start
    full[ranked[rank >= capacity[outlet]]] = True
    return full
