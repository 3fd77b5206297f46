"""Chinese map coordinate systems: GCJ-02 (Amap, Tencent) and BD-09 (Baidu) to and from WGS-84.

Chinese web maps publish coordinates in obfuscated systems: **GCJ-02** ("Mars coordinates", the
national surveying bureau's system used by Amap/Gaode, Tencent and Google Maps in mainland China)
is WGS-84 shifted by a smooth, position-dependent offset of a few hundred metres; **BD-09**
(Baidu) is GCJ-02 shifted again. OpenStreetMap, and so every street network lifecircle reads, is in
WGS-84, so a POI table must be converted before its points are put on the network.

The transforms are not written here: they come from ``coordTransform`` (PyPI ``coordtransform``,
MIT licence, release 0.2.1 of March 2026, wheels with a compiled batch kernel for NumPy arrays).
Why that library, among the candidates installable here (docs/osm.md has the comparison):
``prcoords-typed`` is the most recently released but needs Python >= 3.14; ``prcoords`` (2019) and
``eviltransform`` (2018) have had no release for years; ``transbigdata`` pulls in a whole
geospatial stack; ``coordtransform`` is maintained, small and vectorised.

The directions back to WGS-84 have no closed form. The library's one-step inverses are off by up
to ~2 m; :func:`to_wgs84` refines them with the fixed-point iteration every careful implementation uses
(Cai Jun's method, as in PRCoords and gcoord): ``w <- w - (gcj(w) - g)``, which calls only the
library's forward transform and converges to < 1e-9 degrees (< 0.1 mm) in three or four steps.

Outside mainland China's bounding box the library leaves points unchanged (GCJ-02 does not apply
there); :func:`outside_china` reports such points so that a caller can refuse them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CrsName = Literal["wgs84", "gcj02", "bd09"]
"""A coordinate system a table may be in."""

CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
"""Allowed names: ``wgs84`` (GPS, OpenStreetMap), ``gcj02`` (Amap/Gaode, Tencent), ``bd09`` (Baidu)."""

INVERSE_TOLERANCE_DEG = 1e-10
"""Stop refining the inverse when the forward transform reproduces the input to this, degrees
(about 0.01 mm on the ground)."""

INVERSE_MAX_STEPS = 20
"""Upper bound on refinement steps (three or four suffice; the bound only guards against a loop)."""


def _lib():  # noqa: ANN202 - a module
    import coordTransform

    return coordTransform


def _arrays(lon: np.ndarray | list[float], lat: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    lon = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
    lat = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in length ({len(lon)} and {len(lat)})")
    return lon, lat


def _call(func, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    if len(lon) == 0:
        return lon.copy(), lat.copy()
    out_lon, out_lat = func(lon, lat)
    return np.asarray(out_lon, dtype=np.float64), np.asarray(out_lat, dtype=np.float64)


def from_wgs84(lon: np.ndarray | list[float], lat: np.ndarray | list[float], crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 longitudes and latitudes (degrees) expressed in ``crs``.

    Args:
        lon: Longitudes, degrees east, WGS-84.
        lat: Latitudes, degrees north, WGS-84.
        crs: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``.

    Returns:
        (lon, lat) in ``crs``, degrees; points outside China are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    _check_name(crs)
    if crs == "wgs84":
        return lon.copy(), lat.copy()
    lib = _lib()
    return _call(lib.wgs84_to_gcj02 if crs == "gcj02" else lib.wgs84_to_bd09, lon, lat)


def to_wgs84(lon: np.ndarray | list[float], lat: np.ndarray | list[float], crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (degrees) in ``crs`` converted to WGS-84.

    The library's one-step inverse (GCJ-02 -> WGS-84, or BD-09 -> GCJ-02 -> WGS-84) is refined
    against its forward transform (see the module docstring), so the result reproduces the input
    through :func:`from_wgs84` to :data:`INVERSE_TOLERANCE_DEG`.

    Args:
        lon: Longitudes, degrees east, in ``crs``.
        lat: Latitudes, degrees north, in ``crs``.
        crs: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``.

    Returns:
        (lon, lat) in WGS-84, degrees; points outside China are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    _check_name(crs)
    if crs == "wgs84":
        return lon.copy(), lat.copy()
    lib = _lib()
    inverse, forward = ((lib.gcj02_to_wgs84, lib.wgs84_to_gcj02) if crs == "gcj02"
                        else (lib.bd09_to_wgs84, lib.wgs84_to_bd09))
    wgs_lon, wgs_lat = _call(inverse, lon, lat)
    for _ in range(INVERSE_MAX_STEPS):
        fwd_lon, fwd_lat = _call(forward, wgs_lon, wgs_lat)
        d_lon, d_lat = fwd_lon - lon, fwd_lat - lat
        wgs_lon, wgs_lat = wgs_lon - d_lon, wgs_lat - d_lat
        if len(lon) == 0 or max(np.abs(d_lon).max(), np.abs(d_lat).max()) < INVERSE_TOLERANCE_DEG:
            break
    return wgs_lon, wgs_lat


def outside_china(lon: np.ndarray | list[float], lat: np.ndarray | list[float]) -> np.ndarray:
    """True where GCJ-02 does not apply: the library leaves such WGS-84 points unchanged."""
    lon, lat = _arrays(lon, lat)
    gcj_lon, gcj_lat = from_wgs84(lon, lat, "gcj02")
    return (gcj_lon == lon) & (gcj_lat == lat)


def _check_name(crs: str) -> None:
    if crs not in CRS_NAMES:
        raise ValueError(f"unknown coordinate system {crs!r}; allowed: {', '.join(CRS_NAMES)}")
