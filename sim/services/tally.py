"""Event counts of the current period (needs met and unmet, openings, closures ...).

Mechanisms report what happened here; indicators (:mod:`sim.metrics.indicators`) read it; the model resets
it after each collection. Nothing else keeps running totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

NEED_OUTCOMES = (
    "needs",            # needs that arose
    "met_walk",         # met by walking to an outlet
    "met_delivery",     # met by an online order delivered by a freelancer
    "met_automated",    # met by a parcel locker or vending point (no shop trip)
    "met_volunteer",    # elder care met by a volunteering retiree
    "unmet_range",      # no outlet within walking range (and no delivery)
    "unmet_capacity",   # the chosen outlet was full
    "unmet_money",      # the resident could not pay
    "night_needs",      # needs arising at night (also counted in needs)
    "night_met",        # night needs met
)


@dataclass
class Tally:
    """Counts per service category for the current period, plus merchant events."""

    n_categories: int
    needs: dict[str, np.ndarray] = field(init=False)
    births: int = 0
    deaths: int = 0
    transfers: int = 0
    licensed: int = 0       # entrants that opened with a licence in the period (not mobile vendors)
    low_income_needs: int = 0  # needs of residents in the poorest fifth of households (per-capita income)
    low_income_met: int = 0    # ... of which met
    spending_at_start: int = 0  # residents' cumulative service spending (ledger) when the period began
    licence_days: int = 0   # days they waited for it, in all
    graduate_startups: int = 0
    complaints: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def service_spent(self, model: LifeCircleModel) -> int:
        """Fen residents paid for services in the period (the ledger's service flows since it began)."""
        return model.ledger.service_spending() - self.spending_at_start

    def reset(self) -> None:
        """Zero every count (start of a new period)."""
        self.needs = {name: np.zeros(self.n_categories, dtype=np.int64) for name in NEED_OUTCOMES}
        self.births = self.deaths = self.transfers = self.graduate_startups = self.complaints = self.days = 0
        self.licensed = self.licence_days = 0
        self.low_income_needs = self.low_income_met = 0

    def add(self, outcome: str, categories: np.ndarray) -> None:
        """Count one event per entry of ``categories`` under ``outcome``."""
        if len(categories):
            self.needs[outcome] += np.bincount(categories, minlength=self.n_categories)
