"""Putting table points (shops of a POI table) on a district's walking network.

A shop stands on a street, usually between two intersections. Moving it to the nearest network
node can shift it 50 m or more along a Chinese block (median ~27 m, 90th percentile ~50 m on the
Beijing test district), which changes walk times and which residents it serves. So a point goes to
the **nearest point of the nearest walkable edge**: the edge is split there by a new node, with the
edge's length shared in proportion (edges of an OSM walking network are straight segments between
consecutive way nodes, so the split is exact). A foot within :data:`SPLIT_MIN_M` of an edge's end,
or of another split on the same edge, reuses that node. A point farther than the snapping distance
from every edge lies outside the network's area and is not placed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sim.city.grid import edges_to_graph

if TYPE_CHECKING:
    from sim.city.osm import OsmCity

SPLIT_MIN_M = 5.0
"""A point's foot on an edge closer than this to an existing node uses that node instead of a new
one, metres (about a shopfront's width; keeps edges longer than a few metres)."""


def snap_to_edges(city: OsmCity, xy: np.ndarray, snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes for points, splitting the nearest walkable edge at each point's foot.

    The city's network grows by the new nodes (``node_xy``, ``node_lonlat``, ``graph``, ``edges``,
    and ``residential_weight``, ``commercial``, ``old_blocks`` extended with zeros/False); walk
    distances between the old nodes are unchanged.

    Args:
        city: The district (modified in place).
        xy: (p, 2) points in the city's planar metres.
        snap_m: Points farther than this from every edge are not placed, metres.

    Returns:
        (node of each point or -1 when too far, distance from each point to the network in metres).
    """
    import shapely

    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    upper = sp.triu(city.graph, k=1).tocoo()
    u, v, length = upper.row.astype(np.int64), upper.col.astype(np.int64), upper.data.astype(np.float64)
    if len(xy) == 0 or len(u) == 0:
        return np.full(len(xy), -1, dtype=np.int64), np.full(len(xy), math.inf)
    a, b = city.node_xy[u], city.node_xy[v]
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    tree = shapely.STRtree(lines)
    (point_idx, edge_idx), dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    edge = np.full(len(xy), -1, dtype=np.int64)
    distance = np.full(len(xy), math.inf)
    edge[point_idx], distance[point_idx] = edge_idx, dist
    near = distance <= snap_m
    # Foot of each point on its edge, as the fraction t along u -> v.
    seg = b - a
    node = np.full(len(xy), -1, dtype=np.int64)
    new_xy: list[np.ndarray] = []
    split_edges: dict[int, list[tuple[float, int]]] = {}
    n = len(city.node_xy)
    for p in np.flatnonzero(near):
        e = int(edge[p])
        span = float(np.hypot(*seg[e]))
        t = 0.0 if span == 0 else float(np.clip(np.dot(xy[p] - a[e], seg[e]) / span**2, 0.0, 1.0))
        if t * span < SPLIT_MIN_M:
            node[p] = u[e]
            continue
        if (1 - t) * span < SPLIT_MIN_M:
            node[p] = v[e]
            continue
        splits = split_edges.setdefault(e, [])
        for t_other, other in splits:
            if abs(t_other - t) * span < SPLIT_MIN_M:
                node[p] = other
                break
        else:
            node[p] = n + len(new_xy)
            new_xy.append(a[e] + t * seg[e])
            splits.append((t, int(node[p])))
    if not new_xy:
        return node, distance
    # Rebuild the edge list: split edges become chains u - w1 - ... - v with shared lengths.
    keep = np.ones(len(u), dtype=bool)
    eu, ev, el = [], [], []
    for e, splits in split_edges.items():
        keep[e] = False
        chain = [(0.0, int(u[e]))] + sorted(splits) + [(1.0, int(v[e]))]
        for (t0, n0), (t1, n1) in zip(chain[:-1], chain[1:]):
            eu.append(n0)
            ev.append(n1)
            el.append(length[e] * (t1 - t0))
    edges = np.vstack([np.column_stack([u[keep], v[keep]]), np.column_stack([eu, ev])]).astype(np.int64)
    lengths = np.concatenate([length[keep], np.asarray(el, dtype=np.float64)])
    added = np.asarray(new_xy)
    total = n + len(added)
    city.node_xy = np.vstack([city.node_xy, added])
    city.node_lonlat = np.vstack([city.node_lonlat, city.unproject(added)])
    city.graph = edges_to_graph(edges, lengths, total)
    city.edges = edges
    city.residential_weight = np.concatenate([city.residential_weight, np.zeros(len(added))])
    city.commercial = np.concatenate([city.commercial, np.zeros(len(added), dtype=bool)])
    city.old_blocks = np.concatenate([city.old_blocks, np.zeros(len(added), dtype=bool)])
    return node, distance
