"""Smart parcel lockers, self-service vending and contactless settlement.

Each month the lever installs lockers and vending points up to ``strength x per_km2 x area``, at
inhabited nodes drawn in proportion to where residents live, at most one of each kind a node (up to
as many as there are inhabited nodes); each costs ``unit_cost_cny`` from the public
budget. A parcel whose recipient lives within ``reach_minutes`` (at their own walk speed) of a
locker is collected there, day or night, without a trip to a parcel point (couriers pay the
locker operator instead), and a locker counts as a parcel service point for the access
indicators. A convenience-store need is, with ``vending_share``, a small purchase that a vending
point within reach meets. Installed points keep working after the lever ends.
(Night needs met here are counted with every other met need at the end of the day in
:func:`sim.services.demand.serve_day`, not here.)
"""

from __future__ import annotations

import numpy as np

from sim.services import kernels
from sim.services.catalogue import FEN_PER_CNY
from sim.services.fastrng import seed_state
from sim.economy.ledger import RESIDENT
from sim.levers.base import Lever
from sim.city.walk import nearest_distance


class Lockers(Lever):
    name = "lockers"
    measure = "smart parcel lockers, self-service vending, contactless settlement"
    mechanism = "parcels and small purchases met at a nearby locker or vending point, 24 h, no shop trip"
    indicator = "trips saved (met_automated), night-time access; basic coverage where the parcel point was the missing service (lockers count as parcel points)"
    claims = (("trips_saved", +1), ("night_needs_met_share", +1))

    def __init__(self, config, model) -> None:  # noqa: ANN001 - as Lever
        super().__init__(config, model)
        n = model.city.graph.shape[0]
        self.locker_nodes = np.zeros(0, dtype=np.int64)
        self.vending_nodes = np.zeros(0, dtype=np.int64)
        self.locker_m = np.full(n, np.inf)
        self.vending_m = np.full(n, np.inf)

    def setup(self) -> None:
        self._near_tables()

    def in_effect(self) -> bool:
        return self.acting or len(self.locker_nodes) > 0 or len(self.vending_nodes) > 0

    def on_month(self) -> None:
        if not self.acting:
            return
        model, cfg = self.model, self.config
        area = model.city.area_km2
        weight = model.residents_at_node / max(model.residents_at_node.sum(), 1)
        for kind, per_km2 in (("locker", cfg.lockers_per_km2), ("vending", cfg.vending_per_km2)):
            have = getattr(self, f"{kind}_nodes")
            # At inhabited nodes by their residents, one bank a node: a second at the same corner would
            # be paid for and reach no one new.
            free = weight.copy()
            free[have] = 0.0
            add = min(int(round(self.strength_now * per_km2 * area)) - len(have), int(np.count_nonzero(free)))
            if add <= 0:
                continue
            nodes = self.rng.choice(len(free), size=add, replace=False, p=free / free.sum())
            cost = int(round(cfg.unit_cost_cny * FEN_PER_CNY)) * add
            model.ledger.transfer("public_budget", "technology_vendors", cost, f"lever.lockers.{kind}")
            have = np.concatenate([have, nodes])
            setattr(self, f"{kind}_nodes", have)
            setattr(self, f"{kind}_m", nearest_distance(model.city.graph, have))
        self._near_tables()
        self._count_lockers_as_parcel_points()

    def _near_tables(self) -> None:
        """Whether a locker / vending point is within reach, by home node and speed class
        (flattened node * S + speed class), for the compiled intercept."""
        minutes = self.config.reach_minutes
        speeds = self.model.speeds[None, :]
        self.locker_near = (self.locker_m[:, None] / speeds <= minutes).reshape(-1)
        self.vending_near = (self.vending_m[:, None] / speeds <= minutes).reshape(-1)

    def on_reach_changed(self, categories: np.ndarray) -> None:
        if self.model.parcel_category in categories:
            self._count_lockers_as_parcel_points()

    def _count_lockers_as_parcel_points(self) -> None:
        """A locker is a parcel service point: the walk to the nearest parcel service (used by the
        access indicators, siting and renovation) is the nearer of a parcel point and a locker."""
        model, c = self.model, self.model.parcel_category
        if c < 0 or len(self.locker_nodes) == 0:
            return
        np.minimum(model.nearest_m[:, c], self.locker_m, out=model.nearest_m[:, c])
        model.nearest_version += 1

    def intercept_needs(self, model, res, cats, night, served) -> None:
        names, money = model.catalogue.names, model.catalogue.money
        vending = names.index("convenience_store") if "convenience_store" in names and len(self.vending_nodes) else -1
        parcels = model.parcel_category if len(self.locker_nodes) else -1
        if vending < 0 and parcels < 0:
            return
        price = int(model.catalogue.spend_fen[vending]) if vending >= 0 else 0
        state = seed_state(self.rng) if vending >= 0 else np.ones(4, dtype=np.uint64)
        pop = model.population
        collected, sales = kernels.intercept_automated(
            state, len(res), res, cats, served, pop.home, pop.speed_class, len(model.speeds),
            self.locker_near, self.vending_near, parcels, vending, self.config.vending_share, price,
            model.ledger.resident_cash, model.tally.needs["met_automated"])
        if collected and money["parcel_fee"]:
            model.ledger.transfer("couriers", "automated_outlets", int(collected * money["parcel_fee"]), "parcel_fee.locker")
        if sales:
            model.ledger.booked(RESIDENT, "automated_outlets", "vending", sales * price)
