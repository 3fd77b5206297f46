"""A shown day: the sampled residents' trips as walks through the street space, minute by minute.

The model has no clock inside a day (a day's needs are met or not as a whole), so a shown day plays
all of the day's trips as one wave, for the picture: each sets out at a minute drawn uniformly in
the first :data:`WAVE_MINUTES` (from the view's own random stream, which no rule reads), so that a
class sees many residents on the streets at once, or, for a resident's (or courier's) later trip
of the day, when the last one is over (one trip at a time). Everything else comes
from the model: who goes, where to (:mod:`sim.view.day_trips`), the shortest path along the streets
(:meth:`sim.city.space.StreetSpace.path`) and the walker's own speed (slower for older and disabled
residents). A walker stays :data:`DWELL_MINUTES` at the outlet and walks back. A courier (a
freelancer picked by the view's stream; the model's payment draw is its own) rides from the outlet
to the home at :data:`COURIER_M_PER_MIN`. Mobile vendors that moved overnight drive to their new
stop first.

:meth:`DayAnimation.place_at` puts every walking agent in the Mesa cell it has reached at a minute
(through :func:`sim.city.space.move_to`); :meth:`DayAnimation.payload` gives the same legs to the
browser, which draws them smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.view.day_trips import AUTOMATED, DELIVERY, WALK, DayTrips
from sim.economy.population import FREELANCER
from sim.city.space import move_to

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

WAVE_MINUTES = 30.0
"""A shown day's trips set out within this many minutes of its start (one wave, for the picture)."""
DWELL_MINUTES = 6.0
"""Time spent at an outlet, locker or vending point before walking home (for the picture)."""
COURIER_M_PER_MIN = 250.0
"""A courier's speed on an e-bike in town, metres per minute (15 km/h)."""
VENDOR_MOVE_START = 0.0
"""Mobile vendors drive to a new stop at the start of a shown day, minutes."""
VENDOR_M_PER_MIN = 200.0
"""A vendor's cart or van in town, metres per minute (12 km/h)."""

RESIDENT_WALK, LOCKER_WALK, COURIER_RIDE, VENDOR_DRIVE = 0, 1, 2, 3
LEG_KINDS = ("resident", "locker", "courier", "vendor")


@dataclass(frozen=True)
class Leg:
    """One agent's movement along a path.

    Attributes:
        kind: :data:`RESIDENT_WALK`, :data:`LOCKER_WALK`, :data:`COURIER_RIDE` or :data:`VENDOR_DRIVE`.
        agent: The resident id (walks, rides) or merchant id (vendors) that moves.
        nodes: Street nodes passed, in order.
        minutes: Minute of the shown day at which each node is reached.
    """

    kind: int
    agent: int
    nodes: np.ndarray
    minutes: np.ndarray

    def node_at(self, minute: float) -> int | None:
        """The last node reached by ``minute`` (None before the leg starts or after it ends)."""
        if minute < self.minutes[0] or minute > self.minutes[-1]:
            return None
        return int(self.nodes[np.searchsorted(self.minutes, minute, side="right") - 1])


class DayAnimation:
    """The legs of one shown day.

    Args:
        model: The model (with its street space attached, :func:`sim.city.space.attach_space`).
        trips: The day's trips of the sampled residents.
        rng: The view's random stream (departure times, couriers).
        vendor_moves: (merchant id, from node, to node) of vendors that moved overnight.
    """

    def __init__(self, model: LifeCircleModel, trips: DayTrips, rng: np.random.Generator,
                 vendor_moves: list[tuple[int, int, int]] = ()) -> None:
        self.model = model
        self.day = trips.day
        space = model.street_space
        speeds = model.speeds[model.population.speed_class]
        start = rng.uniform(0.0, WAVE_MINUTES, len(trips))
        freelancers = np.flatnonzero(model.population.status == FREELANCER)
        legs: list[Leg] = []
        free: dict[int, float] = {}  # resident -> minute it is back from its last trip (one trip at a time)
        for i in range(len(trips)):
            resident, home, place = int(trips.resident[i]), int(trips.home[i]), int(trips.place[i])
            if trips.kind[i] == DELIVERY:
                if len(freelancers) == 0:
                    continue
                courier = int(freelancers[rng.integers(len(freelancers))])
                nodes, metres = space.path(place, home)
                if len(nodes):
                    ride = max(start[i] + DWELL_MINUTES, free.get(courier, 0.0)) + metres / COURIER_M_PER_MIN
                    free[courier] = ride[-1]
                    legs.append(Leg(COURIER_RIDE, courier, nodes, ride))
                continue
            nodes, metres = space.path(home, place)
            if not len(nodes):
                continue
            kind = LOCKER_WALK if trips.kind[i] == AUTOMATED else RESIDENT_WALK
            there = max(start[i], free.get(resident, 0.0)) + metres / speeds[resident]
            back = there[-1] + DWELL_MINUTES + (metres[-1] - metres[::-1]) / speeds[resident]
            free[resident] = back[-1]
            legs.append(Leg(kind, resident, np.concatenate([nodes, nodes[::-1]]), np.concatenate([there, back])))
        for merchant, old, new in vendor_moves:
            nodes, metres = space.path(old, new)
            if len(nodes) > 1:
                legs.append(Leg(VENDOR_DRIVE, merchant, nodes, VENDOR_MOVE_START + metres / VENDOR_M_PER_MIN))
        self.legs = legs
        self.trip_counts = {"walk": trips.count(WALK), "delivery": trips.count(DELIVERY),
                            "automated": trips.count(AUTOMATED), "needs": trips.needs}

    def place_at(self, minute: float | None) -> int:
        """Put each moving agent in the cell it has reached at ``minute`` (None: everyone home).

        Returns:
            How many agents are out on the streets at ``minute``.
        """
        model = self.model
        where: dict[tuple[bool, int], int] = {}  # (is a vendor, agent id) -> node
        out: set[tuple[bool, int]] = set()
        for leg in self.legs:  # an agent with several trips is where its current one is
            key = (leg.kind == VENDOR_DRIVE, leg.agent)
            node = None if minute is None else leg.node_at(minute)
            if node is not None:
                where[key] = node
                out.add(key)
            elif key not in out:
                if leg.kind == VENDOR_DRIVE:
                    where[key] = int(leg.nodes[-1] if minute is None or minute > leg.minutes[-1] else leg.nodes[0])
                else:
                    where[key] = int(model.population.home[leg.agent])
        for (vendor, agent_id), node in where.items():
            agent = (model.merchant_agents if vendor else model.resident_agents).get(agent_id)
            if agent is not None:
                move_to(agent, node)
        return len(out)

    @property
    def minutes(self) -> float:
        """When the last agent is back (or has arrived), minutes after the shown day's start."""
        return float(max((leg.minutes[-1] for leg in self.legs), default=0.0))

    def payload(self) -> dict[str, Any]:
        """The legs for the browser: kinds, agents, and each leg's nodes and minutes, flattened."""
        lengths = [len(leg.nodes) for leg in self.legs]
        return {
            "day": int(self.day),
            "kind": [int(leg.kind) for leg in self.legs],
            "agent": [int(leg.agent) for leg in self.legs],
            "offset": np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist(),
            "nodes": (np.concatenate([leg.nodes for leg in self.legs]).astype(int).tolist() if self.legs else []),
            "minutes": (np.round(np.concatenate([leg.minutes for leg in self.legs]), 2).tolist() if self.legs else []),
            "counts": self.trip_counts,
            "length": self.minutes,
        }
