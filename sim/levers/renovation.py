"""Urban renewal and old-community renovation adding commercial space.

In each month listed in ``months`` (while the lever acts) renovation hands over
``sites_per_round`` sites of public shop space in old blocks, at the old-block nodes whose
residents have the fewest basic-guarantee categories within 15 minutes. Each site is put to
public tender: an entrant of the basic category most missing there applies for a licence (it
still has to pass the entry test, at the discounted rent). Outlets on renovated space pay
``1 - rent_discount`` of the rent; the public budget pays the rest while the lever acts.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class Renovation(Lever):
    name = "renovation"
    measure = "align with urban renewal and old-community renovation"
    mechanism = "renovation adds discounted shop space in the worst-served old blocks at set dates"
    indicator = "basic_coverage_15_old_blocks, basic_coverage_15"

    def setup(self) -> None:
        self.renovated = np.zeros(self.model.city.graph.shape[0], dtype=bool)
        self.done: set[int] = set()

    def on_month(self) -> None:
        model, mer = self.model, self.model.merchants
        on_space = mer.open & np.isin(mer.node, np.flatnonzero(self.renovated)) & ~mer.mobile
        full_rent = np.round(model.catalogue.area_m2[np.maximum(mer.category, 0)] * model.rent_fen_per_m2()).astype(np.int64)
        if self.acting:
            support = np.round(full_rent * self.config.rent_discount * self.strength_now).astype(np.int64)
        else:
            support = np.zeros(mer.n, dtype=np.int64)
        mer.rent_support[:] = np.where(on_space, support, 0)
        mer.rent[:] = np.where(on_space, full_rent - mer.rent_support, mer.rent)
        mer.renovated[:] = on_space
        if not self.acting or model.month not in self.config.months or model.month in self.done:
            return
        self.done.add(model.month)
        self._hand_over(model)

    def _hand_over(self, model) -> None:
        from sim.entry import _consider

        basic = model.catalogue.basic_ids
        speed = model.scenario.population.walk_speed_m_per_min
        within = model.nearest_m[:, basic] / speed <= 15.0
        served = within.sum(axis=1)
        old = np.flatnonzero(model.city.old_blocks & (model.residents_at_node > 0) & ~self.renovated)
        if len(old) == 0:
            return
        worst = old[np.argsort(served[old], kind="stable")][: self.config.sites_per_round]
        self.renovated[worst] = True
        model.city.commercial[worst] = True
        for node in worst:
            missing = basic[~within[node]]
            category = int(missing[0]) if len(missing) else int(basic[np.argmax(model.nearest_m[node, basic])])
            _tender(model, int(node), category)


def _tender(model, node: int, category: int) -> None:
    """An entrant of ``category`` considers the renovated site at ``node`` (entry test applies)."""
    from sim.entry import expected_revenue

    revenue, costs = expected_revenue(model, node, category)
    lever = model.levers.get("renovation")
    discount = model.catalogue.area_m2[category] * model.rent_fen_per_m2() * lever.config.rent_discount * lever.strength_now
    if revenue >= model.scenario.economy.entry_hurdle * (costs - discount):
        days = int(round(model.param("licence_days")))
        model.licence_queue.push(open_day=model.day + days, node=node, category=category,
                                 founder=-1, subsidy=0, applied_day=model.day)
