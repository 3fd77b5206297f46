"""Outlets and homes of a run as GIS-ready tables: ``outlets.parquet`` and ``homes.parquet``.

Planners load these into QGIS, ArcGIS or GeoPandas (``gpd.points_from_xy(df.lon, df.lat,
crs="EPSG:4326")``). Coordinates are WGS-84 longitudes and latitudes of the network node each
outlet or home sits on; a synthetic grid city has no place on Earth, so its ``lon``/``lat`` are
empty (null).

``outlets.parquet``, one row per outlet ever open in the run:
``id`` (merchant id), ``category``, ``lon``, ``lat``, ``node``, ``source`` (``osm``, ``table``,
``synthesised`` or ``model``: :mod:`sim.city.outlet_sources`), ``opened_day`` (0 = the first measured
day; negative: opened in the warm-up), ``closed_day`` (null while open).

``homes.parquet``, one row per node where residents live:
``node``, ``lon``, ``lat``, ``residents``, and ``walk_min_<category>`` for every service category:
minutes to the nearest outlet of the category open at the end of the run, along the streets at the
planning walk speed (``population.walk_speed_m_per_min``); null when none is reachable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from sim.city.outlet_sources import SOURCE_NAMES

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


@runtime_checkable
class GeographicCity(Protocol):
    """A city whose nodes have WGS-84 positions (real districts).

    Attributes:
        node_lonlat: (n, 2) longitude and latitude of each node, degrees.
    """

    node_lonlat: np.ndarray


def node_lonlat(model: LifeCircleModel) -> np.ndarray:
    """(n, 2) WGS-84 lon/lat of every node; nan for a city with no place on Earth (the grid)."""
    n = model.city.graph.shape[0]
    if isinstance(model.city, GeographicCity) and len(model.city.node_lonlat) == n:
        return np.asarray(model.city.node_lonlat, dtype=np.float64)
    return np.full((n, 2), np.nan)


def outlets_frame(model: LifeCircleModel) -> pd.DataFrame:
    """Every outlet ever open in the run (see the module docstring for the columns)."""
    mer, names = model.merchants, np.array(model.catalogue.names, dtype=object)
    lonlat = node_lonlat(model)
    node = mer.node.astype(np.int64)
    closed = pd.array(mer.closed_day.astype(np.int64), dtype="Int32")
    closed[mer.open] = pd.NA
    return pd.DataFrame({
        "id": np.arange(mer.n, dtype=np.int64),
        "category": names[mer.category.astype(np.int64)],
        "lon": lonlat[node, 0],
        "lat": lonlat[node, 1],
        "node": node,
        "source": np.array(SOURCE_NAMES, dtype=object)[mer.source.astype(np.int64)],
        "opened_day": mer.opened_day.astype(np.int32),
        "closed_day": closed,
    })


def homes_frame(model: LifeCircleModel) -> pd.DataFrame:
    """Every node where residents live, with walk minutes to each category (module docstring)."""
    lonlat = node_lonlat(model)
    nodes = np.flatnonzero(model.residents_at_node > 0)
    speed = model.scenario.population.walk_speed_m_per_min
    frame = pd.DataFrame({
        "node": nodes.astype(np.int64),
        "lon": lonlat[nodes, 0],
        "lat": lonlat[nodes, 1],
        "residents": model.residents_at_node[nodes].astype(np.int64),
    })
    minutes = model.nearest_m[nodes] / speed
    minutes[~np.isfinite(minutes)] = np.nan
    for c, name in enumerate(model.catalogue.names):
        frame[f"walk_min_{name}"] = minutes[:, c]
    return frame


def write_gis_outputs(model: LifeCircleModel, out: Path) -> dict[str, Path]:
    """Write ``out/outlets.parquet`` and ``out/homes.parquet``; returns their paths."""
    paths = {"outlets": out / "outlets.parquet", "homes": out / "homes.parquet"}
    for key, frame in (("outlets", outlets_frame(model)), ("homes", homes_frame(model))):
        tmp = paths[key].with_suffix(".parquet.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, paths[key])
    return paths
