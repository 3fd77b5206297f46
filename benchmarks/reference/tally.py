"""The month's counts: every need under exactly one outcome, and merchants' births, deaths and
hand-overs (the reference's counterpart of :mod:`sim.services.tally`).

Needs met are counted when met; needs left unmet wait until the end of the day, when volunteers
(retirees) may still meet elder care that found no place.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.reference.scores import SCORES, choice_scores
from sim.scenario import EconomyConfig

if TYPE_CHECKING:
    from benchmarks.reference.merchant import Merchant
    from benchmarks.reference.resident import Resident

OUTCOMES = ("met_walk", "met_delivery", "met_automated", "met_volunteer", "unmet_range", "unmet_capacity", "unmet_money")


class Tally:
    """Counts since the last month end."""

    def __init__(self, n_categories: int) -> None:
        self.n_categories = n_categories
        self.reset()

    def reset(self) -> None:
        """Start a new month."""
        self.needs = [0] * self.n_categories
        self.night_needs = 0
        self.night_met = 0
        self.outcome: dict[str, list[int]] = {name: [0] * self.n_categories for name in OUTCOMES}
        self.unmet_at: Counter = Counter()  # (home node, category) -> needs unmet
        self.low_income_needs = 0
        self.low_income_met = 0
        self.service_spending = 0           # fen residents paid at outlets, for orders and vending
        self.births = self.deaths = self.transfers = 0
        self.losing_months_at_closure = 0  # summed over the month's closures
        self.days = 0
        self.unmet_today: list[tuple[Resident, int, bool, str]] = []
        self.walk_m = 0.0                   # metres walked by the month's walk-ins
        self.walk_ins = 0
        # Choices drawn among known outlets: the rule's scores (benchmarks.reference.scores).
        self.scores = np.zeros(len(SCORES))
        self.draws = 0
        self._choices_today: dict[str, list] = {name: [] for name in ("minutes", "price_term", "load", "options", "pick")}

    def need(self, resident: Resident, category: int, night: bool) -> None:
        """A need arose."""
        self.needs[category] += 1
        self.night_needs += night
        self.low_income_needs += resident.low_income

    def met(self, resident: Resident, category: int, night: bool, how: str) -> None:
        """A need was met (``met_walk``, ``met_delivery``, ``met_automated``, ``met_volunteer``)."""
        self.outcome[how][category] += 1
        self.night_met += night
        self.low_income_met += resident.low_income

    def unmet(self, resident: Resident, category: int, night: bool, why: str) -> None:
        """A need found no place today (``unmet_range``, ``unmet_capacity``, ``unmet_money``); counted
        at the end of the day."""
        self.unmet_today.append((resident, category, night, why))

    def choice(self, drawable: list[tuple[Merchant, float, float]], pick: int) -> None:
        """A first try drawn among known outlets: (outlet, weight, minutes) of each, and which was
        drawn (kept as flat lists of numbers until the day ends)."""
        today = self._choices_today
        for merchant, _, minutes in drawable:
            today["minutes"].append(minutes)
            today["price_term"].append(merchant.price_term)
            today["load"].append(merchant.load_yesterday)
        today["options"].append(len(drawable))
        today["pick"].append(pick)

    def walk_in(self, metres: float) -> None:
        """A walk-in visit, ``metres`` from home."""
        self.walk_m += metres
        self.walk_ins += 1

    def close_day(self, care_category: int, volunteer_visits: int, rnd) -> int:  # noqa: ANN001 - random.Random
        """Volunteers meet up to ``volunteer_visits`` of the day's unmet elder-care needs (a random
        choice of them), then every need still unmet is counted by why. Returns the needs the
        volunteers met."""
        waiting = [i for i, need in enumerate(self.unmet_today) if need[1] == care_category]
        helped = set(rnd.sample(waiting, min(volunteer_visits, len(waiting)))) if waiting and volunteer_visits > 0 else set()
        for i, (resident, category, night, why) in enumerate(self.unmet_today):
            if i in helped:
                self.met(resident, category, night, "met_volunteer")
            else:
                self.outcome[why][category] += 1
                self.unmet_at[(resident.home, category)] += 1
        self.unmet_today = []
        self.days += 1
        return len(helped)

    def score_choices(self, economy: EconomyConfig) -> None:
        """Add the day's draws to the month's choice scores (before the outlets' loads change)."""
        today = self._choices_today
        if today["options"]:
            counts = np.array(today["options"])
            row = np.repeat(np.arange(len(counts)), counts)
            col = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            table = np.zeros((3, len(counts), counts.max()))
            for i, name in enumerate(("minutes", "price_term", "load")):
                table[i, row, col] = today[name]
            drawable = np.zeros((len(counts), counts.max()), dtype=bool)
            drawable[row, col] = True
            self.scores += choice_scores(table[0], table[1], table[2], drawable, np.array(today["pick"]), economy)
            self.draws += len(counts)
        self._choices_today = {name: [] for name in ("minutes", "price_term", "load", "options", "pick")}
