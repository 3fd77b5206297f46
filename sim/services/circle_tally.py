"""The period's need outcomes per life circle (:mod:`sim.city.circles`), counted from the day's needs.

The daily passes (:mod:`sim.services.kernels`) count outcomes per service category for the whole
city (:class:`sim.services.tally.Tally`). When the city is divided into circles, one more compiled
pass over the day's needs, after they are all settled, counts the same outcomes per circle of the
resident's home: a need met is met on foot (a visit, not delivered), by delivery, by a volunteer
(elder care met without a visit) or automated (a locker or vending point); an unmet need keeps its
reason. Summed over the circles, every count equals the city's (a test checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.services.kernels import CANNOT_PAY, TURNED_AWAY
from sim.services.tally import NEED_OUTCOMES

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

#: Columns of :attr:`CircleTally.counts`: the city tally's need outcomes, then the poorest fifth's.
COLUMNS = NEED_OUTCOMES + ("low_income_needs", "low_income_met")
_COL = {name: i for i, name in enumerate(COLUMNS)}


@njit(cache=True, nogil=True)
def count_by_circle(E, res, cats, night, served, visited, delivered, any_delivered, outcome, poor,
                    circle_of_res, n_categories, care_category, counts):  # pragma: no cover - compiled
    """Add the day's needs to ``counts`` ((circles * categories, len(COLUMNS)), row circle * C + c)."""
    for e in range(E):
        r = res[e]
        c = cats[e]
        row = circle_of_res[r] * n_categories + c
        counts[row, 0] += 1                       # needs
        if night[e]:
            counts[row, 8] += 1                   # night_needs
        if poor[r]:
            counts[row, 10] += 1                  # low_income_needs
        if served[e]:
            if night[e]:
                counts[row, 9] += 1               # night_met
            if poor[r]:
                counts[row, 11] += 1              # low_income_met
            if any_delivered and delivered[e]:
                counts[row, 2] += 1               # met_delivery
            elif visited[e]:
                counts[row, 1] += 1               # met_walk
            elif c == care_category:
                counts[row, 4] += 1               # met_volunteer
            else:
                counts[row, 3] += 1               # met_automated
        else:
            why = outcome[e]
            if why == TURNED_AWAY:
                counts[row, 6] += 1               # unmet_capacity
            elif why == CANNOT_PAY:
                counts[row, 7] += 1               # unmet_money
            else:
                counts[row, 5] += 1               # unmet_range


#: Outlet events of the period counted per circle of the outlet's node, as the city tally counts them
#: (:class:`sim.services.tally.Tally`): licences granted and the days they took, ownership
#: transfers, residents' complaints about mobile vendors.
EVENTS = ("births", "deaths", "licensed", "licence_days", "transfers", "complaints")


def shares_of(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole units shared in proportion to whole-number ``weights`` by largest remainders
    (ties to the lower index), in exact integer arithmetic: the shares add up to ``total``."""
    w = np.asarray(weights).astype(np.int64)
    whole = int(w.sum())
    if total <= 0 or whole <= 0:
        return np.zeros(len(w), dtype=np.int64)
    share, rest = np.divmod(total * w, whole)
    share[np.argsort(-rest, kind="stable")[: total - int(share.sum())]] += 1
    return share


@njit(cache=True, nogil=True)
def spent_by_circle(held_before, cash, earned, circle_of_res, out):  # pragma: no cover - compiled
    """``out[circle_of_res[r]] += held_before[r] - (cash[r] - earned[r])`` for every resident r (exact integers)."""
    for r in range(cash.shape[0]):
        out[circle_of_res[r]] += held_before[r] - (cash[r] - earned[r])


class CircleTally:
    """Need outcomes of the current period per circle and category, and outlet events per circle
    (reset with the city's tally)."""

    def __init__(self, n_circles: int, n_categories: int) -> None:
        self.k, self.n_categories = n_circles, n_categories
        self.counts = np.zeros((n_circles * n_categories, len(COLUMNS)), dtype=np.int64)
        self.events = {name: np.zeros(n_circles, dtype=np.int64) for name in EVENTS}
        self.spent = np.zeros(n_circles, dtype=np.int64)  # fen residents paid for services, by home circle

    def reset(self) -> None:
        self.counts[:] = 0
        self.spent[:] = 0
        for counts in self.events.values():
            counts[:] = 0

    def count_spending(self, held_before: np.ndarray, cash: np.ndarray, earned: np.ndarray,
                       circle_of_resident: np.ndarray) -> None:
        """Add what each resident paid during the day's services to their home circle: the fall, from
        before :func:`sim.services.demand.serve_day` (``held_before``: cash less the month's income)
        to after it, of their cash less their income this month (``cash``, ``earned``). Only service
        payments move residents' cash then, and the platform's couriers' pay (delivery fees other
        residents pay them), which adds to their income too; summed over the circles this is the
        ledger's service spending (a test)."""
        spent_by_circle(held_before, cash, earned, circle_of_resident, self.spent)

    def add_events(self, name: str, circles: np.ndarray, amounts: np.ndarray | int = 1) -> None:
        """Add ``amounts`` (each, or one for all) of event ``name`` to ``circles`` (repeats add up)."""
        np.add.at(self.events[name], np.asarray(circles, dtype=np.int64), amounts)

    def count_day(self, model: LifeCircleModel, circle_of_resident: np.ndarray, E: int) -> None:
        """Count the day's ``E`` settled needs (call after :func:`sim.services.demand.serve_day`)."""
        buf = model.day_buffers
        platform = model.levers.get("platform")
        any_delivered = platform is not None and platform.acting
        visited = buf.visit[:E] | buf.visit2[:E]
        count_by_circle(E, buf.res, buf.cats, buf.night, buf.served, visited, buf.delivered, any_delivered,
                        buf.outcome, model.low_income, circle_of_resident, self.n_categories,
                        model.care_category, self.counts)

    def needs(self, circle: int) -> dict[str, np.ndarray]:
        """The city tally's ``needs`` mapping (outcome -> per-category counts) for one circle."""
        block = self.counts[circle * self.n_categories:(circle + 1) * self.n_categories]
        return {name: block[:, _COL[name]].copy() for name in NEED_OUTCOMES}

    def low_income(self, circle: int) -> tuple[int, int]:
        """(needs, needs met) of residents of the poorest fifth of households in ``circle``."""
        block = self.counts[circle * self.n_categories:(circle + 1) * self.n_categories]
        return int(block[:, _COL["low_income_needs"]].sum()), int(block[:, _COL["low_income_met"]].sum())
