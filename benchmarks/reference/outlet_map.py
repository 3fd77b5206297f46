"""Where the open outlets are: for every node and category, the open outlets within a radius,
nearest first (ties: the outlet that opened first).

A resident keeps track of the ``k`` nearest outlets of each trade within walking reach
(``choice_candidates``): the first ``k`` of its home node's list. Opening or closing outlets
changes the lists of the nodes around them; :meth:`OutletMap.add` and :meth:`OutletMap.remove`
say which lists' first ``k`` changed, so that the residents there can update what they know.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING

from benchmarks.reference.streets import Streets

if TYPE_CHECKING:
    from benchmarks.reference.merchant import Merchant


class OutletMap:
    """Open outlets near every node, per category.

    Args:
        streets: The walking network.
        n_categories: Number of service categories.
        radius_m: Outlets farther than this from a node are not listed there, metres.
        k: Length of the list a resident keeps track of (the ``k`` nearest).
    """

    def __init__(self, streets: Streets, n_categories: int, radius_m: float, k: int) -> None:
        self.streets = streets
        self.radius_m = float(radius_m)
        self.k = k
        # near[c][node]: [(metres, outlet id, merchant)], sorted (ids are unique, so merchants are
        # never compared).
        self.near: list[dict[int, list[tuple[float, int, Merchant]]]] = [defaultdict(list) for _ in range(n_categories)]
        self.version = [0] * n_categories  # bumped whenever a category's lists change

    def listed(self, category: int, node: int) -> list[tuple[float, int, Merchant]]:
        """(metres, outlet id, merchant) of the open outlets of ``category`` near ``node``, nearest first."""
        return self.near[category].get(node, [])

    def nearest(self, category: int, node: int) -> list[Merchant]:
        """The ``k`` nearest open outlets of ``category`` from ``node`` within the radius."""
        return [m for _, _, m in self.listed(category, node)[: self.k]]

    def add(self, merchants: list[Merchant]) -> dict[tuple[int, int], list[Merchant]]:
        """List newly opened outlets; returns {(category, node): its k nearest before} for every
        list whose first k changed."""
        before: dict[tuple[int, int], list[Merchant]] = {}
        for merchant in merchants:
            rows = self.near[merchant.category]
            for node, metres in self.streets.within(merchant.node, self.radius_m).items():
                key = (merchant.category, node)
                if key not in before:
                    before[key] = self.nearest(*key)
                bisect.insort(rows[node], (metres, merchant.outlet_id, merchant))
            self.version[merchant.category] += 1
        return {key: old for key, old in before.items() if self.nearest(*key) != old}

    def remove(self, merchants: list[Merchant]) -> dict[tuple[int, int], list[Merchant]]:
        """Unlist closed outlets; returns {(category, node): its k nearest before} for every list
        whose first k changed."""
        before: dict[tuple[int, int], list[Merchant]] = {}
        for merchant in merchants:
            rows = self.near[merchant.category]
            for node in self.streets.within(merchant.node, self.radius_m):
                key = (merchant.category, node)
                if key not in before:
                    before[key] = self.nearest(*key)
                rows[node] = [entry for entry in rows[node] if entry[2] is not merchant]
            self.version[merchant.category] += 1
        return {key: old for key, old in before.items() if self.nearest(*key) != old}
