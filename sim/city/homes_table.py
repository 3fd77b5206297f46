"""Residential-compound (小区) tables: where a district's residents live.

Chinese districts are built as gated compounds whose households are listed by housing bureaus,
property managers and listing sites. A homes table gives each compound as a point (``lon``/``lat``
or ``location``) or a GeoJSON polygon, with ``households`` or ``population``, in WGS-84, GCJ-02 or
BD-09 (:mod:`sim.city.coords`). It replaces the OSM rule (floor area of residential buildings) as the
weight of each node in the residents' placement:

* a polygon's residents are shared equally among the walkable nodes inside it (compounds have their
  own internal roads); a polygon with no node inside, and a point, go to the nearest node;
* a compound whose nearest node is farther than ``city.poi_snap_m`` lies outside the network's area
  and is dropped, with a warning that counts them; if all are, the table is refused;
* ``population`` is used where given, otherwise ``households`` × :data:`PERSONS_PER_HOUSEHOLD`
  (a warning counts the rows that give both: their ``households`` are not used).

The scenario's ``population.residents`` stays the number of simulated residents; the table sets
only where they live. The table's own total is reported (and a warning given when the two differ
more than twofold), so a user can set ``population.residents`` to it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from sim.city.coords import outside_china, to_wgs84
from sim.scenario import ScenarioError
from sim.city.tables import lonlat, read_table

if TYPE_CHECKING:
    from sim.city.osm import OsmCity

PERSONS_PER_HOUSEHOLD = 2.62
"""People per family household in China, 7th national census 2020 (NBS communiqué no. 2, 2021:
2.62 persons, down from 3.10 in 2010)."""

COUNT_COLUMNS = ("population", "households")
"""Columns giving a compound's size; ``population`` wins where both are filled."""


@dataclass
class HomesTable:
    """A homes table's compounds in WGS-84.

    Attributes:
        lonlat: (h, 2) WGS-84 position of each compound (a polygon's centroid), degrees.
        polygons: (h,) shapely polygons in WGS-84 degrees (None for points), or None for a table
            of points.
        residents: (h,) people living in each compound.
        rows: Rows in the file.
        source: The file, as named in messages.
        both_given: Rows giving both ``population`` and ``households`` (``population`` is used).
    """

    lonlat: np.ndarray
    polygons: np.ndarray | None
    residents: np.ndarray
    rows: int
    source: str
    both_given: int = 0


def read_homes_table(path: Path, *, crs: str, key: str = "city.homes_table") -> HomesTable:
    """Read a residential-compound table and convert it to WGS-84.

    Raises:
        ScenarioError: Missing or unreadable file, no rows, no coordinates, no ``households`` or
            ``population`` column, a count that is not a number >= 0, a total of zero, or points
            outside China for GCJ-02/BD-09.
    """
    import shapely

    table = read_table(path, key=key)
    present = [c for c in COUNT_COLUMNS if table.column(c)]
    if not present:
        raise ScenarioError(
            f"{table.source}: no column giving each compound's size ({key}); found columns: "
            f"{', '.join(table.frame.columns)}; allowed: households, or population"
        )
    residents = np.full(len(table), np.nan)
    for column in present:  # population first, then households for rows still empty
        text = table.frame[column]
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero((text != "") & ~(np.isfinite(values) & (values >= 0)))
        if len(bad):
            row = int(bad[0])
            raise ScenarioError(f"{table.where(row, column)}: {text.iat[row]!r} is not a number >= 0; allowed: a count")
        scale = 1.0 if column == "population" else PERSONS_PER_HOUSEHOLD
        fill = np.isnan(residents) & np.isfinite(values)
        residents[fill] = values[fill] * scale
    both_given = 0
    if len(present) == 2:  # documented: population wins; said, since the two may disagree
        both_given = int(((table.frame["population"] != "") & (table.frame["households"] != "")).sum())
        if both_given:
            warnings.warn(f"{table.source}: {both_given} of {len(table)} compounds give both population and "
                          f"households ({key}); population is used there (households x {PERSONS_PER_HOUSEHOLD} "
                          f"only where population is not given)", stacklevel=2)
    missing = np.flatnonzero(np.isnan(residents))
    if len(missing):
        row = int(missing[0])
        raise ScenarioError(f"{table.where(row)}: no {' or '.join(present)} given ({len(missing)} such row(s)); allowed: a count")
    if residents.sum() <= 0:
        raise ScenarioError(f"{table.source}: the compounds house nobody ({key}: every {'/'.join(present)} is 0)")
    lon, lat = lonlat(table)
    if crs != "wgs84":
        outside = outside_china(lon, lat)
        if outside.any():
            first = int(np.flatnonzero(outside)[0])
            raise ScenarioError(
                f"{table.where(first)}: lon = {lon[first]:g}, lat = {lat[first]:g} lies outside China, where {crs} "
                f"does not apply ({int(outside.sum())} such row(s)); a table of another country is wgs84 (homes_crs = \"wgs84\")"
            )
    lon, lat = to_wgs84(lon, lat, crs)
    polygons = None
    if table.geometry is not None:
        def convert(coords: np.ndarray) -> np.ndarray:
            x, y = to_wgs84(coords[:, 0], coords[:, 1], crs)
            return np.column_stack([x, y])

        areal = np.isin(shapely.get_type_id(table.geometry), (3, 6))  # Polygon, MultiPolygon
        polygons = np.array([shapely.transform(g, convert) if a else None for g, a in zip(table.geometry, areal)], dtype=object)
    return HomesTable(lonlat=np.column_stack([lon, lat]), polygons=polygons, residents=residents,
                      rows=len(table), source=table.source, both_given=both_given)


def apply_homes_table(city: OsmCity, homes: HomesTable, *, snap_m: float) -> dict[str, float]:
    """Set the city's residential weights from a homes table; returns what was used.

    Returns:
        ``compounds`` (rows), ``placed`` (compounds on the network), ``too_far`` (dropped),
        ``table_residents`` (people the placed compounds house); also kept in
        ``city.inputs["homes_table"]``.

    Raises:
        ScenarioError: No compound lies within ``snap_m`` of the network.
    """
    import shapely

    n = len(city.node_xy)
    xy = city.project(homes.lonlat)
    dist, nearest = cKDTree(city.node_xy).query(xy)
    nearest = np.asarray(nearest, dtype=np.int64)
    weight = np.zeros(n)
    placed = np.zeros(len(xy), dtype=bool)
    for i in range(len(xy)):
        inside = np.zeros(0, dtype=np.int64)
        polygon = homes.polygons[i] if homes.polygons is not None else None
        if polygon is not None:
            shape = shapely.transform(polygon, city.project)
            inside = np.flatnonzero(shapely.contains_xy(shape, city.node_xy[:, 0], city.node_xy[:, 1]))
        if len(inside):
            weight[inside] += homes.residents[i] / len(inside)
        elif dist[i] <= snap_m:
            weight[nearest[i]] += homes.residents[i]
        else:
            continue
        placed[i] = True
    if not placed.any():
        lo, hi = homes.lonlat.min(axis=0), homes.lonlat.max(axis=0)
        raise ScenarioError(
            f"{homes.source} (city.homes_table): none of its {len(xy)} compounds lies within city.poi_snap_m = "
            f"{snap_m:g} m of the walking network of {city.source} (the table spans lon {lo[0]:.4f}..{hi[0]:.4f}, "
            f"lat {lo[1]:.4f}..{hi[1]:.4f} in WGS-84): another district, or a wrong city.homes_crs?"
        )
    if weight.sum() <= 0:
        raise ScenarioError(f"{homes.source} (city.homes_table): the compounds on the network house nobody")
    too_far = int((~placed).sum())
    if too_far:
        warnings.warn(
            f"{homes.source}: {too_far} of {len(xy)} compounds lie more than {snap_m:g} m from the walking "
            "network (outside the district's area) and were dropped",
            stacklevel=3,
        )
    city.residential_weight = weight
    used = {"compounds": float(homes.rows), "placed": float(placed.sum()), "too_far": float(too_far),
            "table_residents": float(homes.residents[placed].sum())}
    city.inputs["homes_table"] = used
    return used
