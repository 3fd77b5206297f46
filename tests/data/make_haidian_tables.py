"""Make the SYNTHETIC POI and residential-compound tables of the Haidian test district.

Run from the repository root: ``.venv/bin/python tests/data/make_haidian_tables.py``. It writes
``tests/data/haidian_pois_gcj02.csv`` and ``tests/data/haidian_compounds_gcj02.geojson`` (the test
tables) and ``scenarios/data/haidian_*_synthetic.*`` (the demo tables of
``scenarios/beijing_tables.toml``).

Nothing here is real shop or housing data. The points are invented, placed along streets of the
OSM walking network of ``beijing_haidian.osm.pbf`` (set back a few metres from the street, as
shopfronts are) or, for the rows that test merging, on OSM's own shops; their true WGS-84 positions
are kept in ``true_lon``/``true_lat`` columns and converted to GCJ-02 with :mod:`sim.city.coords`, as an
Amap export would give them. The test table's ``expect`` column says what must happen to each row:
``outlet``, ``duplicate`` (merged into an earlier point), ``far`` (outside the network: dropped),
``unmapped`` (a code or name the code table does not know), ``osm_duplicate`` (an OSM shop's own
place: merged into it when ``poi_mode = "add"``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sim.services.catalogue import load_catalogue
from sim.city.coords import from_wgs84
from sim.city.osm import OsmCity

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = 17


def _city() -> OsmCity:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return OsmCity.from_file(HERE / "beijing_haidian.osm.pbf", catalogue=load_catalogue(), rng=np.random.default_rng(0))


def _street_points(city: OsmCity, count: int, rng: np.random.Generator, setback_m: float = 8.0) -> np.ndarray:
    """Points beside the middle of random edges longer than 40 m, ``setback_m`` to one side."""
    upper = sp.triu(city.graph, k=1).tocoo()
    long = np.flatnonzero(upper.data > 40)
    pick = rng.choice(long, size=count, replace=False)
    a, b = city.node_xy[upper.row[pick]], city.node_xy[upper.col[pick]]
    along = rng.uniform(0.3, 0.7, size=(count, 1))
    direction = (b - a) / np.linalg.norm(b - a, axis=1, keepdims=True)
    normal = np.column_stack([-direction[:, 1], direction[:, 0]]) * rng.choice([-1, 1], size=(count, 1))
    return a + along * (b - a) + normal * setback_m


def _rows_to_frame(city: OsmCity, xy: np.ndarray, rows: list[dict]) -> pd.DataFrame:
    lonlat = city.unproject(xy)
    frame = pd.DataFrame(rows)
    gcj_lon, gcj_lat = from_wgs84(lonlat[:, 0], lonlat[:, 1], "gcj02")
    frame["lon"], frame["lat"] = np.round(gcj_lon, 7), np.round(gcj_lat, 7)
    frame["true_lon"], frame["true_lat"] = np.round(lonlat[:, 0], 7), np.round(lonlat[:, 1], 7)
    return frame


def test_pois(city: OsmCity, rng: np.random.Generator) -> pd.DataFrame:
    """The test table: every path of the POI reader, one or a few rows each."""
    kinds = [
        # (name, category, typecode, type, expected category, expect)
        ("合成便利店 A", "", "060200", "", "convenience_store", "outlet"),          # exact Amap code
        ("合成便利店 B", "", "060201", "", "convenience_store", "outlet"),          # Amap prefix 0602*
        ("合成便利店 C", "", "60200", "", "convenience_store", "outlet"),           # leading zero lost
        ("合成超市", "", "060400", "", "supermarket", "outlet"),
        ("合成菜市场", "", "060705", "", "fresh_market", "outlet"),
        ("合成早餐", "", "050300", "", "breakfast", "outlet"),
        ("合成餐厅", "", "050100|060200", "", "restaurant", "outlet"),           # several codes: first
        ("合成药房", "", "090601", "", "pharmacy", "outlet"),
        ("合成洗衣店", "", "071500", "", "laundry", "outlet"),
        ("合成快递点", "", "070500", "", "parcel_point", "outlet"),
        ("合成理发店", "", "", "丽人;美发", "hair_beauty", "outlet"),              # Baidu first;*
        ("合成图文快印", "", "", "生活服务；图文快印店", "print_photo", "outlet"),    # full-width ；
        ("合成超市 B", "", "", "购物;超市", "supermarket", "outlet"),
        ("合成家政", "housekeeping", "", "", "housekeeping", "outlet"),          # category name
        ("合成养老驿站", "Elder_Care", "", "", "elder_care", "outlet"),          # case-insensitive
        ("合成培训", "training", "060300", "", "training", "outlet"),          # category beats code
        ("合成手机店", "", "060300", "", "", "unmapped"),                       # Amap code not mapped
        ("合成旧货市场", "", "060702", "", "", "unmapped"),                     # 0607 is not all food
        ("合成银行", "", "", "金融;银行", "", "unmapped"),                        # Baidu name not mapped
        ("合成银行 B", "", "160100", "", "", "unmapped"),                        # Amap finance code
    ]
    count = len(kinds)
    xy = _street_points(city, count, rng)
    rows = [dict(name=n, category=c, typecode=t, type=y, expect_category=e, expect=x) for n, c, t, y, e, x in kinds]
    # A duplicate 3 m from the first convenience store, and two points far outside the network.
    xy = np.vstack([xy, xy[0] + [3.0, 0.0], [[4000.0, 4000.0], [-5000.0, 200.0]]])
    rows += [dict(name="合成便利店 A(重复)", category="", typecode="060200", type="", expect_category="convenience_store", expect="duplicate"),
             dict(name="远处便利店", category="", typecode="060200", type="", expect_category="convenience_store", expect="far"),
             dict(name="远处药房", category="", typecode="090601", type="", expect_category="pharmacy", expect="far")]
    # An OSM convenience store's own place (a duplicate only when the table is added to OSM's shops).
    osm_store = city.poi_xy[city.poi_category == load_catalogue().index("convenience_store")][0]
    xy = np.vstack([xy, osm_store + [2.0, 0.0]])
    rows.append(dict(name="合成便利店(与OSM重复)", category="", typecode="060200", type="", expect_category="convenience_store", expect="osm_duplicate"))
    return _rows_to_frame(city, xy, rows)


def compounds(city: OsmCity, rng: np.random.Generator, path: Path, far: bool) -> None:
    """Compounds as GeoJSON: two polygons around groups of nodes, two points, and (for the test
    table) one point far outside the network."""
    features = []
    centre = city.node_xy.mean(axis=0)
    boxes = [(centre + [-300, -200], 180.0, "合成小区 甲", {"households": 800}),
             (centre + [150, 100], 120.0, "合成小区 乙", {"population": 1500})]
    for corner, side, name, size in boxes:
        ring = np.array([corner, corner + [side, 0], corner + [side, side], corner + [0, side], corner])
        lonlat = city.unproject(ring)
        g_lon, g_lat = from_wgs84(lonlat[:, 0], lonlat[:, 1], "gcj02")
        features.append({"type": "Feature", "properties": {"name": name, **size},
                         "geometry": {"type": "Polygon", "coordinates": [np.column_stack([g_lon, g_lat]).round(7).tolist()]}})
    points = [(_street_points(city, 1, rng)[0], "合成小区 丙", {"households": 400}),
              (_street_points(city, 1, rng)[0], "合成小区 丁", {"households": 600})]
    if far:
        points.append((centre + [6000.0, 0.0], "远处小区", {"households": 500}))
    for xy, name, size in points:
        lonlat = city.unproject(xy)
        g_lon, g_lat = from_wgs84(lonlat[:, 0], lonlat[:, 1], "gcj02")
        features.append({"type": "Feature", "properties": {"name": name, **size},
                         "geometry": {"type": "Point", "coordinates": [round(float(g_lon[0]), 7), round(float(g_lat[0]), 7)]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def demo_pois(city: OsmCity, rng: np.random.Generator) -> pd.DataFrame:
    """The demo table: invented shops for the categories OSM does not map in this district, along
    streets, with Amap codes (or a category name where Amap has no code)."""
    wanted = [("060705", "", 3), ("071500", "", 3), ("071100", "", 4), ("071300", "", 4), ("", "housekeeping", 3), ("060400", "", 2),
              ("071200", "", 3), ("070500", "", 3), ("", "elder_care", 2), ("141400", "", 3), ("090601", "", 3),
              ("050300", "", 6), ("060200", "", 6)]
    rows, count = [], sum(n for _, _, n in wanted)
    xy = _street_points(city, count, rng)
    for code, category, n in wanted:
        for i in range(n):
            rows.append({"name": f"synthetic {category or code} {i + 1}", "typecode": code, "category": category})
    return _rows_to_frame(city, xy, rows).drop(columns=["true_lon", "true_lat"])


def main() -> None:
    city = _city()
    rng = np.random.default_rng(SEED)
    test_pois(city, rng).to_csv(HERE / "haidian_pois_gcj02.csv", index=False)
    compounds(city, rng, HERE / "haidian_compounds_gcj02.geojson", far=True)
    demo = ROOT / "scenarios" / "data"
    demo.mkdir(exist_ok=True)
    demo_pois(city, rng).to_csv(demo / "haidian_pois_synthetic.csv", index=False)
    compounds(city, rng, demo / "haidian_compounds_synthetic.geojson", far=False)


if __name__ == "__main__":
    main()
