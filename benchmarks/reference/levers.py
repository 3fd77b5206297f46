"""Three levers of the plan, as the reference implements them (engine: :mod:`sim.levers`).

A lever's strength in a month is 0 before ``start_month`` and from ``end_month`` on, ramps up over
``phase_in_months``, and is scaled by the economy's ``lever_implementation``.

* **Platform** (``[levers.platform]``): while it acts, a need for a deliverable service that could
  be walked to is ordered online from the chosen outlet with ``strength x online_share``; a need
  with no outlet in walking range is ordered from the nearest of the ``DELIVERY_CANDIDATES``
  nearest outlets within ``delivery_radius_m`` that was not full yesterday (the nearest if all
  were; open at night for a night need). The resident pays price and delivery fee; the merchant
  gets the price less the commission; a freelancer drawn at random earns ``courier_share`` of the
  fee (paid at the end of the day).
* **Lockers** (``[levers.lockers]``): each month it acts, lockers and vending points are installed
  up to ``strength x per_km2 x area``, at nodes drawn in proportion to the residents living there;
  they keep working after it ends. A parcel of a resident with a locker within ``reach_minutes``
  is collected there; a convenience-store need is, with ``vending_share``, bought at a vending
  point within reach (at the store's typical price) if the resident can pay.
* **Siting** (``[levers.siting]``): a would-be entrant looks at ``candidate_nodes`` shop-space
  nodes, half of them the nearest to the homes with the largest gaps (residents beyond the
  category's tier from any outlet, then last month's unmet needs), half at random; among those
  that pass its market study it takes the one that brings the largest gap within the tier
  (else the best margin).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from benchmarks.reference.resident import FREELANCER

if TYPE_CHECKING:
    from benchmarks.reference.merchant import Merchant
    from benchmarks.reference.model import ReferenceModel
    from benchmarks.reference.resident import Resident
    from sim.scenario import LeverConfig

DELIVERY_CANDIDATES = 4


def strength(config: LeverConfig, month: int, implementation: float) -> float:
    """A lever's strength in ``month`` (0 to 1)."""
    if not config.enabled or month < config.start_month:
        return 0.0
    if config.end_month is not None and month >= config.end_month:
        return 0.0
    ramp = 1.0 if config.phase_in_months <= 0 else min(1.0, (month - config.start_month + 1) / config.phase_in_months)
    return ramp * implementation


class Lever:
    """A lever's timeline."""

    def __init__(self, model: ReferenceModel, config: LeverConfig) -> None:
        self.model = model
        self.config = config
        self.strength = 0.0

    @property
    def acting(self) -> bool:
        """Whether it acts this month."""
        return self.strength > 0

    def month_start(self, month: int) -> None:
        """Strength for the new month (then the lever's own monthly action)."""
        self.strength = strength(self.config, month, self.model.scenario.economy.lever_implementation)


class Platform(Lever):
    """Online orders delivered by freelancers."""

    @property
    def online_share(self) -> float:
        """Chance that a need with an outlet in walking range is ordered online."""
        return self.strength * self.config.online_share

    @property
    def delivery_fee(self) -> int:
        """Fen a resident pays on top of the price of an order."""
        return int(self.model.catalogue.money["delivery_fee"])

    def outlet_for(self, resident: Resident, category: int, night: bool) -> Merchant | None:
        """Where an order beyond walking range goes: the nearest candidate not full yesterday."""
        pick = None
        for merchant in self.model.delivery_map.nearest(category, resident.home):
            if night and not merchant.night:
                continue
            if pick is None:
                pick = merchant
            if merchant.load_yesterday < 1.0:
                return merchant
        return pick

    def deliver(self, resident: Resident, merchant: Merchant) -> None:
        """Pay for an order; a freelancer drawn at random delivers it (paid at the end of the day)."""
        merchant.sell_order(resident, self.config.commission, self.delivery_fee)
        self.model.courier_fees_today += 1

    def pay_couriers(self) -> None:
        """Each of the day's deliveries earns a freelancer drawn at random the courier's share."""
        model = self.model
        fee = round(self.delivery_fee * self.config.courier_share)
        couriers = [p for p in model.residents if p.status == FREELANCER]
        if couriers and fee > 0:
            for _ in range(model.courier_fees_today):
                courier = model.random.choice(couriers)
                courier.cash += fee
                courier.income_month += fee
        model.courier_fees_today = 0


class Lockers(Lever):
    """Parcel lockers and vending points."""

    def __init__(self, model: ReferenceModel, config: LeverConfig) -> None:
        super().__init__(model, config)
        self.lockers: list[int] = []
        self.vending: list[int] = []
        self.locker_m: dict[int, float] = {}   # metres from each node to the nearest locker
        self.vending_m: dict[int, float] = {}
        self.vending_category = model.catalogue.names.index("convenience_store") \
            if "convenience_store" in model.catalogue.names else -1

    def month_start(self, month: int) -> None:
        super().month_start(month)
        if not self.acting:
            return
        model = self.model
        area = model.city.area_km2
        homes = [r.home for r in model.residents]
        for points, per_km2 in ((self.lockers, self.config.lockers_per_km2), (self.vending, self.config.vending_per_km2)):
            add = int(round(self.strength * per_km2 * area)) - len(points)
            points += [model.random.choice(homes) for _ in range(max(add, 0))]  # where residents live
        self.locker_m = model.streets.nearest_from(self.lockers)
        self.vending_m = model.streets.nearest_from(self.vending)

    def meets(self, resident: Resident, category: int) -> bool:
        """A parcel collected at a locker, or a small purchase at a vending point, within reach."""
        reach_m = self.config.reach_minutes * resident.speed
        if category == self.model.parcel_category:
            return self.locker_m.get(resident.home, math.inf) <= reach_m
        if category == self.vending_category and self.vending_m.get(resident.home, math.inf) <= reach_m:
            price = int(self.model.catalogue.spend_fen[category])
            if resident.random.random() < self.config.vending_share and resident.cash >= price:
                resident.cash -= price
                self.model.tally.service_spending += price
                return True
        return False


class Siting(Lever):
    """Demand-informed siting of entrants."""

    def choose_site(self, category: int) -> int:
        """The shop-space node a demand-informed entrant of ``category`` looks at."""
        model = self.model
        limit = model.catalogue.tier_minutes[category] * model.scenario.population.walk_speed_m_per_min
        nearest = model.nearest_outlet_m(category)
        gap = {}
        for node in range(model.streets.n_nodes):
            uncovered = model.residents_at_node.get(node, 0) if nearest.get(node, math.inf) > limit else 0
            gap[node] = uncovered * 1000.0 + model.unmet_last_month.get((node, category), 0)
        n_candidates = self.config.candidate_nodes
        hottest = sorted(range(model.streets.n_nodes), key=lambda v: -gap[v])[: max(1, n_candidates // 2)]
        hottest = [v for v in hottest if gap[v] > 0]
        shops = model.shop_nodes
        near_hot = [min(shops, key=lambda s: model.streets.straight_l1(s, v)) for v in hottest]
        chance = [model.random.choice(shops) for _ in range(max(1, n_candidates - len(near_hot)))]
        candidates = sorted(set(near_hot + chance))
        best_gain = best_margin = None
        for node in candidates:
            revenue, costs = model.entry.study(node, category)
            margin = revenue - costs * model.scenario.economy.entry_hurdle
            gain = sum(gap[v] for v in model.streets.within(node, limit))
            if margin >= 0 and gain > 0 and (best_gain is None or gain > best_gain[0]):
                best_gain = (gain, node)
            if best_margin is None or margin > best_margin[0]:
                best_margin = (margin, node)
        return best_gain[1] if best_gain is not None else best_margin[1]
