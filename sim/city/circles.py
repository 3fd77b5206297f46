"""Life circles of a city: a partition of the street nodes into life-circle units.

A city builds many life circles and evaluates them one by one (the mayor responsibility system);
residents still shop wherever their walk takes them, across circle boundaries, because the street
network is one. A resident belongs to the circle of their home node, an outlet to the circle of
its node. The partition comes from the scenario's ``[circles]`` table:

* ``kind = "none"``: the whole district is one circle (the default: a district model).
* ``kind = "grid"``: planning units, a grid of ``cells_x`` x ``cells_y`` equal rectangles over the
  nodes' extent (on the synthetic city: blocks of blocks, like a planning map's units).
* ``kind = "catchments"``: ``centres`` service centres spread over the network (each next centre is
  the node farthest, on foot, from those chosen so far, starting from the node nearest the
  middle), every node in the catchment of the centre nearest on foot: the national guide's
  15-minute catchments of community centres, derived from the network alone.
* ``kind = "polygons"``: a GeoJSON file of polygons (real districts only), one circle per feature,
  named by ``name_field``; a node outside every polygon joins the nearest one.

Circles with no node are dropped; circles are numbered 0 .. K-1 in the order of their names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse.csgraph as csgraph

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.city.grid import City
    from sim.scenario import Scenario


@dataclass(frozen=True)
class Circles:
    """A partition of a city's nodes into life circles.

    Attributes:
        of_node: (n_nodes,) circle of each node, 0 .. k-1.
        names: (k,) each circle's name.
        kind: How the partition was made (the scenario's ``circles.kind``).
    """

    of_node: np.ndarray
    names: tuple[str, ...]
    kind: str = "none"

    @property
    def k(self) -> int:
        """Number of circles."""
        return len(self.names)

    def of(self, nodes: np.ndarray) -> np.ndarray:
        """Circle of each of ``nodes``."""
        return self.of_node[np.asarray(nodes, dtype=np.int64)]

    @classmethod
    def whole(cls, n_nodes: int, name: str = "district") -> Circles:
        """The whole district as one circle."""
        return cls(np.zeros(n_nodes, dtype=np.int64), (name,), "none")

    @classmethod
    def from_labels(cls, labels: np.ndarray, names: list[str] | None = None, kind: str = "") -> Circles:
        """Circles from one label per node (any integers); labels with no node are dropped and the
        rest renumbered in order (names, when given, are indexed by label)."""
        labels = np.asarray(labels, dtype=np.int64)
        used, of_node = np.unique(labels, return_inverse=True)
        if names is None:
            named = tuple(f"circle {i + 1:02d}" for i in range(len(used)))
        else:
            named = tuple(str(names[u]) for u in used)
        return cls(of_node.astype(np.int64), named, kind)


def grid_cells(xy: np.ndarray, cells_x: int, cells_y: int) -> np.ndarray:
    """Label of each point in a ``cells_x`` x ``cells_y`` grid of equal cells over the points'
    extent, row-major from the south-west (the east and north edges belong to the last cells)."""
    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    ix = np.minimum(((xy[:, 0] - lo[0]) / span[0] * cells_x).astype(np.int64), cells_x - 1)
    iy = np.minimum(((xy[:, 1] - lo[1]) / span[1] * cells_y).astype(np.int64), cells_y - 1)
    return iy * cells_x + ix


def farthest_centres(graph, xy: np.ndarray, count: int) -> np.ndarray:
    """``count`` nodes spread over the network: the node nearest the middle of the extent first,
    then each time the node farthest on foot from every centre chosen so far (ties: lowest id)."""
    xy = np.asarray(xy, dtype=np.float64)
    middle = (xy.min(axis=0) + xy.max(axis=0)) / 2
    first = int(np.argmin(((xy - middle) ** 2).sum(axis=1)))
    centres = [first]
    nearest = csgraph.dijkstra(graph, directed=False, indices=first)
    while len(centres) < count:
        reachable = np.where(np.isfinite(nearest), nearest, -1.0)
        nxt = int(np.argmax(reachable))
        if reachable[nxt] <= 0:
            break  # fewer distinct places than centres asked for
        centres.append(nxt)
        nearest = np.minimum(nearest, csgraph.dijkstra(graph, directed=False, indices=nxt))
    return np.array(centres, dtype=np.int64)


def catchments(graph, centres: np.ndarray) -> np.ndarray:
    """Index (into ``centres``) of the centre nearest on foot to every node."""
    _, _, sources = csgraph.dijkstra(graph, directed=False, indices=centres, min_only=True,
                                     return_predecessors=True)
    position = np.full(graph.shape[0], -1, dtype=np.int64)
    position[centres] = np.arange(len(centres))
    label = np.where(sources >= 0, position[np.maximum(sources, 0)], 0)
    return label


def polygon_labels(path: Path, name_field: str, lonlat: np.ndarray, xy: np.ndarray, source: str) -> tuple[np.ndarray, list[str]]:
    """(label of each node, names) from a GeoJSON file of polygons in lon/lat degrees."""
    import shapely

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{source}: circles.path: file {path} not found") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{source}: circles.path: {path} is not a GeoJSON file ({exc})") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not features:
        raise ScenarioError(f"{source}: circles.path: {path} has no features (a GeoJSON FeatureCollection of polygons is expected)")
    shapes, names = [], []
    for i, feature in enumerate(features):
        geom = shapely.geometry.shape(feature.get("geometry") or {}) if feature.get("geometry") else None
        if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ScenarioError(f"{source}: circles.path: feature {i} of {path} is not a Polygon or MultiPolygon")
        props = feature.get("properties") or {}
        if name_field not in props:
            raise ScenarioError(f"{source}: circles.name_field: feature {i} of {path} has no property {name_field!r}; "
                                f"its properties: {', '.join(map(str, props)) or 'none'}")
        shapes.append(geom)
        names.append(str(props[name_field]))
    label = np.full(len(lonlat), -1, dtype=np.int64)
    for i, geom in enumerate(shapes):
        inside = shapely.contains_xy(geom, lonlat[:, 0], lonlat[:, 1]) & (label < 0)
        label[inside] = i
    if (label < 0).all():
        raise ScenarioError(f"{source}: circles.path: no street node of the district lies inside any polygon of {path} "
                            "(polygons must be WGS-84 lon/lat and cover the district)")
    outside = np.flatnonzero(label < 0)
    if len(outside):  # each outside node joins the circle of the nearest node inside one
        inside_ids = np.flatnonzero(label >= 0)
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(xy[inside_ids]).query(xy[outside])
        label[outside] = label[inside_ids[nearest]]
    return label, names


def build_circles(scenario: Scenario, city: City) -> Circles:
    """The circles the scenario's ``[circles]`` table asks for on ``city``."""
    cfg = scenario.circles
    n = city.graph.shape[0]
    source = "scenario"
    if cfg.kind == "none":
        return Circles.whole(n, getattr(city, "name", "") or scenario.name)
    if cfg.kind == "grid":
        return Circles.from_labels(grid_cells(city.node_xy, cfg.cells_x, cfg.cells_y), kind="grid",
                                   names=[f"unit {y + 1}-{x + 1}" for y in range(cfg.cells_y) for x in range(cfg.cells_x)])
    if cfg.kind == "catchments":
        centres = farthest_centres(city.graph, city.node_xy, cfg.centres)
        return Circles.from_labels(catchments(city.graph, centres), kind="catchments",
                                   names=[f"centre {i + 1:02d}" for i in range(len(centres))])
    lonlat = getattr(city, "node_lonlat", None)
    if lonlat is None:
        raise ScenarioError(f"{source}: circles.kind = 'polygons' needs a real district (city.kind = 'osm'); "
                            "a grid city has no place on Earth: use circles.kind = 'grid' or 'catchments'")
    label, names = polygon_labels(scenario.resolve_path(cfg.path), cfg.name_field, lonlat, city.node_xy, source)
    return Circles.from_labels(label, names=names, kind="polygons")
