"""The street network as the reference sees it: walking distances by networkx's Dijkstra.

The network itself is input data (the scenario's grid or OpenStreetMap file, read by
:func:`sim.city.grid.build_city`); every distance the reference uses is computed here, independently of
the engine's compiled tables (:mod:`sim.city.walk`).
"""

from __future__ import annotations

import networkx as nx

from sim.city.grid import City


class Streets:
    """Shortest walking distances (metres) along a city's streets.

    Args:
        city: The city whose network is walked (its sparse matrix of edge lengths in metres).
    """

    def __init__(self, city: City) -> None:
        self.city = city
        self.graph = nx.from_scipy_sparse_array(city.graph)  # undirected; edge "weight" = metres
        self.xy = city.node_xy
        self.n_nodes = city.graph.shape[0]
        self._within: dict[tuple[int, float], dict[int, float]] = {}

    def within(self, node: int, limit_m: float) -> dict[int, float]:
        """Every node within ``limit_m`` metres of ``node`` along the streets, with its distance
        (memoised: the network does not change)."""
        key = (int(node), float(limit_m))
        found = self._within.get(key)
        if found is None:
            found = nx.single_source_dijkstra_path_length(self.graph, int(node), cutoff=limit_m, weight="weight")
            self._within[key] = found
        return found

    def nearest_from(self, sources: list[int]) -> dict[int, float]:
        """Distance (metres) from every node to the nearest of ``sources`` (absent: unreachable)."""
        if not sources:
            return {}
        return nx.multi_source_dijkstra_path_length(self.graph, set(int(s) for s in sources), weight="weight")

    def straight_l1(self, a: int, b: int) -> float:
        """City-block distance between two nodes' coordinates, metres (for "the nearest" by map)."""
        (xa, ya), (xb, yb) = self.xy[a], self.xy[b]
        return abs(xa - xb) + abs(ya - yb)
