"""Mobile commercial service facilities, without disturbing residents.

While the lever acts there are ``strength x vendors`` licensed mobile vendors, each run by an
unemployed resident where there is one (else by an outsider), serving one of ``categories``. Each
month the vendors move to the stops outside the exclusion zone (no fixed outlet of the category
within ``exclusion_m``) with the largest gaps: residents living beyond the category's walking tier
of every fixed outlet, weighted by how far beyond (last month's unmet needs break ties), one
vendor per gap before a second goes to the same area. Vendors pay no rent but a monthly permit
fee to the public budget, with their month's accounts (a cost that counts towards their losses); they start with a cart's or van's start-up cost and working capital
(catalogue ``vendor_*`` values), and like any merchant close after ``closure_months`` of losses
with no cash left (a new licensee takes the permit). With ``quiet_hours`` they trade only in
daytime hours (70 % of ``capacity``); without, they serve their full capacity but each trading
day draws a complaint per 20 residents living at their stop. When the lever ends, permits end and
vendors close.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from sim.services.catalogue import FEN_PER_CNY
from sim.services.circle_tally import shares_of
from sim.levers.base import Lever
from sim.economy.population import OWNER, UNEMPLOYED

QUIET_HOURS_CAPACITY = 0.7


class MobileVendors(Lever):
    name = "mobile_vendors"
    measure = "mobile commercial service facilities, without disturbing residents"
    mechanism = "vendors move to unmet demand outside exclusion zones; quiet hours limit trading"
    indicator = "coverage of the vendors' trades in gaps (coverage_15.fresh_market at the default trades); needs met barely move (a vendor sells out; most turned away walk on to a shop); complaints without quiet hours"
    claims = (("coverage_15.fresh_market", +1),)

    def setup(self) -> None:
        for c in self.config.categories:
            self.model.catalogue.index(c)  # a clear error for an unknown category

    def permit_fee_fen(self) -> int:
        """The monthly stall-permit fee, fen."""
        return int(round(self.config.licence_fee_cny_month * FEN_PER_CNY))

    def _vendors(self) -> np.ndarray:
        mer = self.model.merchants
        return np.flatnonzero(mer.mobile & mer.open)

    def on_month(self) -> None:
        from sim.economy.accounts import close_merchants
        from sim.economy.entry import fund_openings

        model = self.model
        vendors = self._vendors()
        # The lever's own closures draw from its stream (the job losses' insurance, knowledge of the
        # outlets that take their places), as its openings do.
        if not self.acting:
            if len(vendors):
                close_merchants(model, vendors, rng=self.rng)
            return
        want = int(round(self.strength_now * self.config.vendors))
        if len(vendors) > want:
            close_merchants(model, vendors[want:], rng=self.rng)
            vendors = vendors[:want]
        cats = [model.catalogue.index(c) for c in self.config.categories]
        # Vendors that closed for losses are replaced by new licensees of the trades short of the
        # rotation (vendors take the categories in turn): the one that closed, not the next in turn.
        new_cats = np.array(_short_of(cats, want, model.merchants.category[vendors].tolist())[: want - len(vendors)],
                            dtype=np.int64)
        all_cats = np.concatenate([model.merchants.category[vendors].astype(np.int64), new_cats])
        stops = self._stops(all_cats)
        if len(vendors):
            model.move_outlets(vendors, stops[: len(vendors)], rng=self.rng)
        add = len(new_cats)
        if add > 0:
            pop = model.population
            pool = np.flatnonzero((pop.status == UNEMPLOYED) & (pop.owned < 0))
            owners = np.full(add, -1)
            take = min(add, len(pool))
            if take:
                owners[:take] = self.rng.choice(pool, size=take, replace=False)
            cap = np.full(add, self.config.capacity, dtype=np.float64)
            cap = np.round(cap * (QUIET_HOURS_CAPACITY if self.config.quiet_hours else 1.0)).astype(np.int32)
            ids = model.add_outlets(nodes=stops[len(vendors):], categories=new_cats, owners=owners, mobile=True, capacity=cap,
                                    rng=self.rng)  # the lever's own draws: later entrants draw as without it
            model.merchants.staff_target[ids] = 0
            fund_openings(model, ids)
            for m, o in zip(ids, owners):
                if o >= 0:
                    pop.owned[o] = m
                    pop.status[o] = OWNER
            model.roles_changed(owners[owners >= 0])
            model.tally.births += len(ids)
            model.count_circle_events("births", model.merchants.node[ids])

    def on_day_end(self) -> None:
        if self.config.quiet_hours:
            return
        model = self.model
        vendors = self._vendors()
        if len(vendors):
            stops = model.merchants.node[vendors]
            complaints = int(model.residents_at_node[stops].sum() // 20)
            model.tally.complaints += complaints
            if model.circle_tally is not None:  # the day's complaints shared out by the residents at each circle's stops
                near = np.bincount(model.circles.of(stops), weights=model.residents_at_node[stops],
                                   minlength=model.circles.k)
                model.count_circle_events("complaints", np.arange(model.circles.k), shares_of(complaints, near))

    def _stops(self, categories: np.ndarray) -> np.ndarray:
        """This month's stop of each vendor (by category), outside the exclusion zones.

        Per category, a node's *gap* is its residents weighted by how far beyond the category's
        walking tier of every fixed outlet they live (last month's unmet needs break ties; they
        include the vendors' own turned-away customers, so on their own they would keep a vendor
        where it is rather than send it to a gap). Vendors of a category take stops one at a time
        at the largest remaining gap, and each closes the gap within the tier of its stop, so they
        spread over the gaps instead of crowding onto one corner. Ties are broken at random.
        """
        model = self.model
        mer = model.merchants
        from sim.city.walk import nearest_distance

        stops = np.empty(len(categories), dtype=np.int64)
        for category in np.unique(categories):
            fixed = mer.open & ~mer.mobile & (mer.category == category)
            to_fixed = nearest_distance(model.city.graph, mer.node[fixed])
            excluded = to_fixed <= self.config.exclusion_m
            tier_m = model.catalogue.tier_minutes[category] * model.scenario.population.walk_speed_m_per_min
            gap = model.residents_at_node * np.clip(to_fixed / max(tier_m, 1.0) - 1.0, 0.0, 3.0)
            unmet = model.unmet_last_month[:, category].astype(np.float64)
            score = np.where(excluded, -1.0, gap + 1e-3 * unmet + 1e-6 * model.residents_at_node)
            for i in np.flatnonzero(categories == category):
                best = np.flatnonzero(score == score.max())
                stop = int(best[self.rng.integers(len(best))])
                stops[i] = stop
                served, _ = model.nodes_within(stop, tier_m)
                score[served] = np.minimum(score[served], 1e-6 * model.residents_at_node[served])
        return stops


def _short_of(cats: list[int], want: int, have: list[int]) -> list[int]:
    """The categories, in turn, that ``want`` vendors taking ``cats`` in rotation would have and the
    vendors trading ``have`` lack."""
    left = Counter(have)
    short = []
    for c in (cats[i % len(cats)] for i in range(want)):
        if left[c] > 0:
            left[c] -= 1
        else:
            short.append(c)
    return short
