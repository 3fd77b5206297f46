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
  named by ``name_field`` (a distinct, non-empty name each); a node outside every polygon joins the
  nearest one, and a polygon holding no node is dropped with a warning naming it.
* ``kind = "table"``: a CSV or Parquet file (``path``) with one row per street node: its column
  ``node`` holds the model's node index (0 .. n-1) and the column ``name_field`` (default
  ``name``) the name of its circle; other columns are ignored. A run's own ``circle_nodes.csv``
  (columns ``node``, ``circle``, ``name``; :mod:`sim.io.circle_outputs`) is such a table: rename or
  merge circles by editing its names and feed it back (its ``circle`` numbers are not read).
  Column names are matched without regard to case or surrounding spaces, like the city's tables.
  A node the table does not list joins the circle of the nearest listed node (straight line, as a
  node outside every polygon does), with a warning saying how many did. A node listed twice, a
  node the city does not have, a row without a circle name, and a table with no rows are errors.
  The model does not keep its nodes' OpenStreetMap ids, so a table cannot name nodes by them.

Circles with no node are dropped; the rest are numbered 0 .. K-1 in the order of their names,
numbers within a name compared as numbers (``unit 1-2`` before ``unit 1-10``): grid units row by
row from the south-west, catchments in the order their centres were chosen, table circles by name;
polygons are the exception, numbered in the order of the file's features.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
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


def read_circle_polygons(path: Path, name_field: str, source: str) -> tuple[list, list[str]]:
    """(shapely polygons, names) of a GeoJSON file of life circles in lon/lat degrees, one per
    feature; a missing or unreadable file, no features, a feature that is not a polygon or lacks
    the name property are :class:`ScenarioError` naming the file (``lifecircle validate`` checks it)."""
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
        name = "" if props[name_field] is None else str(props[name_field]).strip()
        if not name:  # as a node table's row without a circle name: the circle's outputs need a name
            raise ScenarioError(f"{source}: circles.name_field: feature {i} of {path} has an empty {name_field!r}; "
                                f"allowed: a name for every circle")
        if name in names:  # two circles of one name could not be told apart in the outputs, or read back
            raise ScenarioError(f"{source}: circles.name_field: features {names.index(name)} and {i} of {path} are both "
                                f"named {name!r}; allowed: a different name for each circle (one MultiPolygon "
                                f"for a circle in several parts)")
        shapes.append(geom)
        names.append(name)
    return shapes, names


def polygon_labels(path: Path, name_field: str, lonlat: np.ndarray, xy: np.ndarray, source: str) -> tuple[np.ndarray, list[str]]:
    """(label of each node, names) from a GeoJSON file of polygons in lon/lat degrees."""
    import shapely

    shapes, names = read_circle_polygons(path, name_field, source)
    label = np.full(len(lonlat), -1, dtype=np.int64)
    for i, geom in enumerate(shapes):
        inside = shapely.contains_xy(geom, lonlat[:, 0], lonlat[:, 1]) & (label < 0)
        label[inside] = i
    if (label < 0).all():
        raise ScenarioError(f"{source}: circles.path: no street node of the district lies inside any polygon of {path} "
                            "(polygons must be WGS-84 lon/lat and cover the district)")
    empty = [names[i] for i in range(len(shapes)) if not (label == i).any()]
    if empty:  # such a circle is dropped: say so rather than leave it out of every output unnoticed
        warnings.warn(f"{path} (circles.path): {len(empty)} polygon{'s hold' if len(empty) > 1 else ' holds'} no street "
                      f"node of the district (outside it, or inside an earlier polygon) and {'have' if len(empty) > 1 else 'has'} "
                      f"no circle: {_examples([repr(n) for n in empty], len(empty))}", stacklevel=2)
    outside = np.flatnonzero(label < 0)
    if len(outside):  # each outside node joins the circle of the nearest node inside one
        inside_ids = np.flatnonzero(label >= 0)
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(xy[inside_ids]).query(xy[outside])
        label[outside] = label[inside_ids[nearest]]
    return label, names


POLYGONS_NEED_A_PLACE = ("circles.kind = 'polygons' needs a real district (city.kind = 'osm'); a grid city has "
                         "no place on Earth: use circles.kind = 'grid' or 'catchments'")
"""The error of polygons given for a grid city (found by ``lifecircle validate`` and by the build)."""

TABLE_SUFFIXES = (".csv", ".parquet")
"""File types a node table (``kind = "table"``) may have."""

NODE_COLUMN = "node"
"""The node table's column of node indices (as in a run's ``circle_nodes.csv``)."""

_EXAMPLES = 5
"""How many offending rows or nodes an error message shows."""


def natural_key(name: str) -> tuple[list[str | int], str]:
    """Sort key ordering names with the numbers in them compared as numbers (``unit 1-2`` before
    ``unit 1-10``); names equal that way (``01``, ``1``) fall back to their text."""
    parts = re.split(r"([0-9]+)", name)
    return [int(part) if i % 2 else part for i, part in enumerate(parts)], name


def _examples(items: list[str], total: int) -> str:
    shown = ", ".join(items[:_EXAMPLES])
    return shown + (f" ... ({total} in all)" if total > _EXAMPLES else "")


def read_circle_table(path: Path, name_field: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(node of each row, circle name of each row) of a node table, checked as far as it can be
    without the city (the node indices' upper bound is checked by :func:`table_labels`).

    Args:
        path: A CSV (read as text: UTF-8 or GB18030) or Parquet file.
        name_field: The column naming each row's circle (``circles.name_field``).
        source: The scenario, as named in messages.

    Raises:
        ScenarioError: The file is missing, of another type or unreadable, has no rows, lacks the
            ``node`` or the ``name_field`` column, or has a node that is not a whole number >= 0, a
            node listed twice or a row without a circle name.
    """
    from sim.city.tables import read_csv_text

    path = Path(path)
    where = f"{source}: circles.path: {path}"
    if not path.is_file():
        raise ScenarioError(f"{source}: circles.path: file {path} not found")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ScenarioError(f"{where}: unsupported table type {path.suffix or '(none)'!r}; allowed: {', '.join(TABLE_SUFFIXES)}")
    try:
        frame = read_csv_text(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as err:  # pandas and pyarrow raise many kinds for a damaged file
        raise ScenarioError(f"{where}: not a readable {suffix[1:].upper()} table ({type(err).__name__}: {err})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    text = frame.astype(object).where(frame.notna(), "").astype(str).apply(lambda col: col.str.strip())
    columns = ", ".join(map(repr, text.columns)) or "none"
    name_column = name_field.strip().lower()
    if NODE_COLUMN not in text.columns:
        hint = ""
        if {"osm_id", "osmid", "id"} & set(text.columns):
            hint = "; OpenStreetMap node ids cannot be used: the model does not keep them"
        raise ScenarioError(f"{where}: no column {NODE_COLUMN!r} (the model's node index, 0 .. n-1, as in a "
                            f"run's circle_nodes.csv); its columns: {columns}{hint}")
    if name_column not in text.columns:
        raise ScenarioError(f"{source}: circles.name_field = {name_field!r}: {path} has no such column to name "
                            f"each node's circle; its columns: {columns} (set circles.name_field to one of them)")
    if len(text) == 0:
        raise ScenarioError(f"{where}: the table has no rows (one row per street node is expected)")
    raw_nodes, names = text[NODE_COLUMN].tolist(), text[name_column].to_numpy(str)
    number = pd.to_numeric(text[NODE_COLUMN], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(number) | (number < 0) | (number != np.floor(number)) | (number > 2.0**53))
    if len(bad):
        rows = [f"row {r + 1}: {raw_nodes[r]!r}" for r in bad[:_EXAMPLES]]
        raise ScenarioError(f"{where}: column {NODE_COLUMN!r} must hold node indices (whole numbers >= 0); "
                            f"{len(bad)} of its {len(text)} rows do not: {_examples(rows, len(bad))}")
    nodes = number.astype(np.int64)
    blank = np.flatnonzero(names == "")
    if len(blank):
        rows = [f"row {r + 1} (node {nodes[r]})" for r in blank[:_EXAMPLES]]
        raise ScenarioError(f"{where}: column {name_column!r} is empty in {len(blank)} of its {len(text)} rows; every "
                            f"listed node needs a circle: {_examples(rows, len(blank))}")
    listed, count = np.unique(nodes, return_counts=True)
    twice = np.flatnonzero(count > 1)
    if len(twice):
        items = [f"node {listed[i]} (rows {', '.join(str(r + 1) for r in np.flatnonzero(nodes == listed[i])[:3])}"
                 f"{' ...' if count[i] > 3 else ''})" for i in twice[:_EXAMPLES]]
        raise ScenarioError(f"{where}: {len(twice)} node{'s are' if len(twice) > 1 else ' is'} listed more than once; "
                            f"each node belongs to one circle: {_examples(items, len(twice))}")
    return nodes, names


def table_labels(nodes: np.ndarray, names: np.ndarray, xy: np.ndarray, path: Path, source: str) -> tuple[np.ndarray, list[str]]:
    """(label of each node, names) from a node table's rows (:func:`read_circle_table`): labels
    numbered in the order of the names (:func:`natural_key`); a node the table does not list takes
    the label of the nearest listed node (straight line), with a warning.

    Args:
        nodes: (rows,) node index of each row, distinct, >= 0.
        names: (rows,) circle name of each row.
        xy: (n, 2) the city's node positions, metres.
        path: The table, for messages.
        source: The scenario, for messages.

    Raises:
        ScenarioError: The table names a node the city does not have (index >= n).
    """
    n = len(xy)
    unknown = np.flatnonzero(nodes >= n)
    if len(unknown):
        rows = [f"node {nodes[r]} in row {r + 1}" for r in unknown[:_EXAMPLES]]
        raise ScenarioError(f"{source}: circles.path: {path} names {len(unknown)} node{'s' if len(unknown) > 1 else ''} this city does not have "
                            f"(its nodes are 0 .. {n - 1}; a table from another district or city size?): "
                            f"{_examples(rows, len(unknown))}")
    distinct, of_row = np.unique(names, return_inverse=True)
    ordered = sorted(distinct.tolist(), key=natural_key)
    position = {name: i for i, name in enumerate(ordered)}
    label = np.full(n, -1, dtype=np.int64)
    label[nodes] = np.array([position[name] for name in distinct.tolist()], dtype=np.int64)[of_row]
    missing = np.flatnonzero(label < 0)
    if len(missing):  # like a node outside every polygon: the circle of the nearest listed node
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(xy[nodes]).query(xy[missing])
        label[missing] = label[nodes[nearest]]
        warnings.warn(f"{path} (circles.path): {len(missing):,} of the city's {n:,} nodes {'are' if len(missing) > 1 else 'is'} not in the table "
                      f"({_examples([str(v) for v in missing[:_EXAMPLES]], len(missing))}); each joins the circle "
                      "of the nearest listed node", stacklevel=3)
    return label, ordered


def build_circles(scenario: Scenario, city: City) -> Circles:
    """The circles the scenario's ``[circles]`` table asks for on ``city``."""
    cfg = scenario.circles
    n = city.graph.shape[0]
    source = scenario.source
    if cfg.kind == "none":
        return Circles.whole(n, getattr(city, "name", "") or scenario.name)
    if cfg.kind == "grid":
        return Circles.from_labels(grid_cells(city.node_xy, cfg.cells_x, cfg.cells_y), kind="grid",
                                   names=[f"unit {y + 1}-{x + 1}" for y in range(cfg.cells_y) for x in range(cfg.cells_x)])
    if cfg.kind == "catchments":
        centres = farthest_centres(city.graph, city.node_xy, cfg.centres)
        return Circles.from_labels(catchments(city.graph, centres), kind="catchments",
                                   names=[f"centre {i + 1:02d}" for i in range(len(centres))])
    if cfg.kind == "table":
        path = scenario.resolve_path(cfg.path)
        nodes, names = read_circle_table(path, cfg.name_field, source)
        label, ordered = table_labels(nodes, names, city.node_xy, path, source)
        return Circles.from_labels(label, names=ordered, kind="table")
    lonlat = getattr(city, "node_lonlat", None)
    if lonlat is None:
        raise ScenarioError(f"{source}: {POLYGONS_NEED_A_PLACE}")
    label, names = polygon_labels(scenario.resolve_path(cfg.path), cfg.name_field, lonlat, city.node_xy, source)
    return Circles.from_labels(label, names=names, kind="polygons")
