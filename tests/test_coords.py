"""GCJ-02 / BD-09 <-> WGS-84: published point pairs from independent implementations, round trips.

Known answers (each from another implementation's own test suite, so a wrong library, a swapped
lon/lat or a missing inverse refinement fails them):

* googollee/eviltransform, python/test.py: WGS-84 -> GCJ-02 of points in Shanghai, Shenzhen and
  Beijing (to 1e-6 degrees); its two BD-09 pairs are not used (its own code misses them by 10-40 m,
  so their provenance is unclear);
* hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts and BD09.spec.ts: (123 E, 45 N) converted between
  GCJ-02, BD-09 and WGS-84 (to 1e-5 degrees);
* wandergis/coordTransform README (and its ports): WGS-84 (116.404, 39.915) -> GCJ-02.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.city.coords import CRS_NAMES, from_wgs84, outside_china, to_wgs84

EVILTRANSFORM = [
    # wgs lat, wgs lon, gcj lat, gcj lon
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance, metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("wgs_lat, wgs_lon, gcj_lat, gcj_lon", EVILTRANSFORM, ids=["shanghai", "shenzhen", "beijing"])
def test_wgs84_to_gcj02_matches_published_pairs(wgs_lat, wgs_lon, gcj_lat, gcj_lon) -> None:
    lon, lat = from_wgs84([wgs_lon], [wgs_lat], "gcj02")
    assert lon[0] == pytest.approx(gcj_lon, abs=1e-6) and lat[0] == pytest.approx(gcj_lat, abs=1e-6)
    # The offset is real: several hundred metres, which is why tables must be converted.
    assert 300 < metres(wgs_lon, wgs_lat, gcj_lon, gcj_lat) < 800


@pytest.mark.parametrize("wgs_lat, wgs_lon, gcj_lat, gcj_lon", EVILTRANSFORM, ids=["shanghai", "shenzhen", "beijing"])
def test_gcj02_to_wgs84_recovers_published_points_within_a_centimetre(wgs_lat, wgs_lon, gcj_lat, gcj_lon) -> None:
    lon, lat = to_wgs84([gcj_lon], [gcj_lat], "gcj02")
    assert metres(lon[0], lat[0], wgs_lon, wgs_lat) < 0.01


def test_gcoord_known_answers_at_123e_45n() -> None:
    lon, lat = to_wgs84([123.0], [45.0], "gcj02")
    assert lon[0] == pytest.approx(122.99395597, abs=1e-5) and lat[0] == pytest.approx(44.99804071, abs=1e-5)
    lon, lat = to_wgs84([123.0], [45.0], "bd09")
    assert lon[0] == pytest.approx(122.98762210, abs=1e-5) and lat[0] == pytest.approx(44.99171540, abs=1e-5)
    # GCJ-02 -> BD-09 of the same point: convert WGS-84 (the GCJ point's preimage) to BD-09.
    wlon, wlat = to_wgs84([123.0], [45.0], "gcj02")
    lon, lat = from_wgs84(wlon, wlat, "bd09")
    assert lon[0] == pytest.approx(123.00636499, abs=1e-5) and lat[0] == pytest.approx(45.00636899, abs=1e-5)


def test_coordtransform_readme_point_in_beijing() -> None:
    lon, lat = from_wgs84([116.404], [39.915], "gcj02")
    assert lon[0] == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat[0] == pytest.approx(39.91640428150164, abs=1e-9)


def test_wgs84_is_the_identity_and_arrays_keep_their_order() -> None:
    lon = np.array([116.30, 116.35, 121.50])
    lat = np.array([39.99, 40.00, 31.20])
    out_lon, out_lat = to_wgs84(lon, lat, "wgs84")
    assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    for i in range(3):  # vectorised result equals the one-point result, point by point
        one_lon, one_lat = from_wgs84(lon[i:i + 1], lat[i:i + 1], "gcj02")
        assert g_lon[i] == one_lon[0] and g_lat[i] == one_lat[0]


def test_points_outside_china_are_flagged_and_unknown_names_refused() -> None:
    assert outside_china([116.4, 2.35, -74.0], [39.9, 48.85, 40.7]).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="allowed: wgs84, gcj02, bd09"):
        to_wgs84([116.4], [39.9], "gcj")
    assert CRS_NAMES == ("wgs84", "gcj02", "bd09")


china_lon = st.floats(min_value=75.0, max_value=134.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat, crs=st.sampled_from(["gcj02", "bd09"]))
def test_round_trip_from_wgs84_and_back_is_within_a_millimetre(lon, lat, crs) -> None:
    c_lon, c_lat = from_wgs84([lon], [lat], crs)
    back_lon, back_lat = to_wgs84(c_lon, c_lat, crs)
    assert metres(back_lon[0], back_lat[0], lon, lat) < 1e-3


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_round_trip_from_gcj02_and_back_is_within_a_millimetre(lon, lat) -> None:
    w_lon, w_lat = to_wgs84([lon], [lat], "gcj02")
    again_lon, again_lat = from_wgs84(w_lon, w_lat, "gcj02")
    assert metres(again_lon[0], again_lat[0], lon, lat) < 1e-3
