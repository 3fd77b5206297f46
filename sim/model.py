"""The life-circle model: a Mesa model whose population state lives in NumPy arrays.

One step is one day. Each day licensed entrants due that day open (:mod:`sim.economy.entry`), then
needs arise and are met (:mod:`sim.services.demand`). On a month's last day the accounts are paid
(:mod:`sim.economy.accounts`), the labour market clears (:mod:`sim.economy.labour`), graduates, word
of mouth and movers follow, and the month's indicators are collected; then the new month opens: the
levers act (:mod:`sim.levers`), volunteers are drawn and would-be entrants decide. Every transfer goes through the ledger, which is
checked for conservation every day.

Every resident, merchant, freelancer and retiree is also a Mesa agent (:mod:`agents`): a light
view onto its row of the arrays, so ``model.agents_by_type[Resident]`` and
``resident.walk_minutes_to("pharmacy")`` work while the rules run over whole populations. The
views are made when first asked for (``model.agents``, ``agents_by_type``, ``agent_types``,
``resident_agents``, ``merchant_agents``), from the state of that moment, and kept in step from
then on: a run that never looks at them (the command line, batches) does not pay for them
(100,000 residents: 0.3 s and 33 MB).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path

import mesa
import numpy as np
import pandas as pd

from agents import Freelancer, Merchant, Resident, Retiree
from sim.economy import accounts, entry, labour
from sim.services import demand, kernels
from sim.services.blocks import threads_for
from sim.metrics import indicators as metrics
from sim.services.catalogue import Catalogue, load_catalogue
from sim.io.checkpoint import CheckpointStore, default_store, warmup_key
from sim.city.circles import Circles, build_circles
from sim.city.grid import City, build_city
from sim.metrics.circles import per_circle
from sim.services.circle_tally import CircleTally
from sim.services.fastrng import pack_alias, seed_state
from sim.levers import LeverSet
from sim.economy.ledger import Ledger
from sim.economy.merchants import Merchants
from sim.city.outlet_sources import MODEL, initial_sources
from sim.economy.population import (EMPLOYED, FREELANCER, RETIRED, SPEED_CLASSES, UNEMPLOYED, Population, build_population,
                            newcomers, renew_graduates, speed_table)
from sim.scenario import Scenario
from sim.io.state import capture, restore
from sim.sorting import stable_argsort
from sim.streams import Streams
from sim.services.tally import Tally
from sim.timing import PhaseTimer
from sim.city.walk import NearestOutlets, OutletReach, reach_of


class LifeCircleModel(mesa.Model):
    """A 15-minute life circle under a policy scenario.

    Building the model first simulates the scenario's ``warmup_years`` with every lever off, so
    that the measured period starts from a settled district; that settled state is saved in a
    checkpoint store and later models of the same district, people, economy and seed start from it
    (:mod:`sim.io.checkpoint`) with identical results. Day 0 and month 0 are the first measured day and
    month (warm-up days and months are negative); Mesa's ``time`` counts measured days.

    Args:
        scenario: The validated scenario (see :func:`sim.scenario.load_scenario`).
        seed: Overrides ``scenario.seed`` when given.
        city: A prebuilt city (to share one loaded district between runs); built from the
            scenario when omitted. It must be the city this scenario and seed build: a grid city is
            drawn from the seed's stream, and a settled start is saved under the scenario and seed.
        create_agents: Offer the Mesa agent views (True): made on first use, from then on kept in
            step. False: none (``model.agents`` is empty).
        checkpoints: Where settled states are kept: a :class:`~sim.io.checkpoint.CheckpointStore`, a
            folder, ``None`` for the default store (:func:`sim.io.checkpoint.default_store`), or False
            to warm up without reading or writing any.
    """

    def __init__(self, *, scenario: Scenario, seed: int | None = None, city: City | None = None,
                 create_agents: bool = True, checkpoints: CheckpointStore | str | Path | bool | None = None) -> None:
        seed = scenario.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.scenario = scenario  # replaces Mesa's own (empty) experimental scenario object
        self.seed = seed
        self.streams = Streams(seed)
        self.catalogue: Catalogue = load_catalogue(
            scenario.economy.catalogue, base=scenario.resolve_path(".")
        )
        self.city: City = city if city is not None else build_city(scenario, self.streams["city"])
        self.circles: Circles = build_circles(scenario, self.city)
        # This run's shop space: renovation adds to it; a city shared by several runs never changes.
        self.commercial = np.array(self.city.commercial, dtype=bool, copy=True)
        self.warmup_days = _days_in(scenario.start_date, scenario.warmup_years, backwards=True)
        self.days_total = _days_in(scenario.start_date, scenario.years)
        first = scenario.start_date - dt.timedelta(days=self.warmup_days)
        self._dates = np.array([first + dt.timedelta(days=d) for d in range(self.warmup_days + self.days_total + 1)])
        self.day = -self.warmup_days
        self.month = -sum(self._dates[d + 1].month != self._dates[d].month for d in range(self.warmup_days))
        self.tally = Tally(self.catalogue.n)
        self.levers = LeverSet.off(self)  # the warm-up runs with every lever off

        self.population, self.households = build_population(scenario, self.city, self.catalogue,
                                                            self.streams["population"], self.month)
        pop = self.population
        self.speeds = speed_table(scenario)
        n_nodes = self.city.graph.shape[0]
        self.residents_at_node = np.bincount(pop.home, minlength=n_nodes)
        self.circle_of_resident = self.circles.of_node[pop.home]
        # Need outcomes per circle, counted in the measured period when the city has several.
        self.circle_tally = CircleTally(self.circles.k, self.catalogue.n) if self.circles.k > 1 else None
        self.circle_evaluations: list[dict] = []  # the city budget's evaluations of each circle
        self._circle_records: list[tuple[int, int, list[dict[str, float]]]] = []
        # Residents are stored in home order: those of node v are first_resident[v]:first_resident[v + 1].
        self.first_resident = np.concatenate([[0], np.cumsum(self.residents_at_node)]).astype(np.int64)
        self.need_group, group_rates = demand.need_groups(pop, self.households, self.catalogue)
        self.need_rates = demand.NeedRates(group_rates, self.catalogue.night_share)
        resident_rates = np.array(group_rates)[self.need_group]                     # (N, C) visits a day
        # Visits a day wanted by the residents of each (home node, speed class), by category (children's
        # needs with their carer's): what an entrant's market study reads.
        self.class_demand = np.zeros((self.catalogue.n, n_nodes, SPEED_CLASSES), dtype=np.float64)
        for c in range(self.catalogue.n):
            np.add.at(self.class_demand[c], (pop.home, pop.speed_class), resident_rates[:, c])
        self.day_buffers = demand.DayBuffers(pop.n)
        self.outlet_buffers = demand.OutletBuffers()
        # What each resident's needs (with any children they care for) cost at typical prices, fen a month.
        self.typical_service_spend = resident_rates @ (self.catalogue.spend_fen * 30.0)
        self.household_typical_spend = self.households.total(self.typical_service_spend)  # each month end's
        names = self.catalogue.names
        self.parcel_category = names.index("parcel_point") if "parcel_point" in names else -1
        self.care_category = names.index("elder_care") if "elder_care" in names else -1
        self.volunteer_visits_left = 0.0
        self.unmet_last_month = np.zeros((n_nodes, self.catalogue.n), dtype=np.int64)
        self.unmet_this_month = np.zeros(n_nodes * self.catalogue.n, dtype=np.int64)  # node * C + category
        self.licence_queue = entry.LicenceQueue()
        self.vacancies = entry.Vacancies()
        self.low_income = np.zeros(pop.n, dtype=bool)  # residents of the poorest fifth of households
        self.income_order_hint: np.ndarray | None = None  # households by per-head income (mark_low_income)
        self.evaluations: list[dict[str, float]] = []
        self.indicator_names = metrics.resolve(scenario.output.indicators)
        self._records: list[tuple[int, int, dict[str, float]]] = []
        self._warmup_records: list[tuple[int, int, dict[str, float]]] = []

        econ = scenario.economy
        walk_limit = econ.max_walk_minutes * float(self.speeds.max())
        self.reach = OutletReach(self.city.graph, self.catalogue.n, econ.choice_candidates, walk_limit)
        self.choice_tables = demand.ChoiceTables(self.speeds, self.catalogue.n, n_nodes, econ.choice_candidates)
        self.phase_timer: PhaseTimer | None = None  # benchmarks attach one (sim.timing)
        self.nearest_m = np.full((n_nodes, self.catalogue.n), np.inf)
        self.nearest_outlets = NearestOutlets(self.city.graph, self.catalogue.n)  # outlets alone (levers add to nearest_m)
        self.nearest_version = 0  # bumped whenever nearest_m changes (indicators cache on it)
        self.merchants = Merchants.empty()
        self._within_cache: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}
        self.revenue_memo: dict = {}  # entry.expected_revenue's answers this month
        self._agents_wanted = False  # agent views are offered once the measured period begins,
        self._agents_made = False  # and made at their first use (:meth:`_agent_views`)
        self._resident_agents: dict[int, Resident] = {}
        self._merchant_agents: dict[int, Merchant] = {}

        self.start_seconds = {"warmup": 0.0, "checkpoint": 0.0}
        """Wall seconds of building the settled start: the warm-up simulated here, and loading or saving
        its checkpoint (the rest of building is the city, arrays and agents; :class:`sim.timing.RunTimings`)."""
        clock = time.perf_counter()
        store = _store(checkpoints) if self.warmup_days > 0 else None
        settled = None
        if store is None:
            self._timed_warm_up()
        else:
            key = warmup_key(scenario, seed)
            settled = store.load(key)
            if settled is None:
                with store.lock(key):
                    settled = store.load(key)  # another process may have saved it while we waited
                    if settled is None:
                        self._timed_warm_up()
                        store.save(key, capture(self))
            if settled is not None:
                restore(self, settled)
        self.start_seconds["checkpoint"] = time.perf_counter() - clock - self.start_seconds["warmup"]
        self.warmup_source = "none" if self.warmup_days == 0 else "checkpoint" if settled is not None else "computed"
        """Where the settled start came from: ``computed`` here, loaded from a ``checkpoint``, or
        ``none`` (no warm-up)."""
        self._begin_measured(create_agents)

    def _timed_warm_up(self) -> None:
        """:meth:`_warm_up`, its wall seconds kept in ``start_seconds``."""
        clock = time.perf_counter()
        self._warm_up()
        self.start_seconds["warmup"] = time.perf_counter() - clock

    def _warm_up(self) -> None:
        """The synthetic first day, then every warm-up day (if any), with every lever off."""
        self._open_day_one()
        while self.day < 0:
            self._simulate_day()

    def _open_day_one(self) -> None:
        """The synthetic first day: residents' starting cash, the city's outlets, staffed and funded."""
        pop, econ, money = self.population, self.scenario.economy, self.catalogue.money
        # Start-up cash: initial_cash_months of each resident's expected income -- their own pension
        # and wage, gig pay, an insured job seeker's benefit; nothing else outside the labour force or
        # without insurance -- pooled in the household and shared out equally, as every month end does.
        expected = (pop.pension + np.where(pop.status == EMPLOYED, pop.wage, 0)
                    + np.where(pop.status == FREELANCER, econ.gig_tasks_per_month * money["gig_task"], 0)
                    + np.where((pop.status == UNEMPLOYED) & (pop.benefit_left > 0), money["unemployment_benefit"], 0))
        cash = np.round(expected * self.scenario.population.initial_cash_months).astype(np.int64)
        self.ledger = Ledger(self.households.shared_out(cash))
        nodes, cats = self.city.initial_outlets(self.catalogue, pop.n, self.streams["city.outlets"])
        ids = self.add_outlets(nodes=nodes, categories=cats, owners=np.full(len(nodes), -1),
                               source=initial_sources(self.city, len(nodes)))
        labour.staff_initial_outlets(self, ids)
        entry.fund_openings(self, ids, fitted_out=True)  # working capital; no start-up cost
        self.start_outlets = ids  # survival in the warm-up counts from the first day
        self._refresh_volunteering()
        self.ledger.check()

    def _begin_measured(self, create_agents: bool) -> None:
        """Month 0: the scenario's levers take over, the tallies start afresh, the new month opens (its
        entrants decide under the scenario's levers, on its first day), agents are offered."""
        self._new_period()
        self.ledger.mark_opening()  # accounts.csv's "start": before month 0's levers and entrants move money
        self.start_outlets = np.flatnonzero(self.merchants.open)  # open when measuring begins
        self.levers = LeverSet(self.scenario, self)
        self.levers.setup()
        self.levers.on_reach_changed(np.arange(self.catalogue.n))  # levers that track outlets see them all
        self.levers.month_start(0)
        self._refresh_volunteering()
        if self.warmup_days > 0 and self._month_ends(-1):
            # The warm-up's last month end left the new month's entrants to the scenario's levers.
            entry.month_entry(self)
            self._start_month()
        self.ledger.check()
        self._agents_wanted = create_agents

    # ------------------------------------------------------------------ agent views
    def _agent_views(self) -> None:
        """Make the Mesa agent views, at their first use: one per resident, of the class its status
        gives (:func:`_agent_class`), and one per open outlet. From then on openings, closures and
        changes of role keep them in step (:meth:`add_outlets`, :meth:`on_outlets_closed`,
        :meth:`roles_changed`)."""
        if self._agents_wanted and not self._agents_made:
            self._agents_made = True
            for idx in range(self.population.n):
                self._make_resident_agent(idx)
            for m in np.flatnonzero(self.merchants.open):
                self._merchant_agents[int(m)] = Merchant(self, merchant_id=int(m))

    @property
    def agents(self) -> mesa.agent.AgentSet:
        """Every agent view (Mesa's own set; made at the first use)."""
        self._agent_views()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type, mesa.agent.AgentSet]:
        """The agent views by class (Mesa's own sets; made at the first use)."""
        self._agent_views()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """The classes of the agent views (made at the first use)."""
        self._agent_views()
        return super().agent_types

    @property
    def resident_agents(self) -> dict[int, Resident]:
        """Resident (freelancer, retiree) views by row of the population arrays (made at the first use)."""
        self._agent_views()
        return self._resident_agents

    @property
    def merchant_agents(self) -> dict[int, Merchant]:
        """Merchant views of the open outlets by merchant id (made at the first use)."""
        self._agent_views()
        return self._merchant_agents

    @property
    def scenario(self) -> Scenario:
        """The lifecircle scenario this model runs (not Mesa's experimental Scenario)."""
        return self._scenario

    @scenario.setter
    def scenario(self, value: Scenario) -> None:
        self._scenario = value

    # ------------------------------------------------------------------ time
    @property
    def date(self) -> dt.date:
        """Calendar date of the current day."""
        return self.date_of(self.day)

    def date_of(self, day: int) -> dt.date:
        """Calendar date of ``day`` (0: the first measured day; negative: warm-up days)."""
        return self._dates[day + self.warmup_days]

    @property
    def dates(self) -> np.ndarray:
        """Calendar dates of the measured days 0 .. days_total (the last is the day after the run)."""
        return self._dates[self.warmup_days:]

    def step(self) -> None:
        """Simulate one (measured) day."""
        self._simulate_day()
        if self.day >= self.days_total:
            self.running = False

    def _simulate_day(self) -> None:
        """One day of the rules, in the warm-up or the measured period."""
        timer = self.phase_timer
        if timer is not None:
            timer.start("entry and levers")
        entry.open_due(self)
        needs_before = int(self.tally.needs["needs"].sum())
        by_circle = self.circle_tally is not None and self.day >= 0
        if by_circle:  # residents' cash less this month's earnings: what falls today is what they pay
            held_before = self.ledger.resident_cash - self.population.income_month
        demand.serve_day(self)  # times its own phases: needs, choice, spending
        if by_circle:
            needs_today = int(self.tally.needs["needs"].sum()) - needs_before
            self.circle_tally.count_day(self, self.circle_of_resident, needs_today)
            self.circle_tally.count_spending(held_before, self.ledger.resident_cash, self.population.income_month,
                                             self.circle_of_resident)
        if timer is not None:
            timer.start("entry and levers")
        self.levers.day_end()
        month_end = self._month_ends(self.day)
        if month_end:
            if timer is not None:
                timer.start("monthly accounts")
            self._close_month()
        # The warm-up collects monthly whatever the outputs ask: its checkpoint (and warmup.parquet) do
        # not depend on them.
        if month_end or (self.scenario.output.collect_every == "day" and self.day >= 0):
            if timer is not None:
                timer.start("indicators")
            self.collect(self.month if month_end else self.month + 1)  # labelled m: covers month m - 1
        # The new month's levers and entrants act after the month's collection. The warm-up's last month
        # end leaves them to the measured period, whose levers decide them (:meth:`_begin_measured`).
        if month_end and self.day != -1:
            if timer is not None:
                timer.start("monthly accounts")
            self._open_month()
        self.ledger.check()
        if timer is not None:
            timer.stop()
        self.day += 1

    def count_circle_events(self, name: str, nodes: np.ndarray, amounts: np.ndarray | int = 1) -> None:
        """Count outlet events ``name`` (:data:`sim.services.circle_tally.EVENTS`) at ``nodes`` per
        circle, in the measured period of a city divided into circles (as the need outcomes are)."""
        if self.circle_tally is not None and self.day >= 0 and len(nodes):
            self.circle_tally.add_events(name, self.circles.of(nodes), amounts)

    def _month_ends(self, day: int) -> bool:
        """Whether ``day`` is a month's last day (or the run's last day)."""
        return self.date_of(day + 1).month != self.date_of(day).month or day + 1 == self.days_total

    def _close_month(self) -> None:
        """A month's last day, before its indicators are collected: the accounts, the labour market,
        graduates, word of mouth, movers; the month's unmet needs and incomes become last month's."""
        accounts.pay_month(self)
        self.mark_low_income(self.population.income_month)
        labour.month_labour(self)
        renew_graduates(self.population, self.month + 1, self.scenario.population.graduate_share,
                        self.streams["graduates"])
        self._learn_by_word_of_mouth()
        newcomers(self.population, self.scenario.population.move_per_month, self.reach.k,
                  self.scenario.economy.initial_knowledge, self.streams["newcomers"])
        self.roll_unmet()
        self.month += 1
        self.population.income_last[:] = self.population.income_month
        self.population.income_month[:] = 0

    def _open_month(self) -> None:
        """After the month's collection: the new month's levers act, volunteers are drawn, would-be
        entrants decide, and the merchants' monthly takings start afresh."""
        self.levers.month_start(self.month)
        self._refresh_volunteering()
        entry.month_entry(self)
        self._start_month()

    def mark_low_income(self, income: np.ndarray) -> None:
        """Mark the residents of the poorest fifth of households (by per-capita ``income``, over persons)."""
        hh = self.households
        per_head = hh.total(income) / np.maximum(hh.persons, 1)
        order = stable_argsort(per_head)
        self.income_order_hint = order  # the month's income indicators rank the same figures: a hint
        cum = np.cumsum(hh.persons[order])
        poorest = np.zeros(hh.n, dtype=bool)
        poorest[order[: int(np.searchsorted(cum, 0.2 * cum[-1])) + 1]] = True
        self.low_income = poorest[hh.of_resident]

    def _start_month(self) -> None:
        """Zero the merchants' monthly takings once the month's indicators are collected."""
        self.merchants.revenue_month[:] = 0
        self.merchants.visits_month[:] = 0
        self.merchants.wanted_month[:] = 0

    def collect(self, label: int | None = None) -> dict[str, float]:
        """Evaluate the indicators now, record them, and start a new tally period.

        The record is labelled ``label``: a collection labelled m covers month m - 1 (default: the
        month counter, which a month's last day has already advanced; a daily collection on another
        day of month k passes k + 1). In the measured period: the scenario's indicators. In the
        warm-up: every indicator (the warm-up, and its checkpoint, do not depend on the scenario's
        outputs)."""
        month = self.month if label is None else label
        if self.day < 0:
            values = metrics.compute(self, list(metrics.REGISTRY))
            self._warmup_records.append((self.day, month, values))
        else:
            values = metrics.compute(self, self.indicator_names)
            self._records.append((self.day, month, values))
            if self.circle_tally is not None:
                self._circle_records.append((self.day, month, per_circle(self, self.indicator_names)))
        self._new_period()
        return values

    def _new_period(self) -> None:
        """Start a new tally period (after a collection)."""
        self.tally.reset()
        if self.circle_tally is not None:
            self.circle_tally.reset()
        self.tally.spending_at_start = self.ledger.service_spending()

    def timeseries(self) -> pd.DataFrame:
        """Every indicator collected in the measured period as a tidy frame: day, date, month,
        indicator, value (day and month 0 are the first measured ones)."""
        return self._frame(self._records)

    def warmup_timeseries(self) -> pd.DataFrame:
        """The warm-up's monthly indicators (the scenario's selection), with negative days and
        months (the last warm-up month is -1): how the district settled before month 0."""
        names = set(self.indicator_names)
        return self._frame([(d, m, {k: v for k, v in values.items() if k in names or k.split(".")[0] in names})
                            for d, m, values in self._warmup_records])

    def _frame(self, records: list[tuple[int, int, dict[str, float]]]) -> pd.DataFrame:
        if not records:
            frame = pd.DataFrame([], columns=["day", "date", "month", "indicator", "value"])
            frame["date"] = pd.to_datetime(frame["date"])
            return frame
        # Built column by column, dates converted once per collection: a 20-year warm-up's ~50,000
        # rows took 0.15 s as row tuples.
        counts = [len(values) for _, _, values in records]
        days = [day for day, _, _ in records]
        dates = pd.to_datetime(pd.Series([self.date_of(day) for day in days])).to_numpy()
        return pd.DataFrame({
            "day": np.repeat(np.array(days, dtype=np.int64), counts),
            "date": np.repeat(dates, counts),
            "month": np.repeat(np.array([month for _, month, _ in records], dtype=np.int64), counts),
            "indicator": [name for _, _, values in records for name in values],
            "value": [value for _, _, values in records for value in values.values()],
        })

    def circle_timeseries(self) -> pd.DataFrame:
        """Every indicator collected in the measured period per life circle (city-only ones left
        out: :data:`sim.metrics.circles.CITY_ONLY`): day, date, month, circle, name, indicator,
        value. Empty when the city is one circle (its values are :meth:`timeseries`)."""
        names = self.circles.names
        rows = [(day, self.date_of(day), month, k, names[k], name, value)
                for day, month, circles in self._circle_records
                for k, values in enumerate(circles) for name, value in values.items()]
        frame = pd.DataFrame(rows, columns=["day", "date", "month", "circle", "name", "indicator", "value"])
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    def roll_unmet(self) -> None:
        """Turn this month's unmet needs into the map entrants read next month."""
        self.unmet_last_month = self.unmet_this_month.reshape(self.unmet_last_month.shape)
        self.unmet_this_month = np.zeros_like(self.unmet_this_month)

    # ------------------------------------------------------------------ parameters under levers
    def param(self, name: str) -> float:
        """An economy parameter as the levers in force make it (see :meth:`LeverSet.blend`)."""
        return self.levers.blend(name, getattr(self.scenario.economy, name))

    def shop_wage_fen(self) -> int:
        """Monthly wage of shop staff, fen."""
        return int(round(self.catalogue.money["shop_wage"] * self.scenario.economy.wage_multiplier))

    def rent_fen_per_m2(self) -> float:
        """Monthly shop rent per square metre, fen."""
        return self.catalogue.money["rent"] * self.scenario.economy.rent_multiplier

    def startup_cost_fen(self) -> int:
        """Start-up cost of a new outlet, fen (electronic licences lower it)."""
        return int(round(self.catalogue.money["startup_cost"] * self.param("startup_cost_multiplier")))

    def smart_cost_saving(self) -> float:
        """Cost saving of a digitalised store (0 when the smart-store lever is not in the scenario)."""
        lever = self.levers.get("smart_stores")
        return lever.config.cost_saving if lever is not None else 0.0

    def nodes_within(self, node: int, limit_m: float) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, distances in metres) within ``limit_m`` of ``node`` on the street network.

        Memoised for the run (the network does not change): entrants, siting and local hiring ask
        about the same shop nodes and walking tiers month after month.
        """
        key = (int(node), float(limit_m))
        hit = self._within_cache.get(key)
        if hit is None:
            hit = reach_of(self.city.graph, np.array([node]), limit_m)[0]
            self._within_cache[key] = hit
        return hit

    def nodes_within_many(self, nodes: Sequence[int] | np.ndarray,
                          limit_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`nodes_within` for each of ``nodes``; those not yet memoised are searched in one
        call (each source's search is its own: the same answers as one call per node)."""
        missing = [v for v in dict.fromkeys(int(v) for v in nodes) if (v, float(limit_m)) not in self._within_cache]
        if missing:
            for v, hit in zip(missing, reach_of(self.city.graph, np.array(missing), limit_m)):
                self._within_cache[(v, float(limit_m))] = hit
        return [self._within_cache[(int(v), float(limit_m))] for v in nodes]

    def shop_nodes(self) -> np.ndarray:
        """Nodes with shop space for new outlets (renovation adds some)."""
        return np.flatnonzero(self.commercial)

    def outlet_attraction(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-outlet choice factors for day and night needs (0 for an outlet that is shut)."""
        mer, econ, cat = self.merchants, self.scenario.economy, self.catalogue
        typical = np.maximum(cat.spend_fen[np.maximum(mer.category, 0)], 1)
        utility = -econ.price_weight * (mer.price / typical - 1) - econ.crowding_weight * np.minimum(mer.load_yesterday, 2.0)
        factor = np.where(mer.open, np.exp(utility), 0.0).astype(np.float32)
        night = np.where(mer.night, factor, 0.0).astype(np.float32)
        return factor, night

    # ------------------------------------------------------------------ outlets
    def add_outlets(self, *, nodes: np.ndarray, categories: np.ndarray, owners: np.ndarray,
                    mobile: bool = False, capacity: np.ndarray | None = None,
                    awareness: np.ndarray | None = None, source: np.ndarray | int = MODEL,
                    rng: np.random.Generator | None = None) -> np.ndarray:
        """Open outlets (merchants) at ``nodes``; returns their ids. Funding is the caller's.

        ``rng``: where their prices, night opening and residents' knowledge of them are drawn from
        (default: the ``outlets`` and ``knowledge.new`` streams; a lever opening outlets of its own
        passes its stream, so that the outlets the rules open later draw what they would without it).

        ``awareness``: the chance that a resident whose nearest outlets an outlet joins knows it
        (default ``economy.initial_knowledge``; 1 for a successor in a vacated shop of its trade).
        ``source`` says where they came from (:mod:`sim.city.outlet_sources`): the map, a POI table or
        synthesis for day-one outlets, the model's own rules (the default) for later ones.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        categories = np.asarray(categories, dtype=np.int64)
        if len(nodes) == 0:
            return np.zeros(0, dtype=np.int64)
        cat, econ = self.catalogue, self.scenario.economy
        draws = self.streams["outlets"] if rng is None else rng
        spread = 1 + econ.price_dispersion * draws.standard_normal(len(nodes))
        price = np.round(cat.spend_fen[categories] * np.clip(spread, 0.3, 3.0)).astype(np.int64)
        rent = np.round(cat.area_m2[categories] * self.rent_fen_per_m2()).astype(np.int64)
        ids = self.merchants.append(
            len(nodes), node=nodes, category=categories,
            capacity=cat.capacity[categories] if capacity is None else capacity,
            price=price, staff_target=cat.staff[categories], rent=0 if mobile else rent,
            open=True, opened_day=self.day, owner=owners, mobile=mobile, source=source,
            awareness=econ.initial_knowledge if awareness is None else awareness,
            night=(cat.night_share[categories] > 0) & (draws.random(len(nodes)) < econ.night_open_share),
        )
        self.ledger.add_merchants(len(nodes))
        self.levers.on_outlets_opened(ids)
        self._update_reach(added=ids, rng=rng)
        if self._agents_made:
            for m in ids:
                self._merchant_agents[int(m)] = Merchant(self, merchant_id=int(m))
        return ids

    def on_outlets_closed(self, ids: np.ndarray, rng: np.random.Generator | None = None) -> None:
        """Walking tables and agents after outlets close (called by :func:`accounts.close_merchants`;
        ``rng`` as there)."""
        self._update_reach(removed=ids, rng=rng)
        for m in ids:
            agent = self._merchant_agents.pop(int(m), None)
            if agent is not None:
                agent.remove()

    def move_outlets(self, ids: np.ndarray, nodes: np.ndarray, rng: np.random.Generator | None = None) -> None:
        """Move (mobile) outlets to new nodes (``rng``: as for :meth:`add_outlets`)."""
        self.reach.remove(ids)
        self.merchants.node[ids] = nodes
        self._update_reach(added=ids, already_removed=True, rng=rng)

    def _update_reach(self, added: np.ndarray | None = None, removed: np.ndarray | None = None,
                      already_removed: bool = False, rng: np.random.Generator | None = None) -> None:
        mer = self.merchants
        touched = set()
        if removed is not None and len(removed):
            touched |= set(mer.category[removed].tolist())
        if added is not None and len(added):
            touched |= set(mer.category[added].tolist())
        old = {c: self.reach.outlet[c].copy() for c in touched}  # the rank tables before
        if removed is not None and len(removed):
            self.reach.remove(removed, threads=threads_for(self.population.n))
        if added is not None and len(added):
            self.reach.add(added, mer.node[added], mer.category[added])
        if not touched:
            return
        cats = np.array(sorted(touched))
        econ = self.scenario.economy
        # Only the nodes whose k nearest changed: the same outlet ids in a row are at the same
        # distances, unless an outlet moved (its removal was not seen here: every row then).
        rows = None if already_removed else \
            {c: np.flatnonzero((old[c] != self.reach.outlet[c]).any(axis=1)) for c in touched}
        self.choice_tables.update(cats, self.reach, econ.walk_minute_weight, econ.max_walk_minutes, rows)
        open_nodes = [mer.node[(mer.category == c) & mer.open] for c in cats]
        self.nearest_m[:, cats] = self.nearest_outlets.update(cats, open_nodes).T
        state = seed_state(self.streams["knowledge.new"] if rng is None else rng)
        for c in cats:
            kernels.remap_knowledge(state, self.population.knows, int(c), old[c], self.reach.outlet[c],
                                    self.first_resident, mer.awareness)
        self.nearest_version += 1
        self.levers.on_reach_changed(cats)

    # ------------------------------------------------------------------ people
    def _learn_by_word_of_mouth(self) -> None:
        """Each unknown nearby outlet becomes known with ``discovery_per_month`` (each resident,
        category and rank independently)."""
        p = self.scenario.economy.discovery_per_month
        if p <= 0:
            return
        K = self.reach.k
        masks = np.arange(2 ** K)
        learnt = np.array([bin(m).count("1") for m in masks])
        # Each rank is learnt independently with probability p: mask m has p^|m| (1-p)^(K-|m|).
        prob_of_mask = p ** learnt * (1 - p) ** (K - learnt)
        table = pack_alias(*demand.alias_table(prob_of_mask))[None, :]
        demand.learn_bits(self, table)

    def _refresh_volunteering(self) -> None:
        """Volunteers and their monthly elder-care visits (retirees lever raises both)."""
        pop = self.population
        share = self.param("volunteer_share")
        draw = self.streams["volunteers"].random(pop.n)
        pop.volunteer = (pop.status == RETIRED) & (draw < share)
        per_hour = self.levers.blend("care_visits_per_hour", 1.0)
        self.volunteer_visits_left = float(pop.volunteer.sum() * self.scenario.economy.volunteer_hours_per_month * per_hour)

    def roles_changed(self, ids: np.ndarray) -> None:
        """Swap agent views whose role (plain resident, freelancer, retiree) changed."""
        if not self._agents_made or len(ids) == 0:
            return
        for idx in np.unique(ids):
            agent = self._resident_agents.get(int(idx))
            if agent is None or type(agent) is not _agent_class(self.population, int(idx)):
                if agent is not None:
                    agent.remove()
                self._make_resident_agent(int(idx))

    def _make_resident_agent(self, idx: int) -> None:
        cls = _agent_class(self.population, idx)
        self._resident_agents[idx] = cls(self, resident_id=idx)


def _agent_class(pop: Population, idx: int) -> type[Resident]:
    if pop.status[idx] == RETIRED:
        return Retiree
    if pop.status[idx] == FREELANCER:
        return Freelancer
    return Resident


def _days_in(start: dt.date, years: float, *, backwards: bool = False) -> int:
    """Days in ``years`` from ``start`` (or up to ``start``, ``backwards``), in whole calendar months:
    ``years x 12`` rounded to the nearest month, at least one when ``years`` > 0 (``start`` is the
    first of a month, so the period ends on a month's last day, where the accounts close)."""
    months = round(years * 12)
    if years > 0:
        months = max(months, 1)
    index = start.year * 12 + start.month - 1 + (-months if backwards else months)
    return abs((dt.date(index // 12, index % 12 + 1, start.day) - start).days)


def _store(checkpoints: CheckpointStore | str | Path | bool | None) -> CheckpointStore | None:
    if checkpoints is None or checkpoints is True:
        return default_store()
    if checkpoints is False:
        return None
    return checkpoints if isinstance(checkpoints, CheckpointStore) else CheckpointStore(checkpoints)
