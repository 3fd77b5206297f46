"""An outlet (a merchant): it serves visits up to its capacity, pays its month and closes after
sustained losses.

Rules (engine: :mod:`sim.services.kernels`, :mod:`sim.economy.accounts`):

* **Attraction.** At the start of a day an outlet's attraction is ``exp(-price_weight *
  (price / typical - 1) - crowding_weight * min(load, 2))``, the load being yesterday's visits
  wanted over its capacity; at night it is 0 unless the outlet opens at night.
* **Capacity.** Visits are served first come, first served (residents act in a random order), up
  to ``capacity`` a day; a visit wanted on the first try counts towards tomorrow's load, served or
  turned away.
* **Payment.** A walk-in pays the price; an order pays the price less the platform's commission;
  couriers pay a parcel point ``parcel_fee`` per parcel.
* **The month.** Wages (each local employee their own, commuters the median shop wage; in the month
  it opens, temporary staff for its jobs not yet filled, for the days it traded), rent,
  fixed costs and the cost of goods are paid; half the profit (``owner_payout_share``) goes to the
  owner; a merchant with ``closure_months`` losing months in a row and negative cash closes. An
  owner leaves with ``exit_per_month``: a going concern (cash in hand, or not losing month after
  month) is handed on, one in trouble closes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mesa.discrete_space import CellAgent

if TYPE_CHECKING:
    from benchmarks.reference.model import ReferenceModel
    from benchmarks.reference.resident import Resident


class Merchant(CellAgent):
    """An outlet of one category at one street node (its cell of the street space, ``model.grid``).

    Args:
        model: The reference model.
        outlet_id: Order of opening (ties in distance go to the outlet that opened first).
        category, node: What it sells and where.
        price: Fen per visit.
        capacity: Visits a day.
        night: Opens at night.
        staff_target: Jobs it needs.
        rent: Fen a month.
        awareness: Chance that a resident whose nearest outlets it joins knows it.
        owner: The resident who owns it, or None (an owner from outside the circle).
        opened_day: Day it opened.
    """

    def __init__(self, model: ReferenceModel, *, outlet_id: int, category: int, node: int, price: int,
                 capacity: int, night: bool, staff_target: int, rent: int, awareness: float,
                 owner: Resident | None, opened_day: int) -> None:
        super().__init__(model)
        self.outlet_id = outlet_id
        self.category = category
        self.node = node
        self.cell = model.grid[node]
        self.price = price
        self.price_term = price / max(model.catalogue.spend_fen[category], 1) - 1  # what the choice rule weighs
        self.capacity = capacity
        self.night = night
        self.staff_target = staff_target
        self.staff: list[Resident] = []  # residents employed here
        self.commuters = 0               # staff from outside the circle
        self.rent = rent
        self.awareness = awareness
        self.owner = owner
        self.opened_day = opened_day
        self.cash = 0
        self.capital_in = 0              # investors' money, repaid first on closure
        self.months_losing = 0
        self.profit_last = 0
        self.revenue_month = 0
        self.visits_month = 0
        self.wanted_month = 0
        self.visits_today = 0
        self.wanted_today = 0
        self.load_yesterday = 0.0
        self.attraction = 1.0
        self.night_attraction = 0.0
        self.had_room = True             # had room when the day's second tries began
        self.open = True

    # ------------------------------------------------------------------ the day
    def start_day(self) -> None:
        """Today's attraction from price and yesterday's crowding; today's counters start at 0."""
        econ = self.model.scenario.economy
        self.attraction = math.exp(-econ.price_weight * self.price_term - econ.crowding_weight * min(self.load_yesterday, 2.0))
        self.night_attraction = self.attraction if self.night else 0.0
        self.visits_today = 0
        self.wanted_today = 0

    def admit(self, *, first_try: bool) -> bool:
        """One visit (or order) wanted here: served if there is room today."""
        if first_try:
            self.wanted_today += 1
        if self.visits_today >= self.capacity:
            return False
        self.visits_today += 1
        self.visits_month += 1
        return True

    def sell_walk_in(self, resident: Resident) -> None:
        """A walk-in pays the price (a parcel point also earns the couriers' fee per parcel)."""
        model = self.model
        resident.cash -= self.price
        self.cash += self.price
        self.revenue_month += self.price
        model.tally.service_spending += self.price
        model.tally.walk_in(resident.metres_to[self.node])
        if self.category == model.parcel_category:
            self.cash += model.parcel_fee
            self.revenue_month += model.parcel_fee

    def sell_order(self, resident: Resident, commission: float, delivery_fee: int) -> None:
        """An order delivered: the resident pays price and delivery fee; the merchant keeps the
        price less the platform's commission (rounded to the fen)."""
        keep = self.price - round(self.price * commission)
        resident.cash -= self.price + delivery_fee
        self.cash += keep
        self.revenue_month += keep
        self.model.tally.service_spending += self.price + delivery_fee

    def end_day(self) -> None:
        """Visits wanted today (served or turned away) make tomorrow's crowding."""
        self.load_yesterday = self.wanted_today / max(self.capacity, 1)
        self.wanted_month += self.wanted_today

    # ------------------------------------------------------------------ the month
    def costs(self) -> int:
        """This month's costs, fen: wages, rent, fixed costs and cost of goods."""
        model = self.model
        multiplier = model.scenario.economy.wage_multiplier
        wages = sum(round(person.wage * multiplier) for person in self.staff)
        wages += self.commuters * model.shop_wage_fen
        # Opened this month: the jobs not yet filled are done by temporary staff from outside, at the
        # median shop wage, for the days it traded (its first hires come at the month end).
        days, traded = model.date_of(model.day).day, model.day - self.opened_day + 1
        if traded <= days:
            unfilled = max(self.staff_target - len(self.staff) - self.commuters, 0)
            wages += round(unfilled * model.shop_wage_fen * traded / days)
        cogs = round(self.revenue_month * model.catalogue.cogs_share[self.category])
        return wages + self.rent + model.catalogue.money["fixed_cost"] + cogs

    def pay_month(self) -> None:
        """Pay staff and costs, pay out a share of any profit, count losing months."""
        model = self.model
        multiplier = model.scenario.economy.wage_multiplier
        for person in self.staff:
            wage = round(person.wage * multiplier)
            person.cash += wage
            person.income_month += wage
        costs = self.costs()  # the staff's wages (paid to them above), commuters, rent, fixed, goods
        self.cash -= costs
        profit = self.revenue_month - costs
        self.profit_last = profit
        if profit > 0:
            payout = round(profit * model.scenario.economy.owner_payout_share)
            self.cash -= payout
            if self.owner is not None:
                self.owner.cash += payout
                self.owner.income_month += payout
        self.months_losing = self.months_losing + 1 if profit < 0 else 0

    def failing(self) -> bool:
        """``closure_months`` losing months in a row and no cash left."""
        return self.months_losing >= self.model.scenario.economy.closure_months and self.cash < 0

    def going_concern(self) -> bool:
        """Cash in hand, or not losing money month after month: worth taking over."""
        return self.cash > 0 or self.months_losing < self.model.scenario.economy.closure_months

    def reset_month(self) -> None:
        """The month's takings start afresh (after the indicators have read them)."""
        self.revenue_month = 0
        self.visits_month = 0
        self.wanted_month = 0

    def close(self) -> None:
        """Stop trading: cash repays the investors first, then goes to a resident owner; staff and
        owner are out of work (the model then takes it off the map: :meth:`ReferenceModel.close_outlets`)."""
        model = self.model
        repay = min(max(self.cash, 0), self.capital_in)
        rest = self.cash - repay
        if self.owner is not None and rest > 0:
            self.owner.cash += rest
        self.cash = 0
        for person in list(self.staff):
            person.lose_job()
        if self.owner is not None:
            self.owner.lose_job()
        self.staff = []
        self.commuters = 0
        self.open = False
        model.tally.deaths += 1
        model.tally.losing_months_at_closure += self.months_losing

    def hand_over(self) -> None:
        """The owner leaves a going concern: an owner from outside takes it over. A resident founder
        worked there in place of one employee; the outside owner does not, so the shop needs its
        trade's full staff again."""
        if self.owner is not None:
            self.owner.lose_job()
            self.staff_target = int(self.model.catalogue.staff[self.category])
        self.owner = None
        self.model.tally.transfers += 1
