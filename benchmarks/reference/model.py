"""The reference model: the life circle's rules written per agent, the plain Mesa way.

It builds its own world from the scenario and the seed (households, residents, outlets, walking
distances, its own random draws; only the street network and the service catalogue, which are
input data, are read with the engine's loaders) and runs the daily and monthly rules agent by
agent. See :mod:`benchmarks.reference` for what it covers and how it is compared with the engine.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import mesa
from mesa.discrete_space import Network

from benchmarks.reference.entry import Entry, Vacancy
from benchmarks.reference.household import Household
from benchmarks.reference.labour import clear_labour_market
from benchmarks.reference.levers import DELIVERY_CANDIDATES, Lockers, Platform, Siting
from benchmarks.reference.merchant import Merchant
from benchmarks.reference.outlet_map import OutletMap
from benchmarks.reference.records import month_record
from benchmarks.reference.resident import (EMPLOYED, FREELANCER, OUT_OF_LABOUR, OUTSIDE, RETIRED, UNEMPLOYED,
                                           Resident)
from benchmarks.reference.streets import Streets
from benchmarks.reference.tally import Tally
from sim.services.catalogue import load_catalogue
from sim.city.grid import GridCity, build_city
from sim.scenario import Scenario
from sim.streams import Streams

GRADUATE_MONTHS = 36
GRADUATE_MAX_AGE = 28


class ReferenceModel(mesa.Model):
    """Per-agent reference of the life circle (see :mod:`benchmarks.reference`).

    Args:
        scenario: The validated scenario (the same object the engine takes).
        seed: Overrides ``scenario.seed`` when given.
        observe_choices: Record every first try drawn among known outlets for the choice scores
            (:mod:`benchmarks.reference.scores`; the docking's first month); off, the run is faster.

    Attributes:
        records: One dict of indicators per measured month (:func:`benchmarks.reference.records.month_record`).
    """

    MAX_CHILDREN = 3
    """Children of an age group whose needs a carer carries (more count as this many)."""

    def __init__(self, *, scenario: Scenario, seed: int | None = None, observe_choices: bool = False) -> None:
        seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self._lifecircle_scenario = scenario
        self.seed = seed
        self.observe_choices = observe_choices
        econ, people = scenario.economy, scenario.population
        # Input data: the catalogue file, and this seed's street network (a grid's shop space is
        # drawn from the seed's "city" stream, so both models walk the same streets).
        self.catalogue = load_catalogue(econ.catalogue, base=scenario.resolve_path("."))
        self.city = build_city(scenario, Streams(seed)["city"])
        self.streets = Streets(self.city)
        # Mesa's discrete space over the streets: residents stand at home, outlets at their node.
        self.grid = Network(self.streets.graph, layout={v: self.city.node_xy[v] for v in range(self.streets.n_nodes)},
                            random=self.random)
        self.shop_nodes = [int(v) for v in range(len(self.city.commercial)) if self.city.commercial[v]]
        base = people.walk_speed_m_per_min
        self.walk_speeds = [base, base * people.elderly_walk_factor, base * people.disabled_walk_factor,
                            base * people.elderly_walk_factor * people.disabled_walk_factor]
        self.walk_limit_m = econ.max_walk_minutes * max(self.walk_speeds)
        self.outlets = OutletMap(self.streets, self.catalogue.n, self.walk_limit_m, econ.choice_candidates)
        names = self.catalogue.names
        self.parcel_category = names.index("parcel_point") if "parcel_point" in names else -1
        self.care_category = names.index("elder_care") if "elder_care" in names else -1
        self.parcel_fee = int(self.catalogue.money["parcel_fee"])
        self.shop_wage_fen = round(self.catalogue.money["shop_wage"] * econ.wage_multiplier)
        self.need_slots = [(c, False) for c in range(self.catalogue.n)] + [(c, True) for c in range(self.catalogue.n)]

        # The calendar: warm-up days are negative, day 0 is the first measured one.
        self.warmup_days = _days_in(scenario.start_date, scenario.warmup_years, backwards=True)
        self.days_total = _days_in(scenario.start_date, scenario.years)
        self.first_date = scenario.start_date - dt.timedelta(days=self.warmup_days)
        self.day = -self.warmup_days
        self.month = -sum(1 for d in range(-self.warmup_days, 0) if self.date_of(d + 1).month != self.date_of(d).month)

        self.tally = Tally(self.catalogue.n)
        self.entry = Entry(self)
        self.platform = self.lockers = self.siting = None  # levers are off in the warm-up
        self.unmet_last_month: dict[tuple[int, int], int] = {}
        self.turned_away: list[tuple[Resident, int, bool]] = []
        self.courier_fees_today = 0
        self.volunteer_visits_left = 0.0
        self.next_outlet_id = 0
        self.records: list[dict[str, float]] = []
        self._walk_weights: dict[tuple[int, int, int], tuple[int, list]] = {}

        self._make_people()
        self._open_day_one()
        while self.day < 0:
            self._simulate_day()
        self._begin_measured()

    @property
    def scenario(self) -> Scenario:
        """The lifecircle scenario (not Mesa's experimental Scenario)."""
        return self._lifecircle_scenario

    @scenario.setter
    def scenario(self, value: object) -> None:
        pass  # Mesa sets its own (empty) scenario object; ours is read-only

    # ------------------------------------------------------------------ the world
    def _make_people(self) -> None:
        """Households by the census sizes, their adult residents and children."""
        people, econ, money = self.scenario.population, self.scenario.economy, self.catalogue.money
        rng, rnd = self.rng, self.random
        shares = [s / sum(people.household_sizes) for s in people.household_sizes]
        sizes = list(range(1, len(shares) + 1))
        mean_size = sum(s * n for s, n in zip(shares, sizes))
        mean_others = mean_size - 1
        # A member after the first is a child with the chance that gives children_per_adult overall.
        child = people.children_per_adult * mean_size / ((1 + people.children_per_adult) * mean_others) if mean_others else 0.0
        child = min(max(child, 0.0), 1.0)
        weight = [float(w) for w in self.city.residential_weight]
        nodes = list(range(len(weight)))
        left = people.residents
        while left > 0:
            size = rnd.choices(sizes, weights=shares)[0]
            children = int(rng.binomial(size - 1, child))
            adults = min(size - children, left)
            young = int(rng.binomial(children, people.young_children_share))
            has_property = rnd.random() < econ.property_income_share
            household = Household(
                self, home=rnd.choices(nodes, weights=weight)[0], young_children=young,
                school_children=children - young,
                property_income=_lognormal(rng, money["property_income"], econ.property_income_spread) if has_property else 0)
            for _ in range(adults):
                household.members.append(self._make_resident(household))
            household.share_cash(sum(person.cash for person in household.members))
            left -= adults
        self.households = list(self.agents_by_type[Household])
        self.residents = [p for h in self.households for p in h.members]
        # Recent graduates: graduate_share of all residents, among the young adults.
        young_adults = [p for p in self.residents if not p.elderly and p.age <= GRADUATE_MAX_AGE]
        p_graduate = min(1.0, people.graduate_share * len(self.residents) / max(len(young_adults), 1))
        for person in young_adults:
            if rnd.random() < p_graduate:
                person.graduated_month = self.month - rnd.randrange(GRADUATE_MONTHS)
        self.residents_at: dict[int, list[Resident]] = defaultdict(list)
        self.demand_at: dict[tuple[int, int], dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for household in self.households:
            household.carer = next((p for p in household.members if not p.elderly), household.members[0])
        for person in self.residents:
            person.set_needs()
            self.residents_at[person.home].append(person)
            for c, rate in enumerate(person.rates):
                if rate > 0:
                    self.demand_at[(person.home, c)][person.speed_class] += rate
        self.residents_at_node = {v: len(people_here) for v, people_here in self.residents_at.items()}

    def _make_resident(self, household: Household) -> Resident:
        people, econ, money = self.scenario.population, self.scenario.economy, self.catalogue.money
        rng, rnd = self.rng, self.random
        elderly = rnd.random() < people.elderly_share
        age = rnd.randint(people.retirement_age, 95) if elderly else rnd.randint(18, max(people.retirement_age, 19) - 1)
        disabled = rnd.random() < people.disabled_share
        draw, outside = rnd.random(), rnd.random() < people.outside_labour_force_share
        status = EMPLOYED
        if draw < people.unemployment_rate:
            status = UNEMPLOYED
        elif draw < people.unemployment_rate + people.freelancer_share:
            status = FREELANCER
        if outside:
            status = OUT_OF_LABOUR
        if elderly:
            status = RETIRED
        insured = status == UNEMPLOYED and rnd.random() < people.unemployment_insured_share
        person = Resident(
            self, household=household, age=age, disabled=disabled, status=status,
            wage=_lognormal(rng, money["outside_wage"], econ.wage_spread) if status == EMPLOYED else 0,
            pension=_lognormal(rng, money["pension"], econ.pension_spread) if elderly else 0,
            benefit_left=rnd.randint(1, max(econ.benefit_months, 1)) if insured else 0, graduated_month=None)
        # Start-up cash: initial_cash_months of the person's expected income (their own pension and
        # wage, gig pay, an insured job seeker's benefit), pooled in the household once all its
        # members are made.
        usual = person.pension + (person.wage if status == EMPLOYED else 0)
        usual += econ.gig_tasks_per_month * money["gig_task"] if status == FREELANCER else 0
        usual += money["unemployment_benefit"] if insured else 0
        person.cash = round(usual * people.initial_cash_months)
        return person

    def _open_day_one(self) -> None:
        """Outlets at the catalogue's densities on random shop-space nodes (or the map's), staffed
        and funded with a spread of working capital; volunteers."""
        cat, econ = self.catalogue, self.scenario.economy
        n = len(self.residents)
        if isinstance(self.city, GridCity):
            sites = []
            for c in range(cat.n):
                count = round(cat.per_10k[c] * n / 10_000)
                count = 1 if cat.per_10k[c] > 0 and count == 0 else count
                sites += [(self.random.choice(self.shop_nodes), c) for _ in range(count)]
        else:  # a real district: the mapped shops are input data
            nodes, categories = self.city.initial_outlets(cat, n, self.rng)
            sites = list(zip(nodes.tolist(), categories.tolist()))
        merchants = self.open_outlets(sites, owners=None, awareness=econ.initial_knowledge)
        employed_outside = [p for p in self.residents if p.employer == OUTSIDE]
        self.random.shuffle(employed_outside)
        for merchant in merchants:
            for _ in range(merchant.staff_target):
                if self.random.random() < econ.local_hire_share and employed_outside:
                    employed_outside.pop().take_job(merchant)
                else:
                    merchant.commuters += 1
            # Established businesses of different reserves: working capital around the usual.
            merchant.cash = round(self.running_costs(merchant.category) * econ.opening_cash_months
                                  * self.random.uniform(0.5, 1.5))
            merchant.capital_in = merchant.cash
        self.draw_volunteers()

    def _begin_measured(self) -> None:
        """Month 0: the scenario's levers take over; the month's counts start afresh."""
        levers = self.scenario.levers
        if levers.platform.enabled:
            self.platform = Platform(self, levers.platform)
            self.delivery_map = OutletMap(self.streets, self.catalogue.n, levers.platform.delivery_radius_m,
                                          DELIVERY_CANDIDATES)
            self.delivery_map.add(self.open_merchants())
        self.lockers = Lockers(self, levers.lockers) if levers.lockers.enabled else None
        self.siting = Siting(self, levers.siting) if levers.siting.enabled else None
        self.tally.reset()
        if self.warmup_days > 0 and self.date_of(0).month != self.date_of(-1).month:
            self._open_month()  # the warm-up's last month end left the new month to the scenario's levers
        else:
            for lever in self.levers():
                lever.month_start(self.month)
            self.draw_volunteers()

    def levers(self) -> list:
        """The scenario's levers this model implements (platform, lockers, siting)."""
        return [lever for lever in (self.platform, self.lockers, self.siting) if lever is not None]

    # ------------------------------------------------------------------ outlets
    def open_merchants(self) -> list[Merchant]:
        """The outlets trading now."""
        return list(self.agents_by_type.get(Merchant, []))

    def open_outlets(self, sites: list[tuple[int, int]], *, owners: list[Resident | None] | None,
                     awareness: float | list[float]) -> list[Merchant]:
        """Open outlets at (node, category) sites: each with its own price (the typical spend times
        1 + ``price_dispersion`` x a standard normal, within 0.3-3), rent for its floor area, and
        night opening with ``night_open_share`` for trades with night needs."""
        cat, econ = self.catalogue, self.scenario.economy
        opened = []
        for i, (node, category) in enumerate(sites):
            spread = min(max(1 + econ.price_dispersion * self.rng.standard_normal(), 0.3), 3.0)
            merchant = Merchant(
                self, outlet_id=self.next_outlet_id, category=category, node=node,
                price=round(cat.spend_fen[category] * spread), capacity=int(cat.capacity[category]),
                night=bool(cat.night_share[category] > 0) and self.random.random() < econ.night_open_share,
                staff_target=int(cat.staff[category]), rent=round(cat.area_m2[category] * self.rent_fen_per_m2()),
                awareness=awareness if isinstance(awareness, float) else awareness[i],
                owner=None if owners is None else owners[i], opened_day=self.day)
            self.next_outlet_id += 1
            opened.append(merchant)
        self._notice(self.outlets.add(opened))
        if self.platform is not None:
            self.delivery_map.add(opened)
        return opened

    def close_outlets(self, merchants: list[Merchant]) -> None:
        """Close outlets (money, staff, owner: :meth:`Merchant.close`), take them off the map and
        offer their shops to successors of their trade."""
        if not merchants:
            return
        for merchant in merchants:
            merchant.close()
            self.entry.vacancies.append(Vacancy(node=merchant.node, category=merchant.category, month=self.month))
        self._notice(self.outlets.remove(merchants))
        if self.platform is not None:
            self.delivery_map.remove(merchants)
        for merchant in merchants:
            merchant.remove()

    def _notice(self, changed: dict[tuple[int, int], list[Merchant]]) -> None:
        """Residents whose k nearest outlets of a trade changed update what they know."""
        for (category, node), before in changed.items():
            now = self.outlets.nearest(category, node)
            for person in self.residents_at.get(node, []):
                person.notice(category, before, now)

    def walk_weights(self, category: int, home: int, speed_class: int) -> list[tuple[Merchant, float, float]]:
        """(outlet, exp(-walk_minute_weight x minutes), minutes) for the k nearest open outlets of a
        trade within ``max_walk_minutes`` at a speed class's walk speed (cached until the map changes)."""
        key = (category, home, speed_class)
        version = self.outlets.version[category]
        hit = self._walk_weights.get(key)
        if hit is None or hit[0] != version:
            econ = self.scenario.economy
            speed = self.walk_speeds[speed_class]
            weights = [(m, math.exp(-econ.walk_minute_weight * metres / speed), metres / speed)
                       for metres, _, m in self.outlets.listed(category, home)[: self.outlets.k]
                       if metres / speed <= econ.max_walk_minutes]
            hit = self._walk_weights[key] = (version, weights)
        return hit[1]

    def nearest_outlet_m(self, category: int) -> dict[int, float]:
        """Metres from every node to the nearest open outlet of a trade (lockers count as parcel
        points)."""
        sources = [m.node for m in self.open_merchants() if m.category == category]
        if category == self.parcel_category and self.lockers is not None:
            sources += self.lockers.lockers
        return self.streets.nearest_from(sources)

    def rent_fen_per_m2(self) -> float:
        """Monthly shop rent per square metre, fen."""
        return self.catalogue.money["rent"] * self.scenario.economy.rent_multiplier

    def running_costs(self, category: int) -> float:
        """A new outlet's monthly costs before any revenue: staff, rent, fixed costs, fen."""
        cat = self.catalogue
        return float(cat.staff[category] * self.shop_wage_fen + cat.area_m2[category] * self.rent_fen_per_m2()
                     + cat.money["fixed_cost"])

    def startup_cost(self, successor: bool) -> int:
        """Start-up cost of a new shop (a successor in a vacated shop of its trade pays a share), fen."""
        econ = self.scenario.economy
        full = round(self.catalogue.money["startup_cost"] * econ.startup_cost_multiplier)
        return round(full * econ.takeover_cost_share) if successor else full

    # ------------------------------------------------------------------ time
    def date_of(self, day: int) -> dt.date:
        """Calendar date of ``day`` (0: the first measured day)."""
        return self.first_date + dt.timedelta(days=day + self.warmup_days)

    def step(self) -> None:
        """One measured day."""
        self._simulate_day()
        if self.day >= self.days_total:
            self.running = False

    def _simulate_day(self) -> None:
        """Entrants open; merchants open their doors; residents meet their needs in a random order;
        couriers are paid; walk-ins turned away try again; volunteers; at a month's end, the month."""
        self.entry.open_due()
        merchants = self.open_merchants()
        for merchant in merchants:
            merchant.start_day()
        self.turned_away = []
        self.agents_by_type[Resident].shuffle_do("step")
        if self.platform is not None:
            self.platform.pay_couriers()
        for merchant in merchants:
            merchant.had_room = merchant.visits_today < merchant.capacity
        self.random.shuffle(self.turned_away)
        for person, category, night in self.turned_away:
            person.try_again(category, night)
        self.tally.score_choices(self.scenario.economy)
        for merchant in merchants:
            merchant.end_day()
        helped = self.tally.close_day(self.care_category, int(self.volunteer_visits_left), self.random)
        self.volunteer_visits_left -= helped
        if self.date_of(self.day + 1).month != self.date_of(self.day).month or self.day + 1 == self.days_total:
            self._end_month()
        self.day += 1

    def _end_month(self) -> None:
        """The month's end, in the engine's order: accounts, closures and hand-overs, households;
        labour market; graduates; word of mouth; movers; indicators; the new month's levers;
        volunteers; entrants (the warm-up's last month end leaves these three to the measured period)."""
        econ = self.scenario.economy
        for person in self.residents:
            person.collect_income()
        for household in self.households:
            household.receive_property_income()
        merchants = self.open_merchants()
        for merchant in merchants:
            merchant.pay_month()
        closing, handing_over = [], []
        for merchant in merchants:
            leaving = self.random.random() < econ.exit_per_month
            if merchant.failing() or (leaving and not merchant.going_concern()):
                closing.append(merchant)
            elif leaving:
                handing_over.append(merchant)
        self.close_outlets(closing)
        for merchant in handing_over:
            merchant.hand_over()
        for household in self.households:
            household.settle_month()
        self._mark_low_income()
        clear_labour_market(self)
        self._renew_graduates()
        for person in self.residents:
            person.hear_of_outlets()
        for person in self.residents:
            if self.random.random() < self.scenario.population.move_per_month:
                person.start_afresh()
        self.unmet_last_month = dict(self.tally.unmet_at)
        self.month += 1
        for person in self.residents:
            person.income_last, person.income_month = person.income_month, 0
        if self.day >= 0:
            self.records.append(month_record(self))
        self.tally.reset()
        if self.day != -1:
            self._open_month()
            if self.day >= 0:  # as the engine's observer reads it: after the new month's entrants decided
                self.records[-1]["entrants_waiting"] = float(len(self.entry.queue))

    def _open_month(self) -> None:
        """After the month's indicators: the new month's levers, volunteers and entrants; the
        merchants' monthly takings start afresh."""
        if self.month >= 0:
            for lever in self.levers():
                lever.month_start(self.month)
        self.draw_volunteers()
        self.entry.month()
        for merchant in self.open_merchants():
            merchant.reset_month()

    def _mark_low_income(self) -> None:
        """Residents of the poorest fifth of households (income per member this month, over persons)."""
        order = sorted(self.households, key=lambda h: h.income() / max(h.persons, 1))
        everyone = sum(h.persons for h in self.households)
        counted = 0
        for household in order:
            poorest = counted < 0.2 * everyone
            for person in household.members:
                person.low_income = poorest
            counted += household.persons

    def _renew_graduates(self) -> None:
        """Graduates of ``GRADUATE_MONTHS`` ago stop counting; new ones graduate (Poisson, so that
        ``graduate_share`` of the residents are recent graduates)."""
        month = self.month + 1
        for person in self.residents:
            if person.graduate and month - person.graduated_month >= GRADUATE_MONTHS:
                person.graduated_month = None
        pool = [p for p in self.residents if not p.graduate and not p.elderly and p.age <= GRADUATE_MAX_AGE
                and p.owned is None]
        new = min(int(self.rng.poisson(self.scenario.population.graduate_share * len(self.residents) / GRADUATE_MONTHS)),
                  len(pool))
        for person in self.random.sample(pool, new):
            person.graduated_month = month

    def draw_volunteers(self) -> None:
        """Retirees volunteer with ``volunteer_share``; each gives ``volunteer_hours_per_month`` hours
        of elder care, one visit an hour."""
        econ = self.scenario.economy
        for person in self.residents:
            person.volunteer = person.status == RETIRED and self.random.random() < econ.volunteer_share
        self.volunteer_visits_left = float(sum(p.volunteer for p in self.residents) * econ.volunteer_hours_per_month)


def _lognormal(rng, median: float, spread: float) -> int:  # noqa: ANN001 - numpy Generator
    """A monthly amount (fen) drawn log-normally around ``median`` with log-sigma ``spread``."""
    return round(median * math.exp(spread * rng.standard_normal()))


def _days_in(start: dt.date, years: float, *, backwards: bool = False) -> int:
    """Days in ``years`` from ``start`` (the first of a month; or up to it): whole calendar months,
    ``years x 12`` rounded, at least one when ``years`` > 0."""
    months = max(round(years * 12), 1 if years > 0 else 0)
    year, month = divmod(start.year * 12 + start.month - 1 + (-months if backwards else months), 12)
    return abs((dt.date(year, month + 1, 1) - start).days)
