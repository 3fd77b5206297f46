"""Urban renewal and old-community renovation adding commercial space.

In each month listed in ``months`` (while the lever acts) renovation hands over
``sites_per_round`` sites of public shop space in old blocks, at the inhabited old-block nodes
without shop space (neither the map's nor the city budget's) whose residents have the fewest
basic-guarantee categories within 15 minutes. Each site is put to
public tender: of the basic categories missing there (not yet tendered in the same round), the
entrant with the best expected margin at the discounted rent applies for a licence, if it passes
the entry test. The outlet of the trade tendered on a site (and a successor of that trade, should it
close) pays ``1 - rent_discount x strength`` of the rent (the lever's strength: 0.7 without the governance
lever, ``economy.lever_implementation``); the public budget pays the rest while the lever acts,
from the month the outlet opens (the discount its tender assumed; rent is a whole month's, whatever
the day it opens). Other outlets that open on the new space (it is shop space like any other) pay
the full rent: the support is the tender's, not the site's.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class Renovation(Lever):
    name = "renovation"
    measure = "align with urban renewal and old-community renovation"
    mechanism = "renovation adds discounted shop space in the worst-served old blocks at set dates"
    indicator = "outlets open on the new space; coverage in old blocks only where a service pays at the discounted rent"
    claims = (("merchants_open", +1, "after support"),)

    def setup(self) -> None:
        self.renovated = np.zeros(self.model.city.graph.shape[0], dtype=bool)
        self.tendered = np.full(self.model.city.graph.shape[0], -1, dtype=np.int64)  # trade let at each site
        self.done: set[int] = set()

    def _supported(self, ids: np.ndarray) -> np.ndarray:
        """Which of merchants ``ids`` trade what their renovated site was tendered for (fixed outlets)."""
        mer = self.model.merchants
        return (self.tendered[mer.node[ids]] == mer.category[ids]) & ~mer.mobile[ids]

    def on_month(self) -> None:
        model, mer = self.model, self.model.merchants
        every = np.arange(mer.n)
        on_space = mer.open & self._supported(every)
        full_rent = self._full_rent(every)
        mer.rent_support[:] = np.where(on_space, self._support(full_rent), 0)
        mer.rent[:] = np.where(on_space, full_rent - mer.rent_support, mer.rent)
        mer.renovated[:] = on_space
        if not self.acting or model.month not in self.config.months or model.month in self.done:
            return
        self.done.add(model.month)
        self._hand_over(model)

    def on_outlets_opened(self, ids: np.ndarray) -> None:
        """An outlet of the tendered trade opening on its renovated site while the lever acts pays the
        discounted rent from its first month end, the public budget the rest (:meth:`on_month` sets it
        for the months after)."""
        if not self.acting:
            return
        mer = self.model.merchants
        ids = ids[self._supported(ids)]
        full_rent = self._full_rent(ids)
        mer.rent_support[ids] = self._support(full_rent)
        mer.rent[ids] = full_rent - mer.rent_support[ids]
        mer.renovated[ids] = True

    def _full_rent(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids),) the monthly rent, fen, of merchants ``ids`` without the discount."""
        model, mer = self.model, self.model.merchants
        return np.round(model.catalogue.area_m2[np.maximum(mer.category[ids], 0)] * model.rent_fen_per_m2()).astype(np.int64)

    def _support(self, full_rent: np.ndarray) -> np.ndarray:
        """The public budget's share of ``full_rent`` this month (none once the lever stops acting)."""
        if not self.acting:
            return np.zeros(len(full_rent), dtype=np.int64)
        return np.round(full_rent * self.config.rent_discount * self.strength_now).astype(np.int64)

    def _hand_over(self, model) -> None:

        basic = model.catalogue.basic_ids
        speed = model.scenario.population.walk_speed_m_per_min
        within = model.nearest_m[:, basic] / speed <= 15.0
        served = within.sum(axis=1)
        # Space is added where there was none: nodes that are shop space already (the map's, or the city
        # budget's sites, whose rent it pays) are left out, so no outlet trading before the round, and none
        # on a budget site, receives the renovation's rent support.
        old = np.flatnonzero(model.city.old_blocks & (model.residents_at_node > 0) & ~model.commercial)
        if len(old) == 0:
            return
        worst = old[np.argsort(served[old], kind="stable")][: self.config.sites_per_round]
        self.renovated[worst] = True
        model.commercial[worst] = True  # the run's own shop space, not the (shared) city's
        tendered: set[int] = set()
        for node in worst:
            missing = basic[~within[node]]
            if len(missing) == 0:
                missing = basic[np.argsort(-model.nearest_m[node, basic], kind="stable")[:1]]
            # One tender per category and round: sites handed over together are near each other,
            # and entrants that have not opened yet do not show up as rivals in the entry test.
            options = [int(c) for c in missing if int(c) not in tendered]
            category = _tender(model, int(node), options)
            if category is not None:
                tendered.add(category)
                self.tendered[node] = category


def _tender(model, node: int, categories: list[int]) -> int | None:
    """Tender the renovated site at ``node``: of ``categories`` (basic services missing there),
    the entrant with the best expected margin that passes the entry test (at the discounted rent)
    applies for a licence. Returns its category, or None if none passes."""
    from sim.economy.entry import expected_revenue

    lever = model.levers.get("renovation")
    hurdle = model.scenario.economy.entry_hurdle
    best, best_ratio = None, 0.0
    for category in categories:
        revenue, costs = expected_revenue(model, node, category)
        discount = model.catalogue.area_m2[category] * model.rent_fen_per_m2() * lever.config.rent_discount * lever.strength_now
        ratio = revenue / max(hurdle * (costs - discount), 1.0)
        if ratio >= 1.0 and ratio > best_ratio:
            best, best_ratio = category, ratio
    if best is not None:
        days = int(round(model.param("licence_days")))
        model.licence_queue.push(open_day=model.day + days, node=node, category=best,
                                 founder=-1, subsidy=0, applied_day=model.day, tender="renovation")
    return best
