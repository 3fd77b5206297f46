"""Walking distances on the street network, computed with compiled graph code.

Two structures serve the model:

* :func:`nearest_distance` -- network distance from every node to the nearest of a set of source
  nodes (one multi-source Dijkstra, ``scipy.sparse.csgraph``), for the access indicators.
* :class:`OutletReach` -- for every node and category, the ``k`` nearest open outlets within a
  walking limit and their distances, for outlet choice. Each outlet's reach (the nodes within the
  limit and their distances) is computed once, when the outlet opens, and cached; opening or
  closing an outlet rebuilds only its category's table from the cache (incremental update).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

_CHUNK = 64  # sources per Dijkstra call: bounds the dense (chunk x n) result to a few MB


def nearest_distance(graph: sp.csr_array, sources: np.ndarray, limit_m: float = np.inf) -> np.ndarray:
    """Network distance (m) from each node to its nearest source node; inf beyond ``limit_m``.

    Args:
        graph: Symmetric sparse matrix of edge lengths in metres (both directions stored).
        sources: Source node ids (may repeat).
        limit_m: Stop searching beyond this distance, metres.
    """
    n = graph.shape[0]
    sources = np.unique(np.asarray(sources, dtype=np.int64))
    if len(sources) == 0:
        return np.full(n, np.inf)
    # directed=True on a graph that stores both directions of every edge (edges_to_graph) gives
    # the undirected distances without SciPy building the transpose first.
    return dijkstra(graph, directed=True, indices=sources, min_only=True, limit=limit_m)


def reach_of(graph: sp.csr_array, nodes: np.ndarray, limit_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each source node, the nodes within ``limit_m`` and their distances (metres, float32)."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    nodes = np.asarray(nodes, dtype=np.int64)
    for start in range(0, len(nodes), _CHUNK):
        block = dijkstra(graph, directed=True, indices=nodes[start:start + _CHUNK], limit=limit_m)
        for row in np.atleast_2d(block):
            hit = np.flatnonzero(np.isfinite(row))
            out.append((hit.astype(np.int32), row[hit].astype(np.float32)))
    return out


class OutletReach:
    """The ``k`` nearest open outlets of each category within ``limit_m`` of every node.

    Attributes:
        outlet: (C, n_nodes, k) int32 outlet ids, -1 where there is none.
        dist_m: (C, n_nodes, k) float32 network distances, metres (inf where there is none).
    """

    def __init__(self, graph: sp.csr_array, n_categories: int, k: int, limit_m: float) -> None:
        self.graph = graph
        self.k = k
        self.version = 0  # bumped on every rebuild (daily choice caches tables derived from these)
        self.limit_m = float(limit_m)
        n = graph.shape[0]
        self.outlet = np.full((n_categories, n, k), -1, dtype=np.int32)
        self.dist_m = np.full((n_categories, n, k), np.inf, dtype=np.float32)
        self._reach: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._category: dict[int, int] = {}

    def add(self, outlets: np.ndarray, nodes: np.ndarray, categories: np.ndarray) -> None:
        """Register newly opened outlets (ids, nodes, categories) and rebuild their categories."""
        outlets = np.asarray(outlets)
        if len(outlets) == 0:
            return
        for outlet, reach, cat in zip(outlets, reach_of(self.graph, nodes, self.limit_m), categories):
            self._reach[int(outlet)] = reach
            self._category[int(outlet)] = int(cat)
        for cat in np.unique(categories):
            self._rebuild(int(cat))

    def remove(self, outlets: np.ndarray) -> None:
        """Forget closed outlets and rebuild their categories."""
        touched = set()
        for outlet in np.asarray(outlets):
            touched.add(self._category.pop(int(outlet)))
            del self._reach[int(outlet)]
        for cat in touched:
            self._rebuild(cat)

    def _rebuild(self, cat: int) -> None:
        self.version += 1
        members = [o for o, c in self._category.items() if c == cat]
        self.outlet[cat].fill(-1)
        self.dist_m[cat].fill(np.inf)
        if not members:
            return
        node = np.concatenate([self._reach[o][0] for o in members])
        dist = np.concatenate([self._reach[o][1] for o in members])
        who = np.concatenate([np.full(len(self._reach[o][0]), o, dtype=np.int32) for o in members])
        # Order by node, then distance, then outlet id (ties broken the same way every time).
        order = np.lexsort((who, dist, node))
        node, dist, who = node[order], dist[order], who[order]
        first = np.ones(len(node), dtype=bool)
        first[1:] = node[1:] != node[:-1]
        start = np.maximum.accumulate(np.where(first, np.arange(len(node)), 0))
        rank = np.arange(len(node)) - start
        keep = rank < self.k
        self.outlet[cat, node[keep], rank[keep]] = who[keep]
        self.dist_m[cat, node[keep], rank[keep]] = dist[keep]
