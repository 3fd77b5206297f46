"""A resident: home, age, walk speed, labour status, income, cash, disability, known outlets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesa.discrete_space import CellAgent

from sim.economy.population import STATUS_NAMES

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


class Resident(CellAgent):
    """One resident, as a view onto row ``resident_id`` of the population arrays.

    A Mesa cell agent: when a view or a notebook attaches the street space (:mod:`sim.city.space`), it
    stands in its home's cell, and in the cells of its path while a shown day animates a trip.

    Args:
        model: The model.
        resident_id: Row of the population arrays.
    """

    def __init__(self, model: LifeCircleModel, *, resident_id: int) -> None:
        super().__init__(model)
        self.resident_id = resident_id

    @property
    def home(self) -> int:
        """Network node of the resident's home."""
        return int(self.model.population.home[self.resident_id])

    @property
    def age(self) -> int:
        """Age in years."""
        return int(self.model.population.age[self.resident_id])

    @property
    def disabled(self) -> bool:
        """Whether the resident has a disability."""
        return bool(self.model.population.disabled[self.resident_id])

    @property
    def graduate(self) -> bool:
        """Whether the resident graduated in the last three years."""
        return bool(self.model.population.graduate[self.resident_id])

    @property
    def walk_speed_m_per_min(self) -> float:
        """Walk speed, metres per minute (slower for the elderly and the disabled)."""
        return float(self.model.speeds[self.model.population.speed_class[self.resident_id]])

    @property
    def status(self) -> str:
        """Labour status: employed, unemployed, freelancer, retired, owner or out_of_labour_force."""
        return STATUS_NAMES[int(self.model.population.status[self.resident_id])]

    @property
    def employer(self) -> int | None:
        """Merchant id of a local job; -2 for a job outside the circle; None without a job."""
        e = int(self.model.population.employer[self.resident_id])
        return None if e == -1 else e

    @property
    def cash(self) -> float:
        """Cash, CNY."""
        return self.model.ledger.resident_cash[self.resident_id] / 100

    @property
    def income_last_month(self) -> float:
        """Income received in the last complete month, CNY."""
        return self.model.population.income_last[self.resident_id] / 100

    def walk_minutes_to(self, category: str) -> float:
        """Minutes on foot, along the streets at this resident's speed, to the nearest place that
        serves ``category``: an open outlet, or for parcel points under the lockers lever a locker
        if one is nearer (``model.nearest_m``, what the coverage indicators read)."""
        c = self.model.catalogue.index(category)
        return float(self.model.nearest_m[self.home, c] / self.walk_speed_m_per_min)

    def known_outlets(self, category: str) -> list[int]:
        """Merchant ids of the outlets of ``category`` in walking range that the resident knows."""
        model = self.model
        c = model.catalogue.index(category)
        outlets = model.reach.outlet[c, self.home]
        if model.population.map_user[self.resident_id]:
            bits = 0xFF
        else:
            bits = int(model.population.knows[self.resident_id, c])
        return [int(o) for k, o in enumerate(outlets) if o >= 0 and (bits >> k) & 1]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.resident_id}: {self.age} y, {self.status}, home node {self.home}>"

