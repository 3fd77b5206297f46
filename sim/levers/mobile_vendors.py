"""Mobile commercial service facilities, without disturbing residents.

While the lever acts there are ``strength x vendors`` licensed mobile vendors, each run by an
unemployed resident where there is one (else by an outsider), serving one of ``categories``. Each
month every vendor moves to the stop outside the exclusion zone (no fixed outlet of the category
within ``exclusion_m``) with the largest gap: residents living beyond the category's walking tier
of every fixed outlet, weighted by how far beyond (last month's unmet needs break ties). Vendors
pay no rent but a monthly permit fee to the public budget. With ``quiet_hours`` they trade only in
daytime hours (70 % of ``capacity``); without, they serve their full capacity but each trading
day draws a complaint per 20 residents living at their stop. When the lever ends, permits end and
vendors close.
"""

from __future__ import annotations

import numpy as np

from sim.catalogue import FEN_PER_CNY
from sim.ledger import MERCHANT
from sim.levers.base import Lever
from sim.population import OWNER, UNEMPLOYED

QUIET_HOURS_CAPACITY = 0.7


class MobileVendors(Lever):
    name = "mobile_vendors"
    measure = "mobile commercial service facilities, without disturbing residents"
    mechanism = "vendors move to unmet demand outside exclusion zones; quiet hours limit trading"
    indicator = "basic coverage in gaps (needs met), complaints"

    def setup(self) -> None:
        for c in self.config.categories:
            self.model.catalogue.index(c)  # a clear error for an unknown category

    def _vendors(self) -> np.ndarray:
        mer = self.model.merchants
        return np.flatnonzero(mer.mobile & mer.open)

    def on_month(self) -> None:
        model = self.model
        vendors = self._vendors()
        if not self.acting:
            if len(vendors):
                from sim.accounts import close_merchants

                close_merchants(model, vendors)
            return
        want = int(round(self.strength_now * self.config.vendors))
        if len(vendors) > want:
            from sim.accounts import close_merchants

            close_merchants(model, vendors[want:])
            vendors = vendors[:want]
        cats = [model.catalogue.index(c) for c in self.config.categories]
        # Relocate existing vendors, then license new ones.
        if len(vendors):
            nodes = np.array([self._best_stop(int(model.merchants.category[v])) for v in vendors])
            model.move_outlets(vendors, nodes)
        add = want - len(vendors)
        if add > 0:
            new_cats = np.array([cats[i % len(cats)] for i in range(len(vendors), want)])
            nodes = np.array([self._best_stop(int(c)) for c in new_cats])
            pop = model.population
            pool = np.flatnonzero((pop.status == UNEMPLOYED) & (pop.owned < 0))
            owners = np.full(add, -1)
            take = min(add, len(pool))
            if take:
                owners[:take] = self.rng.choice(pool, size=take, replace=False)
            cap = model.catalogue.capacity[new_cats] * 0 + self.config.capacity
            cap = np.round(cap * (QUIET_HOURS_CAPACITY if self.config.quiet_hours else 1.0)).astype(np.int32)
            ids = model.add_outlets(nodes=nodes, categories=new_cats, owners=owners, mobile=True, capacity=cap)
            model.merchants.staff_target[ids] = 0
            from sim.entry import fund_openings

            fund_openings(model, ids)
            for m, o in zip(ids, owners):
                if o >= 0:
                    pop.owned[o] = m
                    pop.status[o] = OWNER
            model.roles_changed(owners[owners >= 0])
            model.tally.births += len(ids)
        vendors = self._vendors()
        fee = int(round(self.config.licence_fee_cny_month * FEN_PER_CNY))
        if fee and len(vendors):
            model.ledger.transfer((MERCHANT, vendors), "public_budget", fee, "lever.mobile_vendors.permit")

    def on_day_end(self) -> None:
        if self.config.quiet_hours:
            return
        model = self.model
        vendors = self._vendors()
        if len(vendors):
            stops = model.merchants.node[vendors]
            model.tally.complaints += int(model.residents_at_node[stops].sum() // 20)

    def _best_stop(self, category: int) -> int:
        model = self.model
        unmet = model.unmet_last_month[:, category].astype(np.float64)
        fixed = model.merchants.open & ~model.merchants.mobile & (model.merchants.category == category)
        from sim.walk import nearest_distance

        to_fixed = nearest_distance(model.city.graph, model.merchants.node[fixed])
        excluded = to_fixed <= self.config.exclusion_m
        # A gap: residents who live beyond the category's walking tier of every fixed outlet. Last
        # month's unmet needs break ties (they include the vendor's own turned-away customers, so
        # on their own they would keep a vendor where it is rather than send it to a gap).
        tier_m = model.catalogue.tier_minutes[category] * model.scenario.population.walk_speed_m_per_min
        gap = model.residents_at_node * np.clip(to_fixed / max(tier_m, 1.0) - 1.0, 0.0, 3.0)
        score = np.where(excluded, -1.0, gap + 1e-3 * unmet + 1e-6 * model.residents_at_node)
        best = np.flatnonzero(score == score.max())
        return int(best[self.rng.integers(len(best))])
