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

from sim import kernels
from sim.ledger import MERCHANT, RESIDENT

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


class ChoiceWeights:
    """Walk-time part of the choice weights per speed class: exp(-b * minutes), 0 beyond the limit.

    Attributes:
        table: (speed classes, C, n_nodes, k) float32; ``table[s, c, v, r]`` is the walk weight of
            the r-th nearest outlet of category c from node v at speed class s. The k ranks of a
            row are contiguous: the daily choice reads a whole row at once.
    """

    def __init__(self, speeds_m_per_min: np.ndarray, n_categories: int, n_nodes: int, k: int) -> None:
        self.speeds = np.asarray(speeds_m_per_min, dtype=np.float64)
        self.C, self.n, self.k = n_categories, n_nodes, k
        self.table = np.zeros((len(self.speeds), n_categories, n_nodes, k), dtype=np.float32)

    def update(self, categories: np.ndarray, dist_m: np.ndarray, minute_weight: float, max_minutes: float) -> None:
        """Recompute the rows of ``categories`` from the reach table's distances (C, n, k)."""
        for cat in np.atleast_1d(categories):
            for s, speed in enumerate(self.speeds):
                minutes = dist_m[cat] / speed                                   # (n, k)
                self.table[s, cat] = np.where(minutes <= max_minutes, np.exp(-minute_weight * minutes), 0.0)


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
            residents.append(members[_sorted_uniform_indices(per_cat, len(members), rng)])
            categories.append(np.repeat(arange_c, per_cat))
            nights.append(np.full(total, bool(is_night)))
    if not residents:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.astype(bool), np.zeros(cat.n, dtype=np.int64)
    per_cat = sum(counts[2 * g] + counts[2 * g + 1] for g, (m, _) in enumerate(groups) if len(m))
    return (np.concatenate(residents), np.concatenate(categories), np.concatenate(nights),
            np.asarray(per_cat, dtype=np.int64))


def _sorted_uniform_indices(sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """For each block b, ``sizes[b]`` indices drawn uniformly with replacement from ``range(n)``,
    sorted within the block (blocks concatenated).

    Sorted uniforms are drawn directly as normalised sums of exponential spacings (the order
    statistics of uniforms), so the needs come out in resident order -- the same distribution as
    unsorted draws, read far more cache-friendly by the choice loop.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    spacings = rng.standard_exponential(int(sizes.sum()) + len(sizes))
    return kernels.sorted_uniform_indices(spacings, sizes, n)


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

    # 3. Walking choice.
    if timer is not None:
        timer.start("choice")
    n_nodes, K, C = model.reach.outlet.shape[1], model.reach.k, cat.n
    node = pop.home[res]
    outlets = model.reach.outlet.reshape(-1, K)                                  # (C*n, K)
    factor, factor_night = model.outlet_attraction()
    walk = model.choice_weights.table.reshape(-1, C * n_nodes, K)                # (S, C*n, K)
    # Today's weight of each (class, cat, node) row and rank: walk weight x outlet attraction.
    day_w = (walk * factor[outlets][None]).reshape(-1, K)                        # (S*C*n, K)
    night_idx = np.flatnonzero(night)
    has_night = len(night_idx) > 0
    u = model.streams["choice"].random(E, dtype=np.float32)
    chosen, reachable, searched = kernels.choose_outlets(
        res, cats, night, served, model.choice_rows, pop.knows.reshape(-1),
        pop.map_user, day_w, walk.reshape(-1, K), factor_night, outlets, u, n_nodes, C,
    )

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
    if delivered is None:
        delivered = np.zeros(E, dtype=bool)
    fee = platform.order_surcharge(model) if any_delivered else 0
    price, want, broke, demand = kernels.screen_visits(
        res, chosen, served, delivered, mer.price, fee, ledger.resident_cash, mer.n)
    tally.add("unmet_money", cats[broke])
    full = _turned_away(chosen, want, demand, mer.capacity, model.streams["capacity"])
    visit, walk, visits, takings, walked, turned_away = kernels.book_visits(
        chosen, cats, want, full, delivered, price, mer.n, cat.n)
    tally.needs["unmet_capacity"] += turned_away
    tally.needs["met_walk"] += walked

    # 6. Payments and bookkeeping.
    w_idx = np.flatnonzero(walk)
    if len(w_idx):
        ledger.transfer((RESIDENT, res[w_idx]), (MERCHANT, chosen[w_idx]), price[w_idx], "purchase")
    if any_delivered:
        order = visit & delivered
        if order.any():
            platform.settle_orders(model, res[order], chosen[order], price[order], cats[order])
        tally.add("met_delivery", cats[order])
    parcel_fee = model.catalogue.money["parcel_fee"]
    if model.parcel_category >= 0 and parcel_fee > 0:
        parcels = chosen[visit & (cats == model.parcel_category)]
        if len(parcels):
            ledger.transfer("couriers", (MERCHANT, parcels), parcel_fee, "parcel_fee")
            takings += np.bincount(parcels, minlength=mer.n) * parcel_fee
    mer.visits_today[:] = visits
    mer.visits_month += visits
    mer.revenue_month += takings
    with np.errstate(divide="ignore", invalid="ignore"):
        mer.load_yesterday[:] = np.where(mer.capacity > 0, visits / np.maximum(mer.capacity, 1), 0)
    served |= visit

    # Elder care that found no place: volunteers (retirees) deliver what their hours allow.
    if model.volunteer_visits_left > 0 and model.care_category >= 0:
        waiting = np.flatnonzero(~served & (cats == model.care_category))
        take = waiting
        if len(waiting) > int(model.volunteer_visits_left):  # volunteers go to a random subset
            take = model.streams["volunteer_care"].choice(waiting, int(model.volunteer_visits_left), replace=False)
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


def _turned_away(chosen: np.ndarray, want: np.ndarray, demand: np.ndarray, capacity: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Mask of visits turned away because their outlet is full: a uniformly random excess, exactly
    ``demand - capacity`` of them per full outlet (one uniform draw per visit to a full outlet)."""
    over = demand > capacity
    if not over.any():
        return np.zeros(len(chosen), dtype=bool)
    draws = rng.random(int(demand[over].sum()))
    return kernels.turn_away(chosen, want, demand, capacity, draws)
