"""What state each outlet is in, for maps a class reads: new, open, struggling, closing, closed.

A pure function of the merchant arrays (no rule reads it):

* **new**: opened within the last :data:`RECENT_DAYS` days, after day 0;
* **closing**: has lost money for ``economy.closure_months - 1`` months in a row and holds negative
  cash, so one more losing month closes it (the closure rule of :mod:`sim.economy.accounts`);
* **struggling**: lost money last month (but is not closing);
* **open**: any other outlet that trades;
* **closed**: closed within the last :data:`RECENT_DAYS` days (shown for a while, then dropped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

OPEN, NEW, STRUGGLING, CLOSING, CLOSED = 0, 1, 2, 3, 4
STATE_NAMES = ("open", "new", "struggling", "closing", "closed")
RECENT_DAYS = 30
"""How long an outlet counts as new, and a closed one stays on the map, days."""


def outlet_states(model: LifeCircleModel) -> tuple[np.ndarray, np.ndarray]:
    """(merchant ids shown, their state codes): every open outlet and those closed recently."""
    mer = model.merchants
    day = model.day
    recent_close = ~mer.open & (mer.closed_day >= 0) & (mer.closed_day >= day - RECENT_DAYS)
    ids = np.flatnonzero(mer.open | recent_close)
    state = np.full(len(ids), OPEN, dtype=np.int8)
    losing = mer.months_losing[ids]
    closure = model.scenario.economy.closure_months
    closing = (losing >= max(closure - 1, 1)) & (model.ledger.merchant_cash[ids] < 0)
    state[losing >= 1] = STRUGGLING
    state[closing] = CLOSING
    opened = mer.opened_day[ids]
    state[(opened > 0) & (opened >= day - RECENT_DAYS) & (state == OPEN)] = NEW
    state[~mer.open[ids]] = CLOSED
    return ids, state
