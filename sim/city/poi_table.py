"""POI tables: shops and services from Amap, Baidu or any table, put on a district's walking network.

Chinese planners work from POI exports of Amap (Gaode) or Baidu, in those services' coordinate
systems and with their own category codes. A table is read (:mod:`sim.city.tables`), each row's kind is
mapped to a service category (a ``category`` name, an Amap ``typecode`` or a Baidu ``type``, through
the code table of :mod:`sim.city.poi_codes`), its coordinates are converted to WGS-84
(:mod:`sim.city.coords`), and the points are put on the network:

* **Snapping**: each point goes to the nearest point of the nearest walkable edge, which is split
  there by a new node (:mod:`sim.city.snapping`); a point farther than ``city.poi_snap_m`` from every
  edge lies outside the network's area and is dropped, with a warning that counts them. If every
  point is that far, the table does not belong to the district (another city, or a wrong
  ``poi_crs``): an error.
* **Replace or add**: ``poi_mode = "replace"`` makes the table the district's shops (OSM's are
  ignored); ``"add"`` keeps OSM's and adds the table's.
* **Duplicates**: points of the same category within ``city.poi_merge_m`` of one another are one
  outlet; the first is kept (OSM's before the table's, then table order).

Unmapped rows (a code or name the table does not know) are counted by value and reported like
unmapped OSM tags; they never become outlets.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from sim.city.coords import outside_china, to_wgs84
from sim.city.outlet_sources import TABLE
from sim.scenario import ScenarioError
from sim.city.snapping import snap_to_edges
from sim.city.tables import lonlat, read_table

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue
    from sim.city.osm import OsmCity
    from sim.city.poi_codes import CodeTable

KIND_COLUMNS = ("category", "typecode", "type")
"""Columns that name a row's kind, in the order they are tried for each row."""


@dataclass
class PoiTable:
    """A POI table's mapped points in WGS-84, with what could not be mapped.

    Attributes:
        lonlat: (p, 2) WGS-84 longitude and latitude of each mapped point, degrees.
        category: (p,) category id of each mapped point.
        name: (p,) the ``name`` column ("" without one).
        row: (p,) data row of each point in the file (0 = first record).
        rows: Rows in the file.
        unmapped: ``"typecode=060300"`` (or ``type=...``, ``category=...``) -> rows with that value
            that map to no category.
        source: The file, as named in messages.
        crs: The coordinate system the file was read in.
    """

    lonlat: np.ndarray
    category: np.ndarray
    name: np.ndarray
    row: np.ndarray
    rows: int
    unmapped: dict[str, int]
    source: str
    crs: str


def lower_names(catalogue: Catalogue) -> set[str]:
    """The catalogue's category names in lower case (a table's ``category`` is matched in any case)."""
    return {name.lower() for name in catalogue.names}


def read_poi_table(path: Path, *, crs: str, codes: CodeTable, catalogue: Catalogue,
                   key: str = "city.poi_table") -> PoiTable:
    """Read a POI table, map each row to a category and convert its coordinates to WGS-84.

    Args:
        path: The CSV, XLSX or GeoJSON file.
        crs: Its coordinate system: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``.
        codes: The type-code table.
        catalogue: The service categories (``category`` names are checked against it).
        key: The scenario key naming the file, for messages.

    Raises:
        ScenarioError: Missing or unreadable file, no rows, no coordinate or kind column, a bad
            coordinate, a ``category`` that is not a catalogue name, or (for GCJ-02/BD-09) points outside China where those systems do not apply.
    """
    table = read_table(path, key=key)
    kinds = [c for c in KIND_COLUMNS if table.column(c)]
    if not kinds:
        raise ScenarioError(
            f"{table.source}: no column naming the kind of each point ({key}); found columns: "
            f"{', '.join(table.frame.columns)}; allowed: category (lifecircle's names: "
            f"{', '.join(catalogue.names)}), typecode (Amap type codes, e.g. 060200) or type "
            "(Baidu industry names, e.g. 购物;便利店)"
        )
    lon, lat = lonlat(table)
    unmapped: Counter[str] = Counter()
    category = np.full(len(table), -1, dtype=np.int64)
    lower = {name.lower(): i for i, name in enumerate(catalogue.names)}
    frame = table.frame
    if table.column("category"):
        # The category column holds lifecircle's own names, a closed list: an unknown one is a typo,
        # not a code the code table lacks, and its rows would otherwise be dropped with a warning.
        given = [str(value) for value in frame["category"]]
        wrong = [i for i, value in enumerate(given) if value and value.lower() not in lower_names(catalogue)]
        if wrong:
            first = wrong[0]
            others = sorted({given[i] for i in wrong} - {given[first]})
            raise ScenarioError(
                f"{table.where(first, 'category')}: {given[first]!r} is not a service category "
                f"({len(wrong)} row{'s' if len(wrong) > 1 else ''} name unknown categories"
                f"{': also ' + ', '.join(map(repr, others[:5])) if others else ''}); allowed: "
                f"{', '.join(catalogue.names)} (any case), or an empty cell and the row's typecode or type"
            )
    for i in range(len(table)):
        for column in kinds:
            value = frame[column].iat[i]
            if not value:
                continue
            if column == "category":
                cat = lower.get(value.lower(), -1)
            elif column == "typecode":
                cat = codes.amap(value)
            else:
                cat = codes.baidu(value)
            if cat < 0:
                unmapped[f"{column}={value}"] += 1
            category[i] = cat
            break
        else:
            unmapped[f"(empty {'/'.join(kinds)})"] += 1
    if crs != "wgs84":
        outside = outside_china(lon, lat)
        if outside.any():
            first = int(np.flatnonzero(outside)[0])
            raise ScenarioError(
                f"{table.where(first)}: lon = {lon[first]:g}, lat = {lat[first]:g} lies outside China, where "
                f"{crs} does not apply ({int(outside.sum())} such row(s)); a table of another country is wgs84 "
                "(poi_crs / homes_crs = \"wgs84\")"
            )
    lon, lat = to_wgs84(lon, lat, crs)
    mapped = category >= 0
    if not mapped.any():
        top = ", ".join(f"{value} ({count})" for value, count in unmapped.most_common(8))
        raise ScenarioError(
            f"{table.source}: none of its {len(table)} rows maps to a service category ({key}); most common "
            f"values: {top}; allowed: category names ({', '.join(catalogue.names)}), Amap type codes or Baidu "
            f"industry names listed in the code table ({codes.source})"
        )
    names = frame["name"].to_numpy(object) if table.column("name") else np.full(len(table), "", dtype=object)
    return PoiTable(
        lonlat=np.column_stack([lon, lat])[mapped], category=category[mapped], name=names[mapped],
        row=np.flatnonzero(mapped), rows=len(table), unmapped=dict(unmapped.most_common()),
        source=table.source, crs=crs,
    )


@dataclass
class Placement:
    """What putting a table on the network did (kept in ``OsmCity.inputs["poi_table"]``).

    Attributes:
        rows: Rows in the file.
        unmapped: Rows whose kind maps to no category.
        too_far: Mapped rows farther than the snapping distance from every node (dropped).
        merged: Rows merged into another point of the same category (duplicates).
        outlets: Points that became outlets.
        osm_kept: OSM POIs kept beside the table (``poi_mode = "add"``), after merging.
        row: (outlets,) file row (0 = first record) of each table outlet, in the order of the
            city's table POIs.
        snap_m: (outlets,) distance from each table outlet's point to the network, metres.
    """

    rows: int
    unmapped: int
    too_far: int
    merged: int
    outlets: int
    osm_kept: int
    row: np.ndarray = field(repr=False)
    snap_m: np.ndarray = field(repr=False)


def add_poi_table(city: OsmCity, table: PoiTable, *, mode: str, snap_m: float, merge_m: float) -> Placement:
    """Put a table's points on the city's network, replacing or adding to its OSM POIs.

    Updates the city's POIs (``poi_node``, ``poi_category``, ``poi_xy``, ``poi_source``), adds a
    node where a point's foot falls mid-edge (:func:`sim.city.snapping.snap_to_edges`), marks the table's
    nodes as shop space and re-ranks old communities on the new POIs.

    Raises:
        ScenarioError: No mapped row lies within ``snap_m`` of the network.
    """
    from sim.city.osm import old_blocks_of

    if mode not in ("replace", "add"):
        raise ValueError(f"poi_mode {mode!r}; allowed: replace, add")
    xy = city.project(table.lonlat)
    node, dist = snap_to_edges(city, xy, snap_m)
    near = node >= 0
    too_far = int((~near).sum())
    if len(xy) and not near.any():
        lo, hi = table.lonlat.min(axis=0), table.lonlat.max(axis=0)
        nlo, nhi = city.node_lonlat.min(axis=0), city.node_lonlat.max(axis=0)
        raise ScenarioError(
            f"{table.source} (city.poi_table): none of its {len(xy)} mapped points lies within "
            f"city.poi_snap_m = {snap_m:g} m of the walking network of {city.source}; the table spans lon "
            f"{lo[0]:.4f}..{hi[0]:.4f}, lat {lo[1]:.4f}..{hi[1]:.4f} (WGS-84, read as {table.crs}), the network "
            f"lon {nlo[0]:.4f}..{nhi[0]:.4f}, lat {nlo[1]:.4f}..{nhi[1]:.4f}: another district, or a wrong "
            "city.poi_crs (GCJ-02 read as WGS-84 is ~300-700 m off)?"
        )
    if mode == "add":
        old_xy, old_node, old_cat, old_src = city.poi_xy, city.poi_node, city.poi_category, city.poi_source
    else:
        old_xy, old_node, old_cat, old_src = np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8)
    all_xy = np.vstack([old_xy, xy[near]])
    all_node = np.concatenate([old_node, node[near]])
    all_cat = np.concatenate([old_cat, table.category[near]])
    all_src = np.concatenate([old_src, np.full(int(near.sum()), TABLE, dtype=np.int8)])
    keep = first_of_duplicates(all_xy, all_cat, merge_m, fixed=len(old_xy))  # OSM's own POIs all stay
    table_keep = keep[len(old_xy):]
    merged_table = int((~table_keep).sum())
    city.poi_xy, city.poi_node = all_xy[keep], all_node[keep]
    city.poi_category, city.poi_source = all_cat[keep], all_src[keep]
    city.commercial[node[near]] = True
    city.old_blocks = old_blocks_of(city.node_xy, city.poi_node, city.old_block_share, candidates=city.inside())
    placement = Placement(
        rows=table.rows, unmapped=sum(table.unmapped.values()), too_far=too_far, merged=merged_table,
        outlets=int((city.poi_source == TABLE).sum()), osm_kept=int((city.poi_source != TABLE).sum()),
        row=table.row[near][table_keep], snap_m=dist[near][table_keep],
    )
    city.inputs["poi_table"] = placement
    city.inputs["poi_table_unmapped"] = dict(table.unmapped)
    _warn(table, placement, snap_m)
    return placement


def first_of_duplicates(xy: np.ndarray, category: np.ndarray, merge_m: float, *, fixed: int = 0) -> np.ndarray:
    """True for points kept: in order, a point is dropped when a kept point of the same category
    lies within ``merge_m`` metres of it. The first ``fixed`` points are always kept (the map's own
    POIs when a table is added: two shops of a trade mapped side by side are two shops, as they are
    without a table); they still displace later points near them."""
    keep = np.ones(len(xy), dtype=bool)
    if merge_m <= 0 or len(xy) < 2:
        return keep
    for cat in np.unique(category):
        idx = np.flatnonzero(category == cat)
        if len(idx) < 2:
            continue
        neighbours = cKDTree(xy[idx]).query_ball_point(xy[idx], merge_m)
        for a in range(len(idx)):  # idx is in input order, so earlier points win
            if not keep[idx[a]]:
                continue
            for b in neighbours[a]:
                if b > a and idx[b] >= fixed:
                    keep[idx[b]] = False
    return keep


def _warn(table: PoiTable, placement: Placement, snap_m: float) -> None:
    if table.unmapped:
        top = ", ".join(f"{value} ({count})" for value, count in list(table.unmapped.items())[:8])
        warnings.warn(
            f"{table.source}: {placement.unmapped} of {table.rows} rows match no service category "
            f"(code table: city.poi_codes); most common: {top}",
            stacklevel=3,
        )
    if placement.too_far:
        warnings.warn(
            f"{table.source}: {placement.too_far} of {table.rows} rows lie more than {snap_m:g} m from the "
            "walking network (outside the district's area) and were dropped",
            stacklevel=3,
        )
    if placement.merged:
        warnings.warn(
            f"{table.source}: {placement.merged} rows duplicate a point of the same category nearby "
            "(city.poi_merge_m) and were merged into it",
            stacklevel=3,
        )
