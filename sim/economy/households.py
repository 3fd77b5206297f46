"""Households: who lives with whom, their children, and what they share.

The model's residents are the adults (18 and over). They live in households whose sizes follow the
2020 census; a household's other members are children, counted but not simulated as agents: the
under-sixes' childcare and the school children's classes are needs of the household's *carer* (its
first working-age adult, else its first adult), and every member counts in the household's income
per head. Members share one budget: their cash is pooled each month and shared out equally
(:func:`pool_cash`), so a household with one earner and a retired parent spends as one.

Residents are stored household by household, households in home-node order, so the members of
household ``h`` are ``first[h]:first[h + 1]`` and residents stay in home order (the daily loops
read the walking tables in sequence).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.services.kernels import member_sums, split_among_members

CHILD_AGE_GROUPS = ("young_children", "school_children")
"""Children by the needs they bring: under six (childcare) and six to seventeen (classes)."""


@dataclass
class Households:
    """Arrays describing the H households.

    Attributes:
        first: (H + 1,) offsets: the adult residents of household h are ``first[h]:first[h + 1]``.
        home: (H,) node the household lives at.
        young_children: (H,) children under six.
        school_children: (H,) children six to seventeen.
        carer: (H,) resident who carries the children's needs.
        property_income: (H,) rent, interest and dividends, fen a month.
        of_resident: (N,) household of each resident.
    """

    first: np.ndarray
    home: np.ndarray
    young_children: np.ndarray
    school_children: np.ndarray
    carer: np.ndarray
    property_income: np.ndarray
    of_resident: np.ndarray

    @property
    def n(self) -> int:
        """Number of households."""
        return len(self.home)

    @cached_property
    def adults(self) -> np.ndarray:
        """(H,) adult residents of each household (households do not change in a run: worked out once)."""
        return np.diff(self.first)

    @cached_property
    def persons(self) -> np.ndarray:
        """(H,) members of each household, children included (worked out once)."""
        return self.adults + self.young_children + self.school_children

    def total(self, per_resident: np.ndarray) -> np.ndarray:
        """(H,) sum over each household's residents of ``per_resident``."""
        if not len(per_resident):
            return np.zeros(self.n)
        if per_resident.dtype == np.int64 and per_resident.ndim == 1:
            # Money and incomes in fen: whole numbers, added in a compiled loop over households
            # (both threads) with exactly reduceat's answer; floats keep reduceat's own order.
            return member_sums(self.first.astype(np.int64, copy=False), per_resident)
        return np.add.reduceat(per_resident, self.first[:-1])

    def shared_out(self, cash: np.ndarray) -> np.ndarray:
        """(N,) int64: each household's total of ``cash`` (fen) shared out equally among its residents,
        the remainder one fen each to its first members."""
        return split_among_members(self.first.astype(np.int64, copy=False), self.total(cash))


def draw_households(adults: int, size_shares: list[float], children_per_adult: float, young_share: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Household sizes and members for ``adults`` adult residents.

    Sizes are drawn from ``size_shares`` (sizes 1, 2, ... the last share for that size and more);
    each member after the first is a child with the probability that gives ``children_per_adult``
    over the whole population (so one-person households are adults, and larger ones have the
    children); children are under six with ``young_share``. Households are drawn until they hold
    ``adults`` adults; the last one is trimmed to fit.

    Returns:
        (adults, young children, school children) per household.
    """
    shares = np.asarray(size_shares, dtype=np.float64)
    shares = shares / shares.sum()
    sizes = np.arange(1, len(shares) + 1)
    mean_size, mean_others = float(shares @ sizes), float(shares @ (sizes - 1))
    # E[children] / E[adults] = q * mean_others / (mean_size - q * mean_others) = children_per_adult
    q = children_per_adult * mean_size / ((1 + children_per_adult) * mean_others) if mean_others else 0.0
    q = min(max(q, 0.0), 1.0)
    expected_adults = mean_size - q * mean_others
    count = int(adults / max(expected_adults, 1e-9) * 1.1) + 16
    while True:
        size = rng.choice(sizes, size=count, p=shares)
        children = rng.binomial(size - 1, q)
        grown = size - children
        if grown.sum() >= adults:
            break
        count *= 2
    cut = int(np.searchsorted(np.cumsum(grown), adults))
    grown, children = grown[: cut + 1].copy(), children[: cut + 1]
    grown[-1] -= int(grown.sum() - adults)
    young = rng.binomial(children, young_share)
    return grown.astype(np.int32), young.astype(np.int32), (children - young).astype(np.int32)


def pool_cash(ledger, households: Households) -> None:
    """Members of a household share their cash: each month it is pooled and shared out equally
    (remainders in fen to the first members), through the ledger (``household.pooling``)."""
    cash = ledger.resident_cash
    target = households.shared_out(cash)
    move = target - cash
    give, take = np.flatnonzero(move < 0), np.flatnonzero(move > 0)
    if len(give):  # money moves within households only: each household's total is unchanged
        ledger.among_residents(give, -move[give], take, move[take], "household.pooling")
