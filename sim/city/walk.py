"""Walking distances on the street network, computed with compiled graph code.

Two structures serve the model:

* :func:`nearest_distance` -- network distance from every node to the nearest of a set of source
  nodes (one multi-source Dijkstra, ``scipy.sparse.csgraph``), for the access indicators.
* :class:`OutletReach` -- for every node and category, the ``k`` nearest open outlets within a
  walking limit and their distances, for outlet choice. Each outlet's reach (the nodes within the
  limit and their distances) is computed once, when the outlet opens, and cached. Opening an
  outlet inserts its reach into its category's table; closing one rebuilds that category's table
  from the cache. Both run in small compiled kernels (numba) that keep a sorted top-``k`` list
  per node, in place of sorting the whole category's reach.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit
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


@njit(cache=True, nogil=True)
def _insert_nearest(node, dist, who, outlet, dist_m):  # pragma: no cover - compiled
    """Insert reach entries (``node[j]`` is ``dist[j]`` metres from outlet ``who[j]``) into one
    category's top-``k`` tables ``outlet`` / ``dist_m`` (both ``(n_nodes, k)``), in place.

    Each row is kept sorted by (distance, outlet id) ascending, with empty slots (-1, inf) at its
    end; an entry that beats the row's last slot moves in by insertion, pushing the worst one out.
    Since (distance, outlet id) orders a node's outlets strictly, the rows end up as the ``k``
    smallest whatever the order of the entries: inserting new outlets into a table gives the same
    answer as rebuilding it with them. The loop body is written out here, not in a helper: a
    compiled helper taking arrays costs reference counting on every call.
    """
    k = outlet.shape[1]
    last = k - 1
    for j in range(node.shape[0]):
        v, d, w = node[j], dist[j], who[j]
        o = outlet[v, last]
        if o >= 0 and (d > dist_m[v, last] or (d == dist_m[v, last] and w > o)):
            continue  # no better than the k-th kept (the usual case once the row is full)
        r = last
        while r > 0:
            o = outlet[v, r - 1]
            if o >= 0:
                e = dist_m[v, r - 1]
                if e < d or (e == d and o < w):
                    break
            outlet[v, r] = o
            dist_m[v, r] = dist_m[v, r - 1]
            r -= 1
        outlet[v, r] = w
        dist_m[v, r] = d


@njit(cache=True, nogil=True)
def _rebuild_nearest(node, dist, who, gone, outlet, dist_m):  # pragma: no cover - compiled
    """Rebuild one category's top-``k`` tables from its reach entries, leaving out outlets ``gone``.

    Returns:
        The entries kept (node, dist, who): the category's reach without the ``gone`` outlets.
    """
    outlet[:] = -1
    dist_m[:] = np.inf
    if gone.shape[0] == 0:
        _insert_nearest(node, dist, who, outlet, dist_m)
        return node, dist, who
    lo, hi = gone.min(), gone.max()
    closed = np.zeros(hi - lo + 1, dtype=np.bool_)
    for g in gone:
        closed[g - lo] = True
    keep_node, keep_dist, keep_who = np.empty_like(node), np.empty_like(dist), np.empty_like(who)
    m = 0
    for j in range(node.shape[0]):
        w = who[j]
        if lo <= w <= hi and closed[w - lo]:
            continue
        keep_node[m], keep_dist[m], keep_who[m] = node[j], dist[j], w
        m += 1
    node, dist, who = keep_node[:m], keep_dist[:m], keep_who[:m]
    _insert_nearest(node, dist, who, outlet, dist_m)
    return node, dist, who


_NO_OUTLETS = np.empty(0, dtype=np.int32)


class OutletReach:
    """The ``k`` nearest open outlets of each category within ``limit_m`` of every node.

    Rows are sorted by distance, ties broken by outlet id (ascending), so the tables depend only
    on which outlets are open, never on the order in which they opened or closed.

    Attributes:
        outlet: (C, n_nodes, k) int32 outlet ids, -1 where there is none.
        dist_m: (C, n_nodes, k) float32 network distances, metres (inf where there is none).
    """

    def __init__(self, graph: sp.csr_array, n_categories: int, k: int, limit_m: float) -> None:
        self.graph = graph
        self.k = k
        self.version = 0  # bumped on every change (daily choice caches tables derived from these)
        self.limit_m = float(limit_m)
        n = graph.shape[0]
        self.outlet = np.full((n_categories, n, k), -1, dtype=np.int32)
        self.dist_m = np.full((n_categories, n, k), np.inf, dtype=np.float32)
        self._category: dict[int, int] = {}  # open outlet id -> category
        # Per category, the cached reach of all its open outlets as flat arrays (node int32,
        # distance float32, outlet id int32): what a rebuild feeds the kernel, with no Python loop
        # over outlets. Entries added since the last rebuild wait in _pending and are joined (one
        # concatenate) only when a rebuild needs them.
        empty = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int32))
        self._packed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [empty] * n_categories
        self._pending: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(n_categories)]

    def add(self, outlets: np.ndarray, nodes: np.ndarray, categories: np.ndarray) -> None:
        """Register newly opened outlets (ids, nodes, categories) and insert them into their
        categories' tables (the same tables a full rebuild would give). An id already registered
        is first removed: adding it again replaces it."""
        outlets = np.asarray(outlets)
        if len(outlets) == 0:
            return
        again = [int(o) for o in outlets if int(o) in self._category]
        if again:
            self.remove(np.array(again))
        categories = np.asarray(categories)
        reach = reach_of(self.graph, nodes, self.limit_m)
        for cat in np.unique(categories):
            cat = int(cat)
            mine = np.flatnonzero(categories == cat)
            node = np.concatenate([reach[i][0] for i in mine])
            dist = np.concatenate([reach[i][1] for i in mine])
            who = np.repeat(outlets[mine].astype(np.int32), [len(reach[i][0]) for i in mine])
            for i in mine:
                self._category[int(outlets[i])] = cat
            self._pending[cat].append((node, dist, who))
            self.version += 1
            _insert_nearest(node, dist, who, self.outlet[cat], self.dist_m[cat])

    def remove(self, outlets: np.ndarray) -> None:
        """Forget closed outlets and rebuild their categories (their nodes need the next-best
        outlets, which the top-``k`` tables do not hold)."""
        gone: dict[int, list[int]] = {}
        for outlet in np.asarray(outlets):
            gone.setdefault(self._category.pop(int(outlet)), []).append(int(outlet))
        for cat, ids in gone.items():
            self._rebuild(cat, np.array(ids, dtype=np.int32))

    def _rebuild(self, cat: int, gone: np.ndarray = _NO_OUTLETS) -> None:
        """Recompute category ``cat``'s tables from the cached reach, first dropping outlets ``gone``."""
        self.version += 1
        packed = self._packed[cat]
        if self._pending[cat]:
            parts = [packed, *self._pending[cat]]
            packed = tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
            self._pending[cat] = []
        self._packed[cat] = _rebuild_nearest(*packed, gone, self.outlet[cat], self.dist_m[cat])
