"""Walking distances on the street network, computed with compiled graph code.

Two structures serve the model:

* :func:`nearest_distance` -- network distance from every node to the nearest of a set of source
  nodes (one multi-source Dijkstra, ``scipy.sparse.csgraph``), for the access indicators.
* :func:`reach_of` -- the nodes within a walking limit of a node and their distances, by a
  compiled Dijkstra that touches only those nodes (its cost does not grow with the network).
* :class:`OutletReach` -- for every node and category, the ``k`` nearest open outlets within a
  walking limit and their distances, for outlet choice. Each outlet's reach (the nodes within the
  limit and their distances) is computed once, when the outlet opens, and cached. Opening an
  outlet inserts its reach into its category's table; closing one rebuilds that category's table
  from the cache. Both run in small compiled kernels (numba) that keep a sorted top-``k`` list
  per node, in place of sorting the whole category's reach.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from scipy.sparse.csgraph import dijkstra


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


def nearest_distances(graph: sp.csr_array, source_sets: list[np.ndarray]) -> np.ndarray:
    """(len(source_sets), n) float64: for each set of source nodes, :func:`nearest_distance` from it
    (no limit), the sets shared among threads (:func:`sim.services.blocks.use_threads`): a compiled
    multi-source Dijkstra per set (:func:`_nearest_into`). The search from scratch: a run keeps its
    distances up to date as outlets open and close (:class:`NearestOutlets`, which gives these very
    values); SciPy's Dijkstra holds the interpreter lock, so its calls could not share the cores.
    The distances are SciPy's bit for bit (``tests/test_walk.py``): a node's distance is the least
    of ``dist[u] + length(u, v)`` over its neighbours, whatever the order the search takes."""
    indptr, indices, lengths = _csr_arrays(graph)
    sets = [np.unique(np.asarray(s, dtype=np.int64)) for s in source_sets]
    first = np.zeros(len(sets) + 1, dtype=np.int64)
    first[1:] = np.cumsum([len(s) for s in sets])
    flat = np.concatenate(sets) if sets else np.empty(0, dtype=np.int64)
    out = np.full((len(sets), graph.shape[0]), np.inf)
    if len(sets) > 1:
        from sim.services.blocks import use_threads

        use_threads()
    _nearest_sets(indptr, indices, lengths.astype(np.float64, copy=False), flat, first, out)
    return out


@njit(cache=True, nogil=True, parallel=True)
def _nearest_sets(indptr, indices, lengths, sources, first, out):  # pragma: no cover - compiled
    """:func:`_nearest_into` for each set ``sources[first[j]:first[j + 1]]`` into ``out[j]``, sets shared among threads."""
    for j in prange(first.shape[0] - 1):
        _nearest_into(indptr, indices, lengths, sources[first[j]:first[j + 1]], out[j])


@njit(cache=True, nogil=True)
def _nearest_into(indptr, indices, lengths, sources, dist):  # pragma: no cover - compiled
    """Multi-source Dijkstra: ``dist`` (all inf on entry) gets each node's distance to the nearest
    of ``sources`` (inf where none is reachable). A binary heap with lazy deletion, as in
    :func:`_bounded_dijkstra`, written out again on purpose: one core shared by both (several
    sources, an optional list of the nodes reached) made the bounded searches that would-be
    entrants ask for 20 % slower (4,400 searches on the 1,000,000-resident grid: 174 against 144 ms).
    With ``dist`` holding the distances to other sources instead, the distances to those and to
    ``sources`` (:func:`_update_into`: a search goes only where a new source is nearer)."""
    cap = max(64, 2 * sources.shape[0])
    heap_d = np.empty(cap, dtype=np.float64)
    heap_v = np.empty(cap, dtype=np.int64)
    size = 0
    for s in sources:  # all at distance 0: any order is a heap
        if dist[s] != 0.0:
            dist[s] = 0.0
            heap_d[size] = 0.0
            heap_v[size] = s
            size += 1
    _settle(indptr, indices, lengths, dist, heap_d, heap_v, size)


@njit(cache=True, nogil=True)
def _settle(indptr, indices, lengths, dist, heap_d, heap_v, size):  # pragma: no cover - compiled
    """Dijkstra from the heap's entries (each ``(dist[v], v)``): pop the nearest, lower its
    neighbours' ``dist`` where ``dist[u] + length`` is less, until the heap is empty."""
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        size -= 1
        if size > 0:  # pop: the last entry to the root, sifted down
            ld = heap_d[size]
            lv = heap_v[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                    c += 1
                if heap_d[c] < ld:
                    heap_d[i] = heap_d[c]
                    heap_v[i] = heap_v[c]
                    i = c
                else:
                    break
            heap_d[i] = ld
            heap_v[i] = lv
        if d > dist[u]:
            continue  # stale
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + lengths[e]
            if nd < dist[v]:
                dist[v] = nd
                # push: appended and sifted up (written out: through a helper this loop was
                # 20-30 % slower, as the bounded search is when it shares helpers)
                if size == heap_d.shape[0]:
                    gd = np.empty(2 * size, dtype=np.float64)
                    gv = np.empty(2 * size, dtype=np.int64)
                    gd[:size] = heap_d
                    gv[:size] = heap_v
                    heap_d, heap_v = gd, gv
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if heap_d[p] > nd:
                        heap_d[i] = heap_d[p]
                        heap_v[i] = heap_v[p]
                        i = p
                    else:
                        break
                heap_d[i] = nd
                heap_v[i] = v


@njit(cache=True, nogil=True)
def _update_into(indptr, indices, lengths, dist, gone, added, sources):  # pragma: no cover - compiled
    """``dist``, each node's distance to the nearest of the old sources, becomes the distance to
    the nearest of ``sources`` (sorted, unique), the old ones less ``gone`` plus ``added``: the very
    values :func:`_nearest_into` gives from scratch, to the bit.

    Why exact: a node's distance from Dijkstra is the least float sum (added edge by edge from a
    source) over every path from a source, and float addition never decreases a sum, so:
    - *Closures* (``gone``). A node keeps its distance if it is reached at it by a path whose every
      step is tight (``dist[u] + length == dist[v]``) from a source that stays. Every other node is
      found by following tight steps from ``gone`` (the set ``D``, perhaps with a few that also had a
      tight path from a source that stays). ``D``'s distances are searched again, each node starting
      from its neighbours outside ``D`` (whose distances are final) or 0 if it is a source.
    - *Openings* (``added``). Dijkstra from the new sources over the distances as they are, going
      on only where it lowers one: a node's least sum over the old paths and the new.
    The work is the nodes whose nearest outlet changed, not the network.
    """
    n = dist.shape[0]
    if gone.shape[0] > 0:
        in_d = np.zeros(n, dtype=np.bool_)
        queue = np.empty(n, dtype=np.int64)
        size = 0
        for s in gone:
            if not in_d[s]:
                in_d[s] = True
                queue[size] = s
                size += 1
        at = 0
        while at < size:  # the tight steps from the closed sources
            u = queue[at]
            at += 1
            du = dist[u]
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                if not in_d[v] and du + lengths[e] == dist[v]:
                    in_d[v] = True
                    queue[size] = v
                    size += 1
        for j in range(size):
            dist[queue[j]] = np.inf
        seed = np.empty(size, dtype=np.float64)
        for j in range(size):
            v = queue[j]
            i = np.searchsorted(sources, v)
            best = 0.0 if i < sources.shape[0] and sources[i] == v else np.inf
            if best > 0.0:
                for e in range(indptr[v], indptr[v + 1]):
                    u = indices[e]
                    if not in_d[u]:
                        best = min(best, dist[u] + lengths[e])
            seed[j] = best
        # The seeded nodes in order of distance: a sorted array is a heap.
        order = np.argsort(seed)
        heap_d = np.empty(max(64, 2 * size), dtype=np.float64)
        heap_v = np.empty(max(64, 2 * size), dtype=np.int64)
        h = 0
        for j in order:
            if seed[j] == np.inf:
                break
            dist[queue[j]] = seed[j]
            heap_d[h] = seed[j]
            heap_v[h] = queue[j]
            h += 1
        _settle(indptr, indices, lengths, dist, heap_d, heap_v, h)
    if added.shape[0] > 0:
        _nearest_into(indptr, indices, lengths, added, dist)


@njit(cache=True, nogil=True, parallel=True)
def _update_sets(indptr, indices, lengths, gone, gone_first, added, added_first, sources, sources_first,
                 fresh, out):  # pragma: no cover - compiled
    """Per set j, sets shared among threads: ``out[j]`` from scratch (``fresh[j]``: inf, then the
    search from its sources) or brought up to date (:func:`_update_into`)."""
    for j in prange(out.shape[0]):
        if fresh[j]:
            out[j, :] = np.inf
            _nearest_into(indptr, indices, lengths, sources[sources_first[j]:sources_first[j + 1]], out[j])
        else:
            _update_into(indptr, indices, lengths, out[j], gone[gone_first[j]:gone_first[j + 1]],
                         added[added_first[j]:added_first[j + 1]], sources[sources_first[j]:sources_first[j + 1]])


class NearestOutlets:
    """Each node's network distance (m) to the nearest open outlet of each category, kept up to date
    as outlets open and close: :func:`nearest_distances`' values to the bit, searching only where the
    nearest outlet changed (a month end's closures and openings touch every trade; searched from
    scratch, Porto's 299,793 nodes took 0.3 s a call).

    Attributes:
        dist: (C, n_nodes) float64, inf where no outlet of the category is reachable.
    """

    def __init__(self, graph: sp.csr_array, n_categories: int) -> None:
        self._graph = graph
        self.dist = np.full((n_categories, graph.shape[0]), np.inf)
        self._sources: list[np.ndarray | None] = [None] * n_categories  # None: not searched yet

    def update(self, categories: np.ndarray, source_sets: list[np.ndarray]) -> np.ndarray:
        """The rows of ``categories`` after their sources became ``source_sets`` (node ids, may
        repeat); the rows (len(categories), n_nodes) are returned (a copy)."""
        cats = [int(c) for c in categories]
        sets = [np.unique(np.asarray(s, dtype=np.int64)) for s in source_sets]
        fresh = np.array([self._sources[c] is None for c in cats], dtype=np.bool_)
        old = [s if new else self._sources[c] for c, s, new in zip(cats, sets, fresh)]  # fresh: no change to follow
        gone = [np.setdiff1d(o, s, assume_unique=True) for o, s in zip(old, sets)]
        added = [np.setdiff1d(s, o, assume_unique=True) for o, s in zip(old, sets)]
        rows = self.dist[cats]
        indptr, indices, lengths = _csr_arrays(self._graph)
        if len(cats) > 1:
            from sim.services.blocks import use_threads

            use_threads()
        _update_sets(indptr, indices, lengths.astype(np.float64, copy=False), *_flat(gone), *_flat(added),
                     *_flat(sets), fresh, rows)
        self.dist[cats] = rows
        for c, s in zip(cats, sets):
            self._sources[c] = s
        return rows


def _flat(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sets of node ids as one array and the first index of each (and one past the last)."""
    first = np.zeros(len(sets) + 1, dtype=np.int64)
    first[1:] = np.cumsum([len(s) for s in sets])
    flat = np.concatenate(sets).astype(np.int64) if sets else np.empty(0, dtype=np.int64)
    return flat, first


def reach_of(graph: sp.csr_array, nodes: np.ndarray, limit_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each source node, the nodes within ``limit_m`` and their distances (metres, float32).

    Nodes come in ascending order; a node exactly ``limit_m`` away is within. The search from each
    source touches only the nodes within the limit (:func:`_bounded_dijkstra`), so one call costs
    the size of the neighbourhood, not of the network: on a 300,000-node city a single-node search
    within 20 minutes' walk costs ~0.1 ms, where a ``scipy.sparse.csgraph.dijkstra`` call with a
    ``limit`` spent ~0.6 ms on checking the graph and filling and scanning a row of the whole
    network (would-be entrants ask for tens of thousands of such searches a month). The distances
    are those of scipy's Dijkstra, bit for bit (``tests/test_walk.py``): both give each node the
    least of ``dist[u] + length(u, v)`` over its neighbours ``u``, a sum rounded once per edge.
    """
    indptr, indices, lengths = _csr_arrays(graph)
    sources = np.asarray(nodes, dtype=np.int64).reshape(-1).tolist()
    threads = _threads_for(len(sources))
    if threads > 1:  # many searches (a day's openings): shared among threads, each its own scratch
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda part: _search_all(indptr, indices, lengths, part, limit_m, graph.shape[0]),
                                  [sources[t::threads] for t in range(threads)]))
        out: list[tuple[np.ndarray, np.ndarray]] = [None] * len(sources)  # type: ignore[list-item]
        for t, part in enumerate(parts):
            out[t::threads] = part
        return out
    return _search_all(indptr, indices, lengths, sources, limit_m, graph.shape[0])


PARALLEL_SEARCHES = 64
"""Searches from at least this many sources in one :func:`reach_of` call are shared among the
model's threads (:func:`sim.services.blocks.use_threads`); each search is independent, so the
answer is the same on any number of threads."""


def _threads_for(n_sources: int) -> int:
    if n_sources < PARALLEL_SEARCHES:
        return 1
    from sim.services.blocks import use_threads

    return min(use_threads(), n_sources)


def _search_all(indptr: np.ndarray, indices: np.ndarray, lengths: np.ndarray, sources: list[int], limit_m: float,
                n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`_bounded_dijkstra` from each of ``sources`` in turn, with this thread's scratch (one
    compiled call for them all: a day's openings search from thousands of nodes)."""
    if len(sources) == 1:
        return [_bounded_dijkstra(indptr, indices, lengths, sources[0], float(limit_m), _scratch(n))]
    nodes, dist, first = _search_many(indptr, indices, lengths, np.asarray(sources, dtype=np.int64), float(limit_m),
                                      _scratch(n))
    cuts = first[1:-1]
    return list(zip(np.split(nodes, cuts), np.split(dist, cuts), strict=True))


@njit(cache=True, nogil=True)
def _search_many(indptr, indices, lengths, sources, limit, dist):  # pragma: no cover - compiled
    """:func:`_bounded_dijkstra` from each of ``sources``, the answers end to end: (nodes, distances,
    (S + 1,) first entry of each source's answer)."""
    first = np.zeros(sources.shape[0] + 1, dtype=np.int64)
    nodes = np.empty(1024, dtype=np.int32)
    dists = np.empty(1024, dtype=np.float32)
    m = 0
    for i in range(sources.shape[0]):
        hit, d = _bounded_dijkstra(indptr, indices, lengths, sources[i], limit, dist)
        if m + hit.shape[0] > nodes.shape[0]:
            size = max(2 * nodes.shape[0], m + hit.shape[0])
            grown_n = np.empty(size, dtype=np.int32)
            grown_d = np.empty(size, dtype=np.float32)
            grown_n[:m] = nodes[:m]
            grown_d[:m] = dists[:m]
            nodes, dists = grown_n, grown_d
        nodes[m:m + hit.shape[0]] = hit
        dists[m:m + hit.shape[0]] = d
        m += hit.shape[0]
        first[i + 1] = m
    return nodes[:m], dists[:m], first


def _csr_arrays(graph: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's CSR arrays, as they are: casting int32 indices would copy the whole network on
    every call (the kernel is compiled for either width)."""
    if not sp.issparse(graph) or graph.format != "csr":
        graph = sp.csr_array(graph)
    return graph.indptr, graph.indices, graph.data


_local = threading.local()


def _scratch(n: int) -> np.ndarray:
    """A (n,) float64 array of inf for the kernel's tentative distances, kept per thread: the kernel
    puts back inf where it wrote, so the array is never refilled."""
    arr = getattr(_local, "dist", None)
    if arr is None or len(arr) != n:
        arr = np.full(n, np.inf)
        _local.dist = arr
    return arr


@njit(cache=True, nogil=True)
def _bounded_dijkstra(indptr, indices, lengths, source, limit, dist):  # pragma: no cover - compiled
    """Dijkstra from ``source`` over the CSR graph, stopping at ``limit`` metres.

    ``dist`` is (n,) scratch, all inf on entry and on return. A binary heap of (distance, node)
    with lazy deletion: a node is pushed each time its tentative distance falls, and a popped entry
    larger than the node's distance is stale. Only nodes within the limit are ever pushed.

    Returns:
        (nodes within ``limit`` in ascending order as int32, their distances as float32).
    """
    cap = 64
    heap_d = np.empty(cap, dtype=np.float64)
    heap_v = np.empty(cap, dtype=np.int64)
    seen = np.empty(cap, dtype=np.int64)  # every node given a distance (reset to inf at the end)
    n_seen = 0
    size = 0
    if limit >= 0.0:
        dist[source] = 0.0
        seen[0] = source
        n_seen = 1
        heap_d[0] = 0.0
        heap_v[0] = source
        size = 1
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        # pop: move the last entry to the root and sift it down
        size -= 1
        if size > 0:
            ld = heap_d[size]
            lv = heap_v[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                    c += 1
                if heap_d[c] < ld:
                    heap_d[i] = heap_d[c]
                    heap_v[i] = heap_v[c]
                    i = c
                else:
                    break
            heap_d[i] = ld
            heap_v[i] = lv
        if d > dist[u]:
            continue  # stale: u was reached more cheaply since this entry was pushed
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + lengths[e]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    if n_seen == seen.shape[0]:
                        grown = np.empty(2 * n_seen, dtype=np.int64)
                        grown[:n_seen] = seen
                        seen = grown
                    seen[n_seen] = v
                    n_seen += 1
                dist[v] = nd
                # push: append and sift up (written out, as in _settle: with a helper shared by the
                # two searches this one went from 233 to 342 ms on Porto's day of openings)
                if size == heap_d.shape[0]:
                    gd = np.empty(2 * size, dtype=np.float64)
                    gv = np.empty(2 * size, dtype=np.int64)
                    gd[:size] = heap_d
                    gv[:size] = heap_v
                    heap_d, heap_v = gd, gv
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if heap_d[p] > nd:
                        heap_d[i] = heap_d[p]
                        heap_v[i] = heap_v[p]
                        i = p
                    else:
                        break
                heap_d[i] = nd
                heap_v[i] = v
    out_v = np.empty(n_seen, dtype=np.int32)
    out_d = np.empty(n_seen, dtype=np.float32)
    if n_seen * 16 < dist.shape[0]:
        order = np.sort(seen[:n_seen])  # a small neighbourhood of a large network: sort it
    else:
        order = seen[:0]
        j = 0
        for v in range(dist.shape[0]):  # most of the network: read it in node order
            if dist[v] != np.inf:
                out_v[j] = v
                out_d[j] = dist[v]
                dist[v] = np.inf
                j += 1
    for j in range(order.shape[0]):
        v = order[j]
        out_v[j] = v
        out_d[j] = dist[v]
        dist[v] = np.inf
    return out_v, out_d


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

    The entries kept are moved to the front of the arrays given, in place (no new arrays: a rebuild
    after the month end's closures wrote several MB of fresh memory a category, whose page faults
    kept two threads from rebuilding two categories at once any faster).

    Returns:
        The entries kept (node, dist, who): the category's reach without the ``gone`` outlets
        (views of the arrays given).
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
    m = 0
    for j in range(node.shape[0]):  # m <= j: an entry is moved only over one already read
        w = who[j]
        if lo <= w <= hi and closed[w - lo]:
            continue
        node[m], dist[m], who[m] = node[j], dist[j], w
        m += 1
    node, dist, who = node[:m], dist[:m], who[:m]
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

    def remove(self, outlets: np.ndarray, *, threads: int = 1) -> None:
        """Forget closed outlets and rebuild their categories (their nodes need the next-best
        outlets, which the top-``k`` tables do not hold): with ``threads`` > 1, several categories
        at once (each its own tables; the compiled rebuild releases the GIL)."""
        gone: dict[int, list[int]] = {}
        for outlet in np.asarray(outlets):
            gone.setdefault(self._category.pop(int(outlet)), []).append(int(outlet))
        jobs = [(cat, self._entries(cat), np.array(ids, dtype=np.int32)) for cat, ids in gone.items()]

        def rebuild(job: tuple[int, tuple[np.ndarray, ...], np.ndarray]) -> tuple[np.ndarray, ...]:
            cat, entries, ids = job
            return _rebuild_nearest(*entries, ids, self.outlet[cat], self.dist_m[cat])

        if threads > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(min(threads, len(jobs))) as pool:
                kept = list(pool.map(rebuild, jobs))
        else:
            kept = [rebuild(job) for job in jobs]
        for (cat, _, _), entries in zip(jobs, kept):
            self._packed[cat] = entries

    def _entries(self, cat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Category ``cat``'s cached reach, the entries added since the last rebuild joined in; a
        rebuild follows (the tables' version is bumped)."""
        self.version += 1
        packed = self._packed[cat]
        if self._pending[cat]:
            parts = [packed, *self._pending[cat]]
            packed = tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
            self._pending[cat] = []
        return packed

    def _rebuild(self, cat: int, gone: np.ndarray = _NO_OUTLETS) -> None:
        """Recompute category ``cat``'s tables from the cached reach, first dropping outlets ``gone``."""
        self._packed[cat] = _rebuild_nearest(*self._entries(cat), gone, self.outlet[cat], self.dist_m[cat])
