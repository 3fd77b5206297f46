"""Reading a city's tabular inputs (POI tables, residential-compound tables): CSV, XLSX or GeoJSON.

Every cell is read as text (so that Amap type codes keep their leading zero) and column names are
matched without regard to case or surrounding spaces. Coordinates come from ``lon``/``lat``
columns (also ``lng``/``longitude``/``经度`` and ``latitude``/``纬度``), from a ``location`` column
holding ``"lon,lat"`` (as the Amap API returns it), or from GeoJSON geometries. CSV files are read
as UTF-8 (with or without a byte-order mark) or, failing that, GB18030 (a superset of GBK, the
encoding Excel uses for CSV on Chinese systems).

Every problem is a :class:`~sim.scenario.ScenarioError` naming the file, the scenario key, the
column, the row and value, and what is allowed, so the CLI can print it and exit with status 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario import ScenarioError

SUFFIXES = (".csv", ".xlsx", ".geojson", ".json")
"""File types a table may have."""

LON_NAMES = ("lon", "lng", "longitude", "经度")
"""Column names read as longitude, degrees east."""

LAT_NAMES = ("lat", "latitude", "纬度")
"""Column names read as latitude, degrees north."""

LOCATION_NAMES = ("location",)
"""Column names read as ``"lon,lat"`` in one cell (the Amap API's ``location`` field)."""


@dataclass
class Table:
    """A table's rows as text, and its geometries when it is GeoJSON.

    Attributes:
        frame: One row per record; column names lower-case and stripped; every cell a string
            ("" where empty).
        geometry: (rows,) shapely geometries in the table's own coordinate system (GeoJSON), or None.
        source: The file, as named in messages.
        key: The scenario key that names the file (``city.poi_table`` ...).
    """

    frame: pd.DataFrame
    geometry: np.ndarray | None
    source: str
    key: str

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, *names: str) -> str | None:
        """The first of ``names`` the table has, or None."""
        for name in names:
            if name in self.frame.columns:
                return name
        return None

    def where(self, row: int, column: str | None = None) -> str:
        """A row (and column) as a user finds it: the data row number, 1 = the first record."""
        at = f"row {row + 1}"
        return f"{self.source} ({self.key}): {at}" + (f", column '{column}'" if column else "")


def read_table(path: Path, *, key: str) -> Table:
    """Read a CSV, XLSX or GeoJSON table.

    Args:
        path: The file.
        key: The scenario key naming it, for messages.

    Raises:
        ScenarioError: Missing file, unsupported type, unreadable content, or no rows.
    """
    source = str(path)
    if not path.is_file():
        raise ScenarioError(f"{source}: no such file ({key})")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"{source}: unsupported table type {path.suffix!r} ({key}); allowed: {', '.join(SUFFIXES)}")
    geometry = None
    try:
        if suffix == ".csv":
            frame = read_csv_text(path)
        elif suffix == ".xlsx":
            frame = pd.read_excel(path, dtype=str, engine="openpyxl")
        else:
            frame, geometry = _read_geojson(path, source, key)
    except ScenarioError:
        raise
    except Exception as err:  # pandas/openpyxl raise many kinds for a damaged file
        raise ScenarioError(f"{source}: not a readable {suffix[1:].upper()} table ({key}): {type(err).__name__}: {err}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.fillna("").astype(str).apply(lambda col: col.str.strip())
    if len(frame) == 0:
        raise ScenarioError(f"{source}: the table has no rows ({key})")
    return Table(frame=frame.reset_index(drop=True), geometry=geometry, source=source, key=key)


def read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV file with every cell as text ("" where empty): UTF-8 (with or without a byte-order
    mark) or, failing that, GB18030 (Excel's CSV encoding on Chinese systems)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")


def _read_geojson(path: Path, source: str, key: str) -> tuple[pd.DataFrame, np.ndarray]:
    import shapely.geometry

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{source}: not a readable GeoJSON file ({key}): {err}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ScenarioError(f"{source}: not a GeoJSON FeatureCollection ({key}); expected a top-level 'features' list")
    rows: list[dict[str, Any]] = []
    shapes = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        try:
            shape = shapely.geometry.shape(geometry)
        except Exception:  # shapely raises several kinds for a bad geometry
            raise ScenarioError(
                f"{source} ({key}): feature {i + 1} has no valid geometry ({str(geometry)[:80]}); "
                "allowed: Point, Polygon, MultiPolygon"
            ) from None
        if shape.is_empty:
            raise ScenarioError(f"{source} ({key}): feature {i + 1} has an empty geometry")
        rows.append(dict(feature.get("properties") or {}))
        shapes.append(shape)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame()
    return frame, np.array(shapes, dtype=object)


def lonlat(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """Each row's longitude and latitude in the table's own coordinate system, degrees.

    From ``lon``/``lat`` columns if the table has them, else a ``location`` column (``"lon,lat"``),
    else the GeoJSON geometry (a polygon's centroid).

    Raises:
        ScenarioError: No coordinate columns, a cell that is not a number, or a value out of range
            (with a hint when longitude and latitude look swapped).
    """
    lon_col, lat_col = table.column(*LON_NAMES), table.column(*LAT_NAMES)
    loc_col = table.column(*LOCATION_NAMES)
    if lon_col and lat_col:
        lon = _numbers(table, lon_col)
        lat = _numbers(table, lat_col)
    elif loc_col:
        parts = table.frame[loc_col].str.replace("，", ",").str.split(",", n=1, expand=True)
        if parts.shape[1] < 2:
            raise ScenarioError(f"{table.where(0, loc_col)}: {table.frame[loc_col].iloc[0]!r} is not 'lon,lat'")
        lon = _numbers(table, loc_col, parts[0].fillna(""))
        lat = _numbers(table, loc_col, parts[1].fillna(""))
    elif table.geometry is not None:
        import shapely

        centre = shapely.get_coordinates(shapely.centroid(table.geometry))
        lon, lat = centre[:, 0].copy(), centre[:, 1].copy()
    else:
        raise ScenarioError(
            f"{table.source}: no coordinate columns ({table.key}); found columns: "
            f"{', '.join(table.frame.columns) or '(none)'}; allowed: lon and lat "
            f"(or {'/'.join(LON_NAMES[1:])} and {'/'.join(LAT_NAMES[1:])}), or location = 'lon,lat', "
            "or GeoJSON geometries"
        )
    bad_lat = np.flatnonzero(np.abs(lat) > 90)
    bad_lon = np.flatnonzero(np.abs(lon) > 180)
    if len(bad_lat) or len(bad_lon):
        row = int(bad_lat[0]) if len(bad_lat) else int(bad_lon[0])
        hint = " (longitude and latitude swapped?)" if abs(lat[row]) > 90 and abs(lon[row]) <= 90 else ""
        raise ScenarioError(
            f"{table.where(row)}: lon = {lon[row]:g}, lat = {lat[row]:g} is not a place on Earth{hint}; "
            "allowed: lon -180..180, lat -90..90 degrees"
        )
    return lon, lat


def _numbers(table: Table, column: str, values: pd.Series | None = None) -> np.ndarray:
    text = table.frame[column] if values is None else values
    numbers = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        row = int(bad[0])
        raise ScenarioError(
            f"{table.where(row, column)}: {table.frame[column].iloc[row]!r} is not a number "
            f"({len(bad)} such row(s)); allowed: decimal degrees"
        )
    return numbers
