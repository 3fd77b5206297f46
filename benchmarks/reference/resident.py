"""A resident (an adult): needs services each day, chooses where to go, pays; works, earns, learns.

Daily rules (engine: :mod:`sim.services.demand`, :mod:`sim.services.kernels`):

1. **Needs.** A Poisson number of needs a day with the resident's total rate (its own categories,
   times ``elderly_factor`` at retirement age, plus the children's categories per child for the
   household's carer); each need's category and time of day (night with ``night_share``) in
   proportion to the rates.
2. **Lockers and vending** (lockers lever): a parcel is collected at a locker within reach; a
   convenience-store need is, with ``vending_share``, a purchase at a vending point within reach if
   the resident can pay.
3. **Choice.** Among the ``k`` nearest open outlets of the category that lie within
   ``max_walk_minutes`` at the resident's own speed (at night: those open at night), the resident
   draws one it knows in proportion to ``exp(-walk_minute_weight * minutes) * attraction``; knowing
   none, it searches, takes the one with the largest weight and knows it from then on.
4. **Orders** (platform lever): for a deliverable service, a need with an outlet in walking range
   is ordered from it with the platform's online share; a need with none is ordered from the
   nearest of the platform's candidates (within its radius) that was not full yesterday.
5. **Affordability.** A need is wanted only if the resident can pay (the price, plus the delivery
   fee for an order) out of the cash held when its day's shopping began.
6. **Capacity and a second try.** A walk-in turned away at a full outlet tries once more, when
   everyone has tried once, among the outlets it knows in reach that still had room.

Monthly: income (a salary drawn when the job was taken, pension, unemployment insurance, gig
tasks), word of mouth (each unknown outlet of its nearest ``k`` becomes known with
``discovery_per_month``), moving away (a newcomer like it takes its place, knowing less).
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

from mesa.discrete_space import CellAgent

if TYPE_CHECKING:
    from benchmarks.reference.household import Household
    from benchmarks.reference.merchant import Merchant
    from benchmarks.reference.model import ReferenceModel

EMPLOYED = "employed"
UNEMPLOYED = "unemployed"
FREELANCER = "freelancer"
RETIRED = "retired"
OWNER = "owner"
OUT_OF_LABOUR = "out_of_labour_force"
OUTSIDE = "outside"
"""``employer`` of a resident with a job outside the circle."""


class Resident(CellAgent):
    """An adult resident, standing in its home's cell of the street space (``model.grid``).

    Args:
        model: The reference model.
        household: Its household.
        age: Years.
        disabled: Has a disability (walks slower).
        status: Labour status (``EMPLOYED`` ...).
        wage: Monthly salary of its job, fen (0 without one).
        pension: Monthly pension, fen.
        benefit_left: Months of unemployment insurance still to draw.
        graduated_month: Month it graduated (recent graduates), else None.
    """

    def __init__(self, model: ReferenceModel, *, household: Household, age: int, disabled: bool,
                 status: str, wage: int, pension: int, benefit_left: int, graduated_month: int | None) -> None:
        super().__init__(model)
        population = model.scenario.population
        self.household = household
        self.home = household.home
        self.cell = model.grid[self.home]
        self.age = age
        self.elderly = age >= population.retirement_age
        self.disabled = disabled
        self.speed_class = int(self.elderly) + 2 * int(disabled)
        self.speed = model.walk_speeds[self.speed_class]  # metres a minute
        self.status = status
        self.employer: Merchant | str | None = OUTSIDE if status == EMPLOYED else None
        self.owned: Merchant | None = None
        self.wage = wage
        self.pension = pension
        self.benefit_left = benefit_left
        self.graduated_month = graduated_month
        self.cash = 0
        self.income_month = 0
        self.income_last = 0
        self.volunteer = False
        self.low_income = False
        self.known: list[set[Merchant]] = [set() for _ in range(model.catalogue.n)]
        self.rates: list[float] = []  # visits a day wanted per category; set by set_needs
        self.needs_per_day = 0.0
        self.need_weights: list[float] = []
        self.typical_spend = 0.0     # what its needs cost a month at typical prices, fen
        self._walk_weights: list[tuple[int, list] | None] = [None] * model.catalogue.n
        self.metres_to = model.streets.within(self.home, model.walk_limit_m)  # node -> metres along the streets

    # ------------------------------------------------------------------ needs
    def set_needs(self) -> None:
        """Its daily need rates: its own categories, and its household's children's if it is their carer."""
        model, cat = self.model, self.model.catalogue
        rates = []
        for c in range(cat.n):
            if cat.demand_of[c] == 0:
                rates.append(cat.visits_per_day[c] * (cat.elderly_factor[c] if self.elderly else 1.0))
            elif self.household.carer is self:
                children = self.household.young_children if cat.demand_of[c] == 1 else self.household.school_children
                rates.append(cat.visits_per_day[c] * min(children, model.MAX_CHILDREN))
            else:
                rates.append(0.0)
        self.rates = rates
        self.needs_per_day = float(sum(rates))
        by_slot = [r * (1 - cat.night_share[c]) for c, r in enumerate(rates)] + \
                  [r * cat.night_share[c] for c, r in enumerate(rates)]
        running, self.need_weights = 0.0, []
        for w in by_slot:
            running += w
            self.need_weights.append(running)
        self.typical_spend = sum(r * cat.spend_fen[c] * 30.0 for c, r in enumerate(rates))

    def step(self) -> None:
        """Today's needs, met one by one: lockers and vending first, then the walk (or an order)."""
        model = self.model
        count = int(model.rng.poisson(self.needs_per_day)) if self.needs_per_day > 0 else 0
        if count == 0:
            return
        to_shop = []
        for _ in range(count):  # each need's (category, day or night) in proportion to its rate
            category, night = model.need_slots[bisect.bisect(self.need_weights, self.random.random() * self.need_weights[-1])]
            model.tally.need(self, category, night)
            if model.lockers is not None and model.lockers.meets(self, category):
                model.tally.met(self, category, night, "met_automated")
            else:
                to_shop.append((category, night))
        budget = self.cash  # the day's purchases are judged against the cash held now
        for category, night in to_shop:
            self.meet_need(category, night, budget)

    def meet_need(self, category: int, night: bool, budget: int) -> None:
        """Choose an outlet (or order), then pay and visit if it has room."""
        model = self.model
        merchant = self.choose(category, night)
        order = False
        platform = model.platform
        if platform is not None and platform.acting and model.catalogue.deliverable[category]:
            if merchant is not None:
                order = self.random.random() < platform.online_share
            else:
                merchant = platform.outlet_for(self, category, night)
                order = merchant is not None
        if merchant is None:
            model.tally.unmet(self, category, night, "unmet_range")
            return
        price = merchant.price + (platform.delivery_fee if order else 0)
        if price > 0 and price > budget:  # a free visit (a parcel pickup) needs no cash
            model.tally.unmet(self, category, night, "unmet_money")
            return
        if not merchant.admit(first_try=True):
            if order:  # orders are not tried again
                model.tally.unmet(self, category, night, "unmet_capacity")
            else:
                model.turned_away.append((self, category, night))
            return
        if order:
            platform.deliver(self, merchant)
            model.tally.met(self, category, night, "met_delivery")
        else:
            merchant.sell_walk_in(self)
            model.tally.met(self, category, night, "met_walk")

    def try_again(self, category: int, night: bool) -> None:
        """Turned away at a full outlet: the same choice among the outlets in reach that had room."""
        model = self.model
        merchant = self.choose(category, night, with_room=True)
        if merchant is None:
            model.tally.unmet(self, category, night, "unmet_capacity")
        elif merchant.price > 0 and merchant.price > self.cash:
            model.tally.unmet(self, category, night, "unmet_money")
        elif not merchant.admit(first_try=False):
            model.tally.unmet(self, category, night, "unmet_capacity")
        else:
            merchant.sell_walk_in(self)
            model.tally.met(self, category, night, "met_walk")

    def choose(self, category: int, night: bool, with_room: bool = False) -> Merchant | None:
        """An outlet it knows, drawn in proportion to the logit weights of the k nearest open
        outlets within walking range (open at night for a night need; with room left, for a second
        try); if it knows none of them, the one with the largest weight, which it knows from then on."""
        known = self.known[category]
        mine: list[tuple[Merchant, float, float]] = []  # (outlet, weight, minutes) of those it knows
        total = best_weight = 0.0
        best = None
        for merchant, walk_weight, minutes in self.walk_weights(category):
            weight = walk_weight * (merchant.night_attraction if night else merchant.attraction)
            if weight <= 0 or (with_room and not merchant.had_room):
                continue
            if merchant in known:
                mine.append((merchant, weight, minutes))
                total += weight
            if weight > best_weight:  # the first of equals: the nearest
                best, best_weight = merchant, weight
        if mine:
            target = self.random.random() * total
            pick = len(mine) - 1
            for i, (merchant, weight, _) in enumerate(mine):
                target -= weight
                if target < 0:
                    pick = i
                    break
            if self.model.observe_choices and not with_room:
                self.model.tally.choice(mine, pick)
            return mine[pick][0]
        if best is not None:  # knows none in reach: searches, and finds the best
            known.add(best)
        return best

    def walk_weights(self, category: int) -> list[tuple[Merchant, float, float]]:
        """(outlet, exp(-walk_minute_weight x minutes), minutes) for the k nearest open outlets of a trade
        within walking range at its own speed (kept until the trade's map changes)."""
        version = self.model.outlets.version[category]
        hit = self._walk_weights[category]
        if hit is None or hit[0] != version:
            hit = self._walk_weights[category] = (version, self.model.walk_weights(category, self.home, self.speed_class))
        return hit[1]

    # ------------------------------------------------------------------ knowledge
    def notice(self, category: int, before: list[Merchant], now: list[Merchant]) -> None:
        """Its k nearest outlets of ``category`` changed: it still knows those it knew, knows the
        nearest, and knows each newcomer to the list with that outlet's awareness."""
        known = self.known[category]
        kept = set()
        for rank, merchant in enumerate(now):
            if rank == 0:
                kept.add(merchant)
            elif merchant in before:
                if merchant in known:
                    kept.add(merchant)
            elif self.random.random() < merchant.awareness:
                kept.add(merchant)
        self.known[category] = kept

    def hear_of_outlets(self) -> None:
        """Word of mouth: each of its k nearest outlets it does not know becomes known with
        ``discovery_per_month``."""
        p = self.model.scenario.economy.discovery_per_month
        for category, known in enumerate(self.known):
            for merchant in self.model.outlets.nearest(category, self.home):
                if merchant not in known and self.random.random() < p:
                    known.add(merchant)

    def start_afresh(self) -> None:
        """A newcomer in its place: it knows the nearest outlet of each trade and each other of the
        k nearest with ``initial_knowledge``."""
        p = self.model.scenario.economy.initial_knowledge
        for category in range(self.model.catalogue.n):
            nearest = self.model.outlets.nearest(category, self.home)
            self.known[category] = {m for rank, m in enumerate(nearest) if rank == 0 or self.random.random() < p}

    # ------------------------------------------------------------------ work and income
    def collect_income(self) -> None:
        """The month's salary from outside the circle, pension, unemployment insurance and gig pay
        (wages of local jobs are paid by the merchant)."""
        model, money = self.model, self.model.catalogue.money
        income = 0
        if self.employer == OUTSIDE:
            income += round(self.wage * model.scenario.economy.wage_multiplier)
        income += self.pension
        if self.status == UNEMPLOYED and self.benefit_left > 0:
            income += money["unemployment_benefit"]
            self.benefit_left -= 1
        if self.status == FREELANCER:
            income += int(model.rng.poisson(model.scenario.economy.gig_tasks_per_month)) * money["gig_task"]
        self.cash += income
        self.income_month += income

    def take_job(self, employer: Merchant | str) -> None:
        """Start work at a local merchant or outside, at a salary drawn around that kind of job's
        median (log-normal)."""
        model, money, econ = self.model, self.model.catalogue.money, self.model.scenario.economy
        shop = employer != OUTSIDE
        median, spread = (money["shop_wage"], econ.shop_wage_spread) if shop else (money["outside_wage"], econ.wage_spread)
        self.wage = round(median * math.exp(spread * model.rng.standard_normal()))
        self.employer = employer
        self.status = EMPLOYED
        self.benefit_left = 0
        if shop:
            employer.staff.append(self)

    def leave_employer(self) -> None:
        """No longer works where it did (a local merchant loses a member of staff)."""
        if self.employer is not None and self.employer != OUTSIDE:
            self.employer.staff.remove(self)
        self.employer = None
        self.wage = 0

    def lose_job(self) -> None:
        """Out of work (or business): retired at retirement age, else unemployed, insured with
        ``unemployment_insured_share`` for ``benefit_months``."""
        model = self.model
        self.leave_employer()
        self.owned = None
        self.status = RETIRED if self.elderly else UNEMPLOYED
        insured = not self.elderly and self.random.random() < model.scenario.population.unemployment_insured_share
        self.benefit_left = model.scenario.economy.benefit_months if insured else 0

    @property
    def graduate(self) -> bool:
        """Graduated within the last ``GRADUATE_MONTHS``."""
        return self.graduated_month is not None
