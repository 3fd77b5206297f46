"""One simulated day's trips, read from the day's needs, for views and lessons.

The daily rules (:mod:`sim.services.demand`) decide, for every need of the day, whether it was met on foot at
an outlet, delivered by the platform, met at a locker or vending point, or not met. :func:`step_day`
simulates one day and then reads those outcomes for a sample of residents (from the day's buffers,
which hold the day just simulated until the next one), as trips with a start and an end node:

* **walk**: the resident walks from home to the outlet they chose (and back);
* **delivery**: a courier (a freelancer) rides from the outlet to the resident's home;
* **automated**: the resident walks to the nearest parcel locker (a parcel) or vending point
  (a small convenience purchase).

Needs met by volunteers, and unmet needs, make no trip. Reading is a pure function of model state:
nothing here changes what the model does, and a batch never calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

WALK, DELIVERY, AUTOMATED = 0, 1, 2
KIND_NAMES = ("walk", "delivery", "automated")


@dataclass(frozen=True)
class DayTrips:
    """Trips of one day (one row per trip, in resident order).

    Attributes:
        day: The day simulated (``model.day`` before the step).
        resident: Resident id of each trip.
        kind: :data:`WALK`, :data:`DELIVERY` or :data:`AUTOMATED`.
        category: Service category id.
        night: Whether the need arose at night.
        outlet: Merchant id served (-1 for lockers and vending points).
        home: Home node of the resident.
        place: Node of the outlet, locker or vending point.
        needs: Needs of the sampled residents that day (trips or not).
    """

    day: int
    resident: np.ndarray
    kind: np.ndarray
    category: np.ndarray
    night: np.ndarray
    outlet: np.ndarray
    home: np.ndarray
    place: np.ndarray
    needs: int

    def __len__(self) -> int:
        return len(self.resident)

    def count(self, kind: int) -> int:
        """Trips of ``kind``."""
        return int((self.kind == kind).sum())


def step_day(model: LifeCircleModel, residents: np.ndarray | None = None) -> DayTrips:
    """Simulate one day (``model.step()``) and return the trips of ``residents`` (default: all).

    Whether the platform took orders is read before the step: its strength may change at a month's
    end, after the day's orders were routed.
    """
    platform = model.levers.get("platform")
    orders = platform is not None and platform.acting
    day = model.day
    model.step()
    return read_trips(model, day, residents, orders=orders)


def _nearest_of(model: LifeCircleModel, nodes: np.ndarray) -> np.ndarray:
    """Per street node, the nearest of ``nodes`` along the streets (-1: none reachable)."""
    n = model.city.graph.shape[0]
    if len(nodes) == 0:
        return np.full(n, -1, dtype=np.int64)
    _, _, sources = dijkstra(model.city.graph, directed=True, indices=np.unique(nodes), min_only=True,
                             return_predecessors=True)
    return sources.astype(np.int64)


def read_trips(model: LifeCircleModel, day: int, residents: np.ndarray | None, *, orders: bool) -> DayTrips:
    """The trips in the day buffers (the day just simulated) of ``residents`` (None: everyone).

    Args:
        model: The model, right after the step that simulated ``day``.
        day: The day simulated.
        residents: Resident ids to read (a view's sample), or None for all.
        orders: Whether the platform took orders that day (else delivery flags are stale).
    """
    buf = model.day_buffers
    E = int(buf.counts.sum())
    res = buf.res[:E]
    keep = np.ones(E, dtype=bool)
    if residents is not None:
        wanted = np.zeros(model.population.n, dtype=bool)
        wanted[np.asarray(residents, dtype=np.int64)] = True
        keep = wanted[res]
    visit, served, chosen = buf.visit[:E], buf.served[:E], buf.chosen[:E]
    delivered = buf.delivered[:E] if orders else np.zeros(E, dtype=bool)
    cats = buf.cats[:E]
    walk = keep & visit & ~delivered
    # Walk-ins turned away at a full outlet who found another with room walked there instead.
    again = keep & ~buf.skip[:E] & buf.visit2[:E]
    chosen = np.where(again, buf.chosen2[:E], chosen)
    walk |= again
    deliver = keep & visit & delivered
    automated = np.zeros(E, dtype=bool)
    place_auto = np.full(E, -1, dtype=np.int64)
    lockers = model.levers.get("lockers")
    home_of = model.population.home
    if lockers is not None:
        names = model.catalogue.names
        candidates = keep & served & (chosen < 0)
        for category, nodes in ((model.parcel_category, lockers.locker_nodes),
                                (names.index("convenience_store") if "convenience_store" in names else -1,
                                 lockers.vending_nodes)):
            if category < 0 or len(nodes) == 0:
                continue
            mine = candidates & (cats == category)
            if mine.any():
                nearest = _nearest_of(model, nodes)
                place_auto[mine] = nearest[home_of[res[mine]]]
                automated |= mine & (place_auto >= 0)
    take = walk | deliver | automated
    kind = np.where(deliver, DELIVERY, np.where(automated, AUTOMATED, WALK))[take].astype(np.int8)
    outlet = np.where(automated, -1, chosen)[take].astype(np.int64)
    home = home_of[res[take]].astype(np.int64)
    place = np.where(automated[take], place_auto[take], model.merchants.node[np.maximum(outlet, 0)]).astype(np.int64)
    return DayTrips(day=day, resident=res[take].astype(np.int64), kind=kind, category=cats[take].astype(np.int64),
                    night=buf.night[:E][take].copy(), outlet=outlet, home=home, place=place, needs=int(keep.sum()))
