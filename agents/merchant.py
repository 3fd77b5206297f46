"""A merchant: an outlet with a location, category, capacity, prices, staff, cash and rent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesa.discrete_space import CellAgent

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


class Merchant(CellAgent):
    """One outlet, as a view onto row ``merchant_id`` of the merchant arrays.

    A Mesa cell agent: in the street space (:mod:`sim.city.space`, attached by views and notebooks) it
    stands in its node's cell; a mobile vendor moves when the model moves it.

    Args:
        model: The model.
        merchant_id: Row of the merchant arrays.
    """

    def __init__(self, model: LifeCircleModel, *, merchant_id: int) -> None:
        super().__init__(model)
        self.merchant_id = merchant_id

    def _col(self, name: str):
        return getattr(self.model.merchants, name)[self.merchant_id]

    @property
    def category(self) -> str:
        """Service category, e.g. ``"pharmacy"``."""
        return self.model.catalogue.names[int(self._col("category"))]

    @property
    def node(self) -> int:
        """Network node of the outlet."""
        return int(self._col("node"))

    @property
    def is_open(self) -> bool:
        """Trading now."""
        return bool(self._col("open"))

    @property
    def capacity(self) -> int:
        """Visits it can serve per day."""
        return int(self._col("capacity"))

    @property
    def price(self) -> float:
        """Price per visit, CNY."""
        return int(self._col("price")) / 100

    @property
    def staff(self) -> int:
        """Employees (residents and commuters)."""
        return int(self._col("staff_local")) + int(self._col("staff_outside"))

    @property
    def cash(self) -> float:
        """Cash, CNY."""
        return self.model.ledger.merchant_cash[self.merchant_id] / 100

    @property
    def rent(self) -> float:
        """Monthly rent it pays, CNY."""
        return int(self._col("rent")) / 100

    @property
    def smart(self) -> bool:
        """Digitalised (smart store)."""
        return bool(self._col("smart"))

    @property
    def mobile(self) -> bool:
        """A mobile vendor."""
        return bool(self._col("mobile"))

    @property
    def profit_last_month(self) -> float:
        """Profit of the last complete month, CNY."""
        return int(self._col("profit_last")) / 100

    def __repr__(self) -> str:
        return f"<Merchant {self.merchant_id}: {self.category} at node {self.node}, {'open' if self.is_open else 'closed'}>"
