"""The life circle's daily rules written the idiomatic per-agent Mesa way (a readable reference).

This is the version to read rule by rule. Each resident is a Mesa agent whose ``step`` draws the
day's needs and meets them one at a time; each outlet is a Merchant agent. The fast model
(:mod:`sim.model`) runs the *same* rules over NumPy arrays for the whole population at once;
``benchmarks/bench_model.py`` times both and ``tests/test_reference_agreement.py`` checks that
they agree statistically.

What is shared with the fast model (so the comparison is like for like): the scenario, the city
(street network), the service catalogue, the initial residents, outlets, prices, cash and
knowledge, and the walking tables (:class:`sim.city.walk.OutletReach`, the k nearest open outlets of
each category from every node). All of these are built once by the fast model's own constructor;
from then on every rule below runs per agent.

Daily rules (as in :mod:`sim.services.demand`):

1. Needs: each resident draws, per category, a Poisson number of needs with mean
   ``visits_per_day`` (times ``elderly_factor`` for the elderly; a household's carer also carries
   its children's categories, per child); each is a night need with probability ``night_share``.
2. Choice: among the ``k`` nearest outlets of the category within ``max_walk_minutes`` at the
   resident's own walk speed (at night: only outlets open at night), the resident picks one it
   knows with probability proportional to ``exp(-walk_minute_weight * minutes) * attraction``,
   where an outlet's attraction is ``exp(-price_weight * (price/typical - 1) - crowding_weight *
   min(yesterday's load, 2))``. Everyone knows the nearest outlet. A resident who knows none of the
   reachable outlets searches, takes the best, and knows it from then on.
3. Affordability and capacity: a resident who cannot pay goes without; an outlet serves at most
   ``capacity`` visits a day. Residents act in a random order each day (``shuffle_do``), so the
   visits an outlet turns away are a random selection of its demand, as in the fast model. When
   everyone has tried once, the walk-ins turned away (in a random order) try once more, by the same
   rule, among the outlets in reach that still have room; a need is counted under its final outcome.
4. Payment: the resident pays the outlet its price (parcel points also receive the courier fee).

Monthly accounts are *simplified* to the same headline mechanics (the fast model's full monthly
code is :mod:`sim.economy.accounts`, :mod:`sim.economy.labour`, :mod:`sim.economy.entry`): residents receive their expected
monthly income (wage, pension, benefit or gig pay; no job changes) and spend ``1 - saving_rate`` of
it, less typical service spending, outside the catalogue; merchants pay wages for their staff,
rent, fixed costs and cost of goods, pay out a share of profit, and close after
``closure_months`` losing months with negative cash. Word of mouth: each unknown nearby outlet
becomes known with ``discovery_per_month``. Not modelled here: entry of new outlets, the labour
market, levers, volunteers' elder care. Residents live at street-network nodes (their ``home``),
so no ``mesa.discrete_space`` grid is needed: walking distances come from the network tables.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.services.demand import need_groups
from sim.model import LifeCircleModel
from sim.economy.population import FREELANCER, UNEMPLOYED
from sim.scenario import Scenario


class Merchant(mesa.Agent):
    """An outlet: its price, capacity, cash and this month's takings."""

    def __init__(self, model: ReferenceModel, *, outlet_id: int, category: int, node: int, price: int,
                 capacity: int, night: bool, staff: int, rent: int, cash: int) -> None:
        super().__init__(model)
        self.outlet_id = outlet_id
        self.category = category
        self.node = node
        self.price = price
        self.capacity = capacity
        self.night = night
        self.staff = staff
        self.rent = rent
        self.cash = cash
        self.open = True
        self.visits_today = 0
        self.wanted_today = 0
        self.load_yesterday = 0.0
        self.attraction = 1.0
        self.revenue_month = 0
        self.visits_month = 0
        self.months_losing = 0

    def start_day(self) -> None:
        """Yesterday's load (visits wanted over capacity) sets today's crowding; price and crowding
        set the attraction."""
        econ = self.model.scenario.economy
        self.load_yesterday = self.wanted_today / self.capacity if self.capacity > 0 else 0.0
        self.visits_today = 0
        self.wanted_today = 0
        typical = max(self.model.catalogue.spend_fen[self.category], 1)
        utility = (-econ.price_weight * (self.price / typical - 1)
                   - econ.crowding_weight * min(self.load_yesterday, 2.0))
        self.attraction = math.exp(utility)

    def serve(self, resident: Resident) -> str:
        """Serve one visit if the resident can pay and there is room; returns the outcome."""
        if resident.cash < self.price:
            return "unmet_money"
        self.wanted_today += 1
        if self.visits_today >= self.capacity:
            return "unmet_capacity"
        resident.cash -= self.price
        self.cash += self.price
        self.revenue_month += self.price
        if self.category == self.model.parcel_category:  # couriers pay parcel points per parcel
            fee = self.model.parcel_fee
            self.cash += fee
            self.revenue_month += fee
        self.visits_today += 1
        self.visits_month += 1
        return "met_walk"

    def pay_month(self) -> None:
        """Wages, rent, fixed costs and cost of goods; payout; close after repeated losses."""
        model, money = self.model, self.model.catalogue.money
        wage = model.shop_wage_fen  # a monthly salary
        cogs = round(self.revenue_month * model.catalogue.cogs_share[self.category])
        costs = self.staff * wage + self.rent + money["fixed_cost"] + cogs
        profit = self.revenue_month - costs
        payout = round(profit * model.scenario.economy.owner_payout_share) if profit > 0 else 0
        self.cash -= costs + payout
        self.months_losing = self.months_losing + 1 if profit < 0 else 0
        self.revenue_month = 0
        self.visits_month = 0
        if self.months_losing >= model.scenario.economy.closure_months and self.cash < 0:
            self.close()

    def close(self) -> None:
        """Stop trading: leave the walking tables (other outlets move up) and the model."""
        self.open = False
        self.model.reach.remove(np.array([self.outlet_id]))
        del self.model.merchant_by_id[self.outlet_id]
        self.remove()


class Resident(mesa.Agent):
    """A resident: home node, walk speed, cash, and the outlets it knows of."""

    def __init__(self, model: ReferenceModel, *, home: int, speed_m_per_min: float, need_rates: np.ndarray,
                 cash: int, income: int, service_spend: float, known: list[set[int]]) -> None:
        super().__init__(model)
        self.home = home
        self.speed = speed_m_per_min
        self.need_rates = need_rates
        self.cash = cash
        self.income = income
        self.service_spend = service_spend
        self.known = known  # per category: ids of outlets this resident knows of

    def step(self) -> None:
        """Draw today's needs and meet them one by one."""
        model = self.model
        counts = model.rng.poisson(self.need_rates)
        for category in np.flatnonzero(counts):
            for _ in range(counts[category]):
                night = self.random.random() < model.catalogue.night_share[category]
                self.meet_need(int(category), night)

    def meet_need(self, category: int, night: bool) -> None:
        """Choose an outlet (logit over the nearest known ones), then visit and pay."""
        model = self.model
        model.count("needs", category)
        if night:
            model.count("night_needs", category)
        options = self.options(category, night)
        if not options:
            model.count("unmet_range", category)
            return
        known = [(m, w) for m, w, knows in options if knows]
        if known:
            merchant = self.pick(known)
        else:  # search: find the best reachable outlet, and know it from now on
            merchant = max(options, key=lambda option: option[1])[0]
            self.known[category].add(merchant.outlet_id)
        outcome = merchant.serve(self)
        if outcome == "unmet_capacity":  # tries again once everyone has tried once
            model.turned_away.append((self, category, night))
            return
        model.count(outcome, category)
        if night and outcome == "met_walk":
            model.count("night_met", category)

    def try_again(self, category: int, night: bool) -> None:
        """Turned away at a full outlet: the same choice among the outlets in reach with room left."""
        model = self.model
        options = [o for o in self.options(category, night) if o[0].visits_today < o[0].capacity]
        if not options:
            model.count("unmet_capacity", category)
            return
        known = [(m, w) for m, w, knows in options if knows]
        if known:
            merchant = self.pick(known)
        else:
            merchant = max(options, key=lambda option: option[1])[0]
            self.known[category].add(merchant.outlet_id)
        outcome = merchant.serve(self)
        model.count(outcome, category)
        if night and outcome == "met_walk":
            model.count("night_met", category)

    def options(self, category: int, night: bool) -> list[tuple[Merchant, float, bool]]:
        """(merchant, choice weight, known?) for each of the k nearest outlets within walking range."""
        model = self.model
        econ = model.scenario.economy
        out = []
        nearest = model.reach.outlet[category, self.home]
        metres = model.reach.dist_m[category, self.home]
        for rank, (outlet_id, distance) in enumerate(zip(nearest.tolist(), metres.tolist())):
            if outlet_id < 0:
                continue
            minutes = distance / self.speed
            if minutes > econ.max_walk_minutes:
                continue
            merchant = model.merchant_by_id[outlet_id]
            if night and not merchant.night:
                continue
            weight = math.exp(-econ.walk_minute_weight * minutes) * merchant.attraction
            knows = rank == 0 or outlet_id in self.known[category]
            out.append((merchant, weight, knows))
        return out

    def pick(self, options: list[tuple[Merchant, float]]) -> Merchant:
        """Draw one option with probability proportional to its weight."""
        total = sum(weight for _, weight in options)
        threshold = self.random.random() * total
        for merchant, weight in options:
            threshold -= weight
            if threshold < 0:
                return merchant
        return options[-1][0]

    def end_month(self) -> None:
        """Receive the month's income and spend part of it outside the catalogue."""
        self.cash += self.income
        wish = round((1 - self.model.scenario.economy.saving_rate) * self.income - self.service_spend)
        self.cash -= min(max(wish, 0), max(self.cash, 0))

    def hear_of_outlets(self) -> None:
        """Word of mouth: each unknown nearby outlet becomes known with discovery_per_month."""
        p = self.model.scenario.economy.discovery_per_month
        for category, known in enumerate(self.known):
            for outlet_id in self.model.reach.outlet[category, self.home].tolist():
                if outlet_id >= 0 and outlet_id not in known and self.random.random() < p:
                    known.add(outlet_id)


class ReferenceModel(mesa.Model):
    """Per-agent reference of the life circle's daily rules (see the module docstring).

    Args:
        scenario: The validated scenario (the same object the fast model takes).
        seed: Overrides ``scenario.seed`` when given.
    """

    def __init__(self, *, scenario: Scenario, seed: int | None = None) -> None:
        seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        # The world -- city, catalogue, residents, outlets, walking tables -- is built by the fast
        # model's constructor, so both start from the same state.
        world = LifeCircleModel(scenario=scenario, seed=seed, create_agents=False)
        self.world_scenario = scenario
        self.catalogue = world.catalogue
        self.reach = world.reach
        self.dates = world.dates
        self.days_total = world.days_total
        self.day = 0
        self.parcel_category = world.parcel_category
        self.parcel_fee = self.catalogue.money["parcel_fee"]
        self.shop_wage_fen = world.shop_wage_fen()
        self._make_merchants(world)
        self._make_residents(world)
        self.counts: dict[str, np.ndarray] = {}
        self.turned_away: list[tuple[Resident, int, bool]] = []  # today's walk-ins turned away
        self.records: list[dict[str, float]] = []
        self._reset_counts()

    @property
    def scenario(self) -> Scenario:
        """The lifecircle scenario (not Mesa's experimental Scenario)."""
        return self.world_scenario

    @scenario.setter
    def scenario(self, value: object) -> None:
        pass  # Mesa sets its own (empty) scenario object; ours is read-only

    def _make_merchants(self, world: LifeCircleModel) -> None:
        mer = world.merchants
        self.merchant_by_id: dict[int, Merchant] = {}
        for i in np.flatnonzero(mer.open).tolist():
            self.merchant_by_id[i] = Merchant(
                self, outlet_id=i, category=int(mer.category[i]), node=int(mer.node[i]),
                price=int(mer.price[i]), capacity=int(mer.capacity[i]), night=bool(mer.night[i]),
                staff=int(mer.staff_local[i] + mer.staff_outside[i]), rent=int(mer.rent[i]),
                cash=int(world.ledger.merchant_cash[i]),
            )

    def _make_residents(self, world: LifeCircleModel) -> None:
        pop, cat, money = world.population, world.catalogue, world.catalogue.money
        econ = world.scenario.economy
        group, group_rates = need_groups(pop, world.households, cat)
        for i in range(pop.n):
            income = int(pop.wage[i]) + int(pop.pension[i])  # a salary drawn with the job; pensions
            if pop.status[i] == UNEMPLOYED and pop.benefit_left[i] > 0:
                income += money["unemployment_benefit"]
            elif pop.status[i] == FREELANCER:
                income += round(econ.gig_tasks_per_month * money["gig_task"])
            home = int(pop.home[i])
            known = []
            for c in range(cat.n):
                bits = int(pop.knows[i, c])
                nearest = world.reach.outlet[c, home]
                known.append({int(o) for r, o in enumerate(nearest) if o >= 0 and bits >> r & 1})
            Resident(
                self, home=home, speed_m_per_min=float(world.speeds[pop.speed_class[i]]),
                need_rates=group_rates[group[i]],
                cash=int(world.ledger.resident_cash[i]), income=int(income),
                service_spend=float(world.typical_service_spend[i]), known=known,
            )

    def count(self, outcome: str, category: int) -> None:
        """Count one need's outcome (the model's tally; agents report here)."""
        self.counts[outcome][category] += 1

    def _reset_counts(self) -> None:
        names = ("needs", "night_needs", "met_walk", "unmet_range", "unmet_capacity", "unmet_money", "night_met")
        self.counts = {name: np.zeros(self.catalogue.n, dtype=np.int64) for name in names}

    def step(self) -> None:
        """One day: merchants open, residents meet their needs in random order; month end accounts."""
        self.agents_by_type[Merchant].do("start_day")
        self.turned_away = []
        self.agents_by_type[Resident].shuffle_do("step")
        self.random.shuffle(self.turned_away)
        for resident, category, night in self.turned_away:
            resident.try_again(category, night)
        month_end = self.day + 1 >= self.days_total or self.dates[self.day + 1].month != self.dates[self.day].month
        if month_end:
            self.end_month()
        self.day += 1
        if self.day >= self.days_total:
            self.running = False

    def end_month(self) -> None:
        """Pay the month, record the indicators, spread word of mouth."""
        self.agents_by_type[Resident].do("end_month")
        visits = sum(m.visits_month for m in self.agents_by_type[Merchant])
        self.record(visits)
        self.agents_by_type[Merchant].do("pay_month")
        self.agents_by_type[Resident].do("hear_of_outlets")
        self._reset_counts()

    def record(self, visits: int) -> None:
        """The headline indicators of the month (same definitions as :mod:`sim.metrics.indicators`)."""
        c = self.counts
        basic = self.catalogue.basic
        open_now = len(self.agents_by_type[Merchant])
        self.records.append({
            "day": self.day,
            "needs": float(c["needs"].sum()),
            "needs_met_share": c["met_walk"].sum() / max(c["needs"].sum(), 1),
            "basic_needs_met_share": c["met_walk"][basic].sum() / max(c["needs"][basic].sum(), 1),
            "visits_per_outlet": visits / max(open_now, 1),
            "merchants_open": float(open_now),
            "unmet_capacity_share": c["unmet_capacity"].sum() / max(c["needs"].sum(), 1),
            "unmet_range_share": c["unmet_range"].sum() / max(c["needs"].sum(), 1),
            "night_needs_met_share": c["night_met"].sum() / max(c["night_needs"].sum(), 1),
        })
