"""A household: adults who share a budget, and children counted as members (engine:
:mod:`sim.economy.households`, :mod:`sim.economy.accounts`).

Each month end, after every income is paid: a household whose income per member is below the
dibao standard is topped up to it; its members pool their cash and share it out equally; it pays
for necessities outside the catalogue (``essentials_cny_month`` per member, at most its income),
saves a share of the rest that rises with its income per member, keeps what its members' services
usually cost, and spends the remainder elsewhere.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from benchmarks.reference.model import ReferenceModel
    from benchmarks.reference.resident import Resident

URBAN_MEDIAN_INCOME_FEN = 392_700
"""Urban median per-capita disposable income, fen a month (NBS 2023): the saving rate's pivot."""


class Household(mesa.Agent):
    """Adult members (residents), children by age group, a home node and property income.

    Args:
        model: The reference model.
        home: Street node it lives at.
        young_children, school_children: Children under six and 6-17 (counted, not agents).
        property_income: Rent, interest and dividends, fen a month.
    """

    def __init__(self, model: ReferenceModel, *, home: int, young_children: int, school_children: int,
                 property_income: int) -> None:
        super().__init__(model)
        self.home = home
        self.young_children = young_children
        self.school_children = school_children
        self.property_income = property_income
        self.members: list[Resident] = []
        self.carer: Resident | None = None  # carries the children's needs

    @property
    def persons(self) -> int:
        """Members, children included."""
        return len(self.members) + self.young_children + self.school_children

    def income(self) -> int:
        """The members' income this month, fen."""
        return sum(person.income_month for person in self.members)

    def receive_property_income(self) -> None:
        """Property income, paid to the first member."""
        if self.property_income > 0:
            self.members[0].cash += self.property_income
            self.members[0].income_month += self.property_income

    def settle_month(self) -> None:
        """Dibao top-up, pooled cash, and spending outside the catalogue."""
        model = self.model
        money, econ = model.catalogue.money, model.scenario.economy
        short = money["dibao"] * self.persons - self.income()
        if short > 0:
            self.members[0].cash += short
            self.members[0].income_month += short
        self.share_cash(sum(person.cash for person in self.members))
        income = float(self.income())
        essentials = min(income, econ.essentials_cny_month * 100 * self.persons)
        rest = income - essentials
        kept = self.saving_rate(income / self.persons) * rest + sum(p.typical_spend for p in self.members)
        elsewhere = essentials + max(rest - kept, 0.0)
        cash = sum(person.cash for person in self.members)
        pay = round(min(max(elsewhere, 0.0), max(cash, 0)))
        share, remainder = divmod(pay, len(self.members))
        for rank, person in enumerate(self.members):
            each = share + (1 if rank < remainder else 0)
            person.cash -= min(each, max(person.cash, 0))

    def share_cash(self, total: int) -> None:
        """The members' cash pooled and shared out equally (the first members get the remainder)."""
        share, remainder = divmod(total, len(self.members))
        for rank, person in enumerate(self.members):
            person.cash = share + (1 if rank < remainder else 0)

    def saving_rate(self, per_head_fen: float) -> float:
        """Share of income after necessities saved: ``saving_rate`` at the urban median, more when
        richer (``saving_slope`` per log unit), between 0 and 0.6."""
        econ = self.model.scenario.economy
        ratio = max(per_head_fen, 1.0) / URBAN_MEDIAN_INCOME_FEN
        return min(max(econ.saving_rate + econ.saving_slope * math.log(ratio), 0.0), 0.6)
