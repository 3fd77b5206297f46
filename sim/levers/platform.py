"""The supply-demand integration platform: online orders beyond walking range, delivered by freelancers.

While the lever acts, a share ``strength x online_share`` of the needs that could be walked to is
ordered online from the outlet the resident would have chosen, and needs with no outlet in walking
range are ordered from the nearest outlet within ``delivery_radius_m`` that was not full yesterday
(open at night for night needs) -- for services that can be delivered only (the catalogue's
``deliverable``: goods, meals, medicine, home services; not a haircut or a parcel pick-up). The resident pays the price plus the delivery fee; the merchant receives the price less
the ``commission``; the platform keeps the commission and ``1 - courier_share`` of the fee; a
freelancer picked at random delivers and earns ``courier_share`` of the fee. Orders count
against the outlet's capacity, so its catchment grows beyond its walkers.
"""

from __future__ import annotations

import numpy as np

from sim.services import kernels
from sim.services.fastrng import seed_state
from sim.economy.ledger import MERCHANT, RESIDENT
from sim.levers.base import Lever
from sim.economy.population import FREELANCER
from sim.city.walk import OutletReach


DELIVERY_CANDIDATES = 4
"""Outlets within the delivery radius an order beyond walking range may go to, nearest first."""


class Platform(Lever):
    name = "platform"
    measure = "supply-demand integration platform (online + offline)"
    mechanism = "residents order beyond walking range; freelancers deliver; merchants' catchment grows"
    indicator = "effective access (effective_coverage_15), freelancers' income; merchants' profit falls: the commission on walk-ins who now order outweighs the custom from beyond walking range"
    claims = (("effective_coverage_15", +1), ("freelancer_income_mean", +1), ("merchant_profit_mean", -1))

    def __init__(self, config, model) -> None:  # noqa: ANN001 - as Lever
        super().__init__(config, model)
        # Nearest outlets within the delivery radius; filled as outlets open (on_reach_changed).
        self.delivery = OutletReach(model.city.graph, model.catalogue.n, DELIVERY_CANDIDATES, config.delivery_radius_m)
        self._known: set[int] = set()

    def on_reach_changed(self, categories: np.ndarray) -> None:
        mer = self.model.merchants
        open_now = set(mer.open_ids().tolist())
        gone = np.array(sorted(self._known - open_now), dtype=np.int64)
        new = np.array(sorted(open_now - self._known), dtype=np.int64)
        moved = [m for m in (self._known & open_now) if mer.mobile[m]]
        if len(gone):
            self.delivery.remove(gone)
        if moved:
            self.delivery.remove(np.array(moved))
            new = np.concatenate([new, np.array(moved, dtype=np.int64)])
        if len(new):
            self.delivery.add(new, mer.node[new], mer.category[new])
        self._known = open_now

    def route_orders(self, model, res, cats, night, served, chosen, delivered) -> bool:
        """Decide which needs become online orders: sets ``delivered`` (and ``chosen`` for needs
        beyond walking range) in place; returns whether any need is delivered."""
        n_nodes = self.delivery.outlet.shape[1]
        count = kernels.route_orders(
            seed_state(self.rng), len(res), res, cats, night, served, chosen, delivered, model.population.home,
            self.strength_now * self.config.online_share, model.catalogue.deliverable,
            self.delivery.outlet.reshape(-1), n_nodes, self.delivery.k, model.merchants.night,
            model.merchants.load_yesterday)
        return count > 0

    def order_surcharge(self, model) -> int:
        """Delivery fee (fen) a resident pays on top of the price of an order."""
        return int(model.catalogue.money["delivery_fee"])

    def settle_orders(self, model, res, cats, chosen, visit, delivered) -> None:
        """Pay the merchant, the platform and the courier for the day's delivered orders."""
        ledger, mer, pop = model.ledger, model.merchants, model.population
        fee = int(model.catalogue.money["delivery_fee"])
        courier = int(round(fee * self.config.courier_share))
        freelancers = np.flatnonzero(pop.status == FREELANCER)
        to_merchants, to_platform, to_couriers, kept = kernels.settle_orders(
            seed_state(self.rng), len(res), res, cats, chosen, visit, delivered, mer.price,
            self.config.commission, courier, fee - courier, freelancers, ledger.resident_cash,
            ledger.merchant_cash, mer.revenue_month, pop.income_month, model.tally.needs["met_delivery"])
        ledger.booked(RESIDENT, MERCHANT, "purchase.online", to_merchants)
        ledger.booked(RESIDENT, "platform", "platform.commission", to_platform)
        if to_couriers:
            ledger.booked(RESIDENT, RESIDENT, "delivery", to_couriers)
        if kept:
            ledger.booked(RESIDENT, "platform", "delivery", kept)
