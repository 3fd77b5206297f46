"""Merchant state: every outlet's attributes as growable NumPy arrays (index = merchant id).

Closed merchants keep their row (their history stays readable); ``open`` says who trades.
Mobile vendors are merchants with ``mobile`` set: they move between nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

_SPEC: dict[str, tuple[type, object]] = {
    "node": (np.int32, -1),
    "category": (np.int16, -1),
    "capacity": (np.int32, 0),          # visits per day
    "price": (np.int64, 0),             # fen per visit
    "staff_target": (np.int16, 0),      # jobs the outlet needs
    "staff_local": (np.int16, 0),       # of which held by residents
    "staff_outside": (np.int16, 0),     # of which held by commuters from outside
    "rent": (np.int64, 0),              # fen per month paid by the merchant
    "rent_support": (np.int64, 0),      # fen per month paid for it from the public budget
    "open": (np.bool_, False),
    "opened_day": (np.int32, 0),        # day it opened (0: first measured day; negative: in the warm-up)
    "closed_day": (np.int32, 2**31 - 1),  # day it closed; NOT_CLOSED while it trades
    "smart": (np.bool_, False),         # digitalised (smart-store lever)
    "night": (np.bool_, False),         # open at night
    "mobile": (np.bool_, False),        # a mobile vendor
    "renovated": (np.bool_, False),     # trading what its renovated site was tendered for (rent supported)
    "owner": (np.int32, -1),            # resident id of the owner, or -1 (an outside owner)
    "graduate_founded": (np.bool_, False),
    "capital_in": (np.int64, 0),        # fen put in by investors (repaid first when it closes)
    "awareness": (np.float64, 0.0),     # chance a resident whose nearest outlets it joins knows it
    "months_losing": (np.int16, 0),
    "revenue_month": (np.int64, 0),     # fen taken this month
    "profit_last": (np.int64, 0),       # fen profit of the last complete month
    "visits_today": (np.int32, 0),
    "visits_month": (np.int64, 0),
    "wanted_month": (np.int64, 0),      # visits wanted this month (served or turned away at capacity)
    "load_yesterday": (np.float32, 0.0),  # visits wanted / capacity yesterday: today's crowding (> 1 when full)
    "load_today": (np.float32, 0.0),      # the same today, once served (tomorrow's load_yesterday)
    "source": (np.int8, 3),             # where it came from: sim.city.outlet_sources (3 = opened by the model)
}


NOT_CLOSED = 2**31 - 1
"""``closed_day`` of an outlet that has not closed (days can be negative: the warm-up's)."""


@dataclass
class Merchants:
    """Arrays describing all merchants ever opened; see ``_SPEC`` for each column's meaning."""

    node: np.ndarray
    category: np.ndarray
    capacity: np.ndarray
    price: np.ndarray
    staff_target: np.ndarray
    staff_local: np.ndarray
    staff_outside: np.ndarray
    rent: np.ndarray
    rent_support: np.ndarray
    open: np.ndarray
    opened_day: np.ndarray
    closed_day: np.ndarray
    smart: np.ndarray
    night: np.ndarray
    mobile: np.ndarray
    renovated: np.ndarray
    owner: np.ndarray
    graduate_founded: np.ndarray
    capital_in: np.ndarray
    awareness: np.ndarray
    months_losing: np.ndarray
    revenue_month: np.ndarray
    profit_last: np.ndarray
    visits_today: np.ndarray
    visits_month: np.ndarray
    wanted_month: np.ndarray
    load_yesterday: np.ndarray
    load_today: np.ndarray
    source: np.ndarray

    @classmethod
    def empty(cls) -> Merchants:
        """No merchants yet."""
        return cls(**{name: np.zeros(0, dtype=dtype) for name, (dtype, _) in _SPEC.items()})

    @property
    def n(self) -> int:
        """Merchants ever opened (open or closed)."""
        return len(self.node)

    def append(self, count: int, **values: np.ndarray) -> np.ndarray:
        """Add ``count`` rows (columns not given take their defaults); returns the new ids."""
        unknown = set(values) - set(_SPEC)
        if unknown:
            raise KeyError(f"unknown merchant column(s): {sorted(unknown)}")
        start = self.n
        for f in fields(self):
            dtype, default = _SPEC[f.name]
            extra = np.full(count, default, dtype=dtype)
            if f.name in values:
                extra[:] = values[f.name]
            setattr(self, f.name, np.concatenate([getattr(self, f.name), extra]))
        return np.arange(start, start + count)

    def open_ids(self) -> np.ndarray:
        """Ids of merchants trading now."""
        return np.flatnonzero(self.open)
