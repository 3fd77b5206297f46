"""New outlets: would-be entrants, their market study, licences and opening (engine: :mod:`sim.economy.entry`).

Each month, after the levers have acted:

1. **Successors.** Each shop closed in the last ``VACANCY_MONTHS`` months is looked at by a
   would-be entrant of its former trade (its customers know the premises; it pays
   ``takeover_cost_share`` of the start-up cost).
2. **Arrivals.** Would-be entrants arrive per category, Poisson with mean ``entrants_per_month``
   per 1,000 residents; each views ``sites_considered`` shop-space nodes at random and takes the
   one whose market study (4.) promises the most revenue per unit of cost (or, under the siting
   lever, the candidate that closes the largest coverage gap).
3. **Resident founders.** Each freelancer and each recent graduate not running a business founds
   one with ``startup_per_month``: it weighs ``FOUNDER_OPTIONS`` ideas (a trade drawn in proportion
   to last month's unmet needs plus an even share, a random site) and takes the best margin, working
   in the shop itself (one wage fewer to pay).
4. **Market study.** Expected visits a day: for every home within the walking limit, the share of
   its residents' needs of the trade that the new outlet would win by their own choice rule -- its
   walking weight (typical price, no crowding) over the weights of the outlets on their list of the
   ``k`` nearest after it joins (the nearest entrant still waiting for a licence counts as a rival) --
   times the share who would know of it on opening (all if it is their nearest, else its
   awareness). Revenue = min(visits, capacity) x 30 x typical spend; costs = staff, rent, fixed
   costs, goods and the start-up cost over ``payback_months``. It applies if revenue covers
   ``entry_hurdle`` x costs.
5. **Licence.** It waits ``licence_days`` for its licence unless it gives up (``abandon_per_day``),
   then opens with ``opening_cash_months`` of running costs as working capital from investors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.reference.resident import FREELANCER, OWNER

if TYPE_CHECKING:
    from benchmarks.reference.model import ReferenceModel
    from benchmarks.reference.resident import Resident

DAYS_PER_MONTH = 30.0
VACANCY_MONTHS = 6
FOUNDER_OPTIONS = 5


@dataclass
class Applicant:
    """An entrant waiting for its licence."""

    open_day: int
    node: int
    category: int
    founder: Resident | None
    successor: bool


@dataclass
class Vacancy:
    """A shop vacated by a closed outlet, offered to a successor of its trade."""

    node: int
    category: int
    month: int


class Entry:
    """The licence queue, the vacated shops and the month's entry decisions of a model."""

    def __init__(self, model: ReferenceModel) -> None:
        self.model = model
        self.queue: list[Applicant] = []
        self.vacancies: list[Vacancy] = []
        self._studies: dict[tuple, tuple[float, float]] = {}  # this month's market studies

    # ------------------------------------------------------------------ the month
    def month(self) -> None:
        """Successors, arrivals and founders decide (see the module docstring)."""
        model = self.model
        self._studies = {}
        rnd, econ = model.random, model.scenario.economy
        self.vacancies = [v for v in self.vacancies if model.month - v.month <= VACANCY_MONTHS]
        for vacancy in list(self.vacancies):
            if self.consider(vacancy.category, vacancy.node, founder=None, successor=True):
                self.vacancies.remove(vacancy)
        n_residents = len(model.residents)
        for category in range(model.catalogue.n):
            for _ in range(int(model.rng.poisson(econ.entrants_per_month * n_residents / 1000.0))):
                self.consider(category, self.site(category), founder=None, successor=False)
        founders = [p for p in model.residents if p.status == FREELANCER and p.owned is None
                    and rnd.random() < econ.startup_per_month]
        founders += [p for p in model.residents if p.graduate and p.owned is None and p.status != OWNER
                     and rnd.random() < econ.startup_per_month]
        for person in founders:
            self.found(person)

    def site(self, category: int) -> int:
        """Where an arriving entrant of ``category`` looks: under the siting lever, the lever's
        choice; else it views ``sites_considered`` shop premises drawn at random and takes the one
        whose market study promises the most revenue per unit of cost (the first of equals)."""
        model = self.model
        if model.siting is not None and model.siting.acting:
            return model.siting.choose_site(category)
        viewed = [model.random.choice(model.shop_nodes) for _ in range(model.scenario.economy.sites_considered)]
        best_node, best_ratio = viewed[0], -math.inf
        for node in viewed:
            revenue, costs = self.study(node, category)
            if revenue / max(costs, 1.0) > best_ratio:
                best_node, best_ratio = node, revenue / max(costs, 1.0)
        return best_node

    def consider(self, category: int, node: int, *, founder: Resident | None, successor: bool) -> bool:
        """An entrant looks at a site; applies for a licence if its market study passes."""
        revenue, costs = self.study(node, category, successor=successor)
        if revenue < self.model.scenario.economy.entry_hurdle * costs:
            return False
        return self.apply(category, node, founder=founder, successor=successor)

    def apply(self, category: int, node: int, *, founder: Resident | None, successor: bool) -> bool:
        """Join the licence queue, unless it gives up while waiting (drawn now)."""
        model, econ = self.model, self.model.scenario.economy
        days = econ.licence_days
        if model.random.random() < 1 - (1 - econ.abandon_per_day) ** days:
            return False
        self.queue.append(Applicant(open_day=model.day + days, node=node, category=category,
                                    founder=founder, successor=successor))
        self._studies = {}  # a waiting entrant is a rival in later studies
        return True

    def found(self, person: Resident) -> None:
        """A resident founder weighs a few ideas and applies for the best, if it has a margin."""
        model = self.model
        cat, econ, rnd = model.catalogue, model.scenario.economy, model.random
        unmet = [sum(model.unmet_last_month.get((v, c), 0) for v in range(model.streets.n_nodes))
                 for c in range(cat.n)]
        total = sum(unmet)
        weights = [u / total + 1.0 / cat.n for u in unmet] if total > 0 else [1.0] * cat.n
        best = None
        for _ in range(FOUNDER_OPTIONS):
            category = rnd.choices(range(cat.n), weights=weights)[0]
            node = rnd.choice(model.shop_nodes)
            revenue, costs = self.study(node, category)
            own_work = model.shop_wage_fen if cat.staff[category] > 0 else 0  # the founder works there
            margin = revenue - econ.entry_hurdle * max(costs - own_work, 0.0)
            if best is None or margin > best[0]:
                best = (margin, category, node)
        if best[0] >= 0:
            self.apply(best[1], best[2], founder=person, successor=False)

    # ------------------------------------------------------------------ the market study
    def study(self, node: int, category: int, *, successor: bool = False) -> tuple[float, float]:
        """(expected monthly revenue, expected monthly costs), fen, of a new outlet at ``node``."""
        key = (node, category, successor)
        if key not in self._studies:
            self._studies[key] = self._study(node, category, successor)
        return self._studies[key]

    def _study(self, node: int, category: int, successor: bool) -> tuple[float, float]:
        model = self.model
        cat, econ, money = model.catalogue, model.scenario.economy, model.catalogue.money
        awareness = 1.0 if successor else econ.initial_knowledge
        waiting = [a.node for a in self.queue if a.category == category]
        rival_m = {}  # nearest waiting entrant of the trade from each home, metres
        for v in waiting:
            for home, metres in model.streets.within(v, model.walk_limit_m).items():
                rival_m[home] = min(rival_m.get(home, math.inf), metres)
        visits = 0.0
        k = model.outlets.k
        for home, metres in model.streets.within(node, model.walk_limit_m).items():
            demand = model.demand_at.get((home, category))
            if not demand:
                continue
            listed = model.outlets.listed(category, home)[:k]
            pending = rival_m.get(home, math.inf)
            # Its place on the list: behind existing outlets at the same distance (they opened first).
            nearer = sum(1 for d, _, _ in listed if d <= metres) + (pending <= metres)
            if nearer >= k:
                continue
            rivals = [(d, m) for d, _, m in listed]
            if pending < math.inf:
                rivals.append((pending, None))
                rivals.sort(key=lambda r: (r[0], r[1] is None))  # the waiting one after equals
            rivals = rivals[: k - 1] if len(rivals) >= k else rivals
            aware = 1.0 if nearer == 0 else awareness
            for speed_class, wanted in demand.items():
                speed = model.walk_speeds[speed_class]
                if metres / speed > econ.max_walk_minutes:
                    continue
                own = math.exp(-econ.walk_minute_weight * metres / speed)
                total = own
                for d, rival in rivals:
                    minutes = d / speed
                    if minutes > econ.max_walk_minutes:
                        continue
                    total += math.exp(-econ.walk_minute_weight * minutes) * (1.0 if rival is None else rival.attraction)
                visits += wanted * aware * own / total
        per_visit = cat.spend_fen[category] + (money["parcel_fee"] if category == model.parcel_category else 0)
        revenue = min(visits, cat.capacity[category]) * DAYS_PER_MONTH * per_visit
        goods = revenue * cat.cogs_share[category] * cat.spend_fen[category] / max(per_visit, 1)
        costs = model.running_costs(category) + goods + model.startup_cost(successor) / econ.payback_months
        return float(revenue), float(costs)

    # ------------------------------------------------------------------ opening
    def open_due(self) -> None:
        """Open every entrant whose licence is granted today (resident founders last)."""
        model = self.model
        due = [a for a in self.queue if a.open_day <= model.day]
        if not due:
            return
        self.queue = [a for a in self.queue if a.open_day > model.day]
        founders = [a for a in due if a.founder is not None and a.founder.owned is None]
        founders = [a for i, a in enumerate(founders) if all(b.founder is not a.founder for b in founders[:i])]
        due = [a for a in due if a.founder is None] + founders  # a founder opens one business
        econ = model.scenario.economy
        merchants = model.open_outlets([(a.node, a.category) for a in due], owners=[a.founder for a in due],
                                       awareness=[1.0 if a.successor else econ.initial_knowledge for a in due])
        for applicant, merchant in zip(due, merchants):
            working = round(model.running_costs(applicant.category) * econ.opening_cash_months)
            merchant.capital_in = model.startup_cost(applicant.successor) + working
            merchant.cash = working  # the start-up cost is spent on fit-out and licences
            if applicant.founder is not None:
                person = applicant.founder
                merchant.staff_target = max(merchant.staff_target - 1, 0)  # the owner works there
                person.leave_employer()
                person.owned = merchant
                person.status = OWNER
                person.benefit_left = 0
            model.tally.births += 1
        self._studies = {}
