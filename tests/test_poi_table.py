"""POI tables on a real district: codes, conversion, snapping, duplicates, far points, bad input.

Test data: tests/data/haidian_pois_gcj02.csv, a SYNTHETIC table (see tests/data/README.md) whose
``expect`` column says what must happen to each row; the Haidian OSM extract (ODbL,
© OpenStreetMap contributors) for the network and, in the "done when" test, for real shop places.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyrosm
import pytest
from scipy.sparse.csgraph import dijkstra

from sim.services.catalogue import Catalogue, load_catalogue
from sim.city.coords import from_wgs84
from sim.city.osm import OsmCity
from sim.city.outlet_sources import OSM, TABLE
from sim.city.poi_codes import load_code_table
from sim.city.poi_table import add_poi_table, first_of_duplicates, read_poi_table
from sim.scenario import ScenarioError, load_scenario
from sim.city.snapping import snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
BEIJING = DATA / "beijing_haidian.osm.pbf"
TABLE_CSV = DATA / "haidian_pois_gcj02.csv"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def codes(catalogue):
    return load_code_table("default", catalogue)


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(TABLE_CSV, dtype=str, keep_default_na=False)


def _city(catalogue: Catalogue) -> OsmCity:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return OsmCity.from_file(BEIJING, catalogue=catalogue, rng=np.random.default_rng(0))


def _metres(city: OsmCity, lonlat_a: np.ndarray, lonlat_b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(city.project(lonlat_a) - city.project(lonlat_b), axis=1)


# --------------------------------------------------------------------------- the code table

def test_amap_codes_exact_prefix_lost_zero_and_joined(codes, catalogue) -> None:
    name = lambda cat: catalogue.names[cat] if cat >= 0 else None  # noqa: E731
    assert name(codes.amap("060200")) == "convenience_store"
    assert name(codes.amap("060201")) == "convenience_store"      # 0602* prefix
    assert name(codes.amap("60200")) == "convenience_store"       # spreadsheet dropped the zero
    assert name(codes.amap("60200.0")) == "convenience_store"
    assert name(codes.amap("050100|060200")) == "restaurant"      # first code that maps
    assert name(codes.amap("060300|060200")) == "convenience_store"
    assert name(codes.amap("060703")) == "fresh_market"
    assert codes.amap("060702") == -1                             # flea market: not food
    assert codes.amap("060300") == -1 and codes.amap("") == -1


def test_baidu_names_exact_first_level_and_full_width(codes, catalogue) -> None:
    assert catalogue.names[codes.baidu("购物;便利店")] == "convenience_store"
    assert catalogue.names[codes.baidu("购物；超市")] == "supermarket"
    assert catalogue.names[codes.baidu(" 丽人;美甲 ")] == "hair_beauty"   # 丽人;*
    assert catalogue.names[codes.baidu("医疗;药店;连锁")] == "pharmacy"   # third level ignored
    assert catalogue.names[codes.baidu("丽人")] == "hair_beauty"      # first level alone: 丽人;*
    assert codes.baidu("金融;银行") == -1 and codes.baidu("购物;家电数码") == -1


def test_every_category_of_the_shipped_table_exists_and_most_have_an_amap_code(codes, catalogue) -> None:
    mapped = set(codes.amap_exact.values()) | {cat for _, cat in codes.amap_prefix}
    no_amap = {catalogue.names[c] for c in range(catalogue.n)} - {catalogue.names[c] for c in mapped}
    assert no_amap == {"housekeeping", "elder_care"}  # Amap's table has no class for them


@pytest.mark.parametrize("entry, message", [
    ('[categories.groceries]\namap = ["060200"]\n', "categories.groceries is not a service category"),
    ('[categories.pharmacy]\namap = ["0906"]\n', "six digits"),
    ('[categories.pharmacy]\nbaidu = ["药店"]\n', "一级;二级"),
    ('[categories.pharmacy]\nosm = ["amenity=pharmacy"]\n', "unknown key"),
    ('[categories.pharmacy]\namap = ["090601"]\n[categories.repair]\namap = ["090601"]\n', "already mapped to pharmacy"),
])
def test_bad_code_tables_name_file_key_and_allowed(tmp_path, catalogue, entry, message) -> None:
    path = tmp_path / "my_codes.toml"
    path.write_text(entry, encoding="utf-8")
    with pytest.raises(ScenarioError, match="my_codes.toml") as err:
        load_code_table(str(path), catalogue)
    assert message in str(err.value)


# --------------------------------------------------------------------------- reading a table

def test_rows_map_as_expected_and_convert_to_their_true_place(catalogue, codes, expected) -> None:
    table = read_poi_table(TABLE_CSV, crs="gcj02", codes=codes, catalogue=catalogue)
    assert table.rows == len(expected)
    mapped = expected[expected["expect"] != "unmapped"]
    assert table.row.tolist() == mapped.index.tolist()
    assert [catalogue.names[c] for c in table.category] == mapped["expect_category"].tolist()
    assert table.unmapped == {"typecode=060300": 1, "typecode=060702": 1, "type=金融;银行": 1, "typecode=160100": 1}
    truth = mapped[["true_lon", "true_lat"]].to_numpy(float)
    assert np.abs(table.lonlat - truth).max() < 2e-7  # the file rounds to 1e-7 degrees (~1 cm)
    # Read as WGS-84 the same points would be hundreds of metres off.
    raw = read_poi_table(TABLE_CSV, crs="wgs84", codes=codes, catalogue=catalogue)
    offset = np.linalg.norm((raw.lonlat - truth) * [85_000, 111_000], axis=1)
    assert offset.min() > 300


def test_xlsx_and_geojson_read_the_same_as_csv(tmp_path, catalogue, codes, expected) -> None:
    import json

    frame = pd.read_csv(TABLE_CSV, dtype=str, keep_default_na=False)
    frame.to_excel(tmp_path / "pois.xlsx", index=False)
    features = [{"type": "Feature", "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")},
                 "geometry": {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}}
                for row in frame.to_dict("records")]
    (tmp_path / "pois.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    base = read_poi_table(TABLE_CSV, crs="gcj02", codes=codes, catalogue=catalogue)
    for name in ("pois.xlsx", "pois.geojson"):
        other = read_poi_table(tmp_path / name, crs="gcj02", codes=codes, catalogue=catalogue)
        assert np.array_equal(other.category, base.category) and other.unmapped == base.unmapped
        np.testing.assert_allclose(other.lonlat, base.lonlat, atol=1e-12)


def test_gbk_csv_with_location_column_and_chinese_headers(tmp_path, catalogue, codes) -> None:
    text = "名称,typecode,location\n便利店,060200,\"116.3553978,39.9992275\"\n"
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.replace("名称", "name").encode("gb18030"))
    table = read_poi_table(path, crs="gcj02", codes=codes, catalogue=catalogue)
    assert table.category.tolist() == [catalogue.index("convenience_store")]
    assert table.name.tolist() == ["便利店"]
    path.write_text("name,typecode,经度,纬度\n便利店,060200,116.3553978,39.9992275\n", encoding="utf-8")
    assert len(read_poi_table(path, crs="gcj02", codes=codes, catalogue=catalogue).category) == 1


# --------------------------------------------------------------------------- on the network

@pytest.fixture(scope="module")
def replaced(catalogue, codes):
    city = _city(catalogue)
    table = read_poi_table(TABLE_CSV, crs="gcj02", codes=codes, catalogue=catalogue)
    with pytest.warns(UserWarning) as record:
        placement = add_poi_table(city, table, mode="replace", snap_m=150.0, merge_m=10.0)
    return city, table, placement, [str(w.message) for w in record]


def test_replace_keeps_exactly_the_expected_rows(replaced, catalogue, expected) -> None:
    city, _, placement, _ = replaced
    outlets = expected[expected["expect"].isin(["outlet", "osm_duplicate"])]
    assert placement.row.tolist() == outlets.index.tolist()
    assert (city.poi_source == TABLE).all()  # OSM's shops replaced
    assert [catalogue.names[c] for c in city.poi_category] == outlets["expect_category"].tolist()
    assert placement.too_far == 2 and placement.merged == 1 and placement.unmapped == 4
    assert placement.outlets == len(outlets) and placement.osm_kept == 0


def test_warnings_count_unmapped_far_and_merged_rows(replaced) -> None:
    _, _, _, messages = replaced
    text = "\n".join(messages)
    assert "haidian_pois_gcj02.csv: 4 of 24 rows match no service category" in text
    assert "typecode=060300 (1)" in text
    assert "2 of 24 rows lie more than 150 m from the walking network" in text
    assert "1 rows duplicate a point of the same category" in text


def test_outlets_sit_on_the_street_beside_their_true_place(replaced, expected) -> None:
    city, _, placement, _ = replaced
    truth = expected.loc[placement.row, ["true_lon", "true_lat"]].to_numpy(float)
    on_street = _metres(city, city.node_lonlat[city.poi_node], truth)
    # The synthetic shops stand 8 m from a street (or nearer another one); snapping puts them on it.
    street_shops = (expected.loc[placement.row, "expect"] == "outlet").to_numpy()
    assert on_street[street_shops].max() < 8.5 and on_street.max() < 50
    assert np.allclose(placement.snap_m, on_street, atol=0.05)
    assert city.commercial[city.poi_node].all()


def test_add_keeps_osm_shops_and_merges_the_table_duplicate(catalogue, codes, expected) -> None:
    city = _city(catalogue)
    # OSM maps a few shops of a trade within 10 m of each other (KFC beside Subway, Starbucks beside a
    # bakery: points with names of their own): adding a table keeps every one, as the map alone does.
    osm_count = len(city.poi_node)
    assert 0 < osm_count - int(first_of_duplicates(city.poi_xy, city.poi_category, 10.0).sum()) < 10
    table = read_poi_table(TABLE_CSV, crs="gcj02", codes=codes, catalogue=catalogue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        placement = add_poi_table(city, table, mode="add", snap_m=150.0, merge_m=10.0)
    assert placement.osm_kept == osm_count  # OSM's POIs come first and all stay; no table point displaces one
    assert placement.merged == 2            # the 3 m duplicate and the one on an OSM shop's place
    assert "osm_duplicate" not in set(expected.loc[placement.row, "expect"])
    assert (city.poi_source[:osm_count] == OSM).all() and (city.poi_source[osm_count:] == TABLE).all()


def test_first_of_duplicates_keeps_the_first_per_category() -> None:
    xy = np.array([[0, 0], [5, 0], [0, 0], [30, 0], [34, 0], [42, 0]], dtype=float)  # 42: 8 m from a dropped point only
    cat = np.array([0, 0, 1, 0, 0, 0])
    assert first_of_duplicates(xy, cat, 10.0).tolist() == [True, False, True, True, False, True]
    assert first_of_duplicates(xy, cat, 0.0).all()
    # The first points are fixed: never dropped, though they still displace later ones.
    assert first_of_duplicates(xy, cat, 10.0, fixed=2).tolist() == [True, True, True, True, False, True]


def test_splitting_an_edge_keeps_every_walk_distance_between_old_nodes(catalogue) -> None:
    city = _city(catalogue)
    before = dijkstra(city.graph, indices=np.arange(0, len(city.node_xy), 97))
    import shapely

    n = len(city.node_xy)
    lines = {(a, b): shapely.LineString(city.node_xy[[a, b]]) for a, b in np.argwhere(np.triu(city.graph.toarray()) > 0)}
    for (u, v), line in lines.items():  # a long edge with no other edge within 20 m of its middle
        mid = (city.node_xy[u] + city.node_xy[v]) / 2
        normal = np.array([-(city.node_xy[v] - city.node_xy[u])[1], (city.node_xy[v] - city.node_xy[u])[0]])
        point = mid + 6.0 * normal / np.linalg.norm(normal)
        if line.length > 60 and all(other.distance(shapely.Point(point)) > 20 for key, other in lines.items() if key != (u, v)):
            break
    length = city.graph[u, v]
    node, dist = snap_to_edges(city, np.array([point, mid + [0.01, 0.0], [9e5, 9e5]]), 150.0)
    assert node[0] == n and node[1] == n and node[2] == -1  # one split shared; the far point refused
    assert dist[0] == pytest.approx(6.0, abs=1e-6) and dist[2] > 150
    assert city.graph[u, n] + city.graph[n, v] == pytest.approx(length, rel=1e-9)
    assert city.graph[u, v] == 0  # the old edge is replaced by its two halves
    after = dijkstra(city.graph, indices=np.arange(0, n, 97))[:, :n]
    np.testing.assert_allclose(after, before, rtol=1e-9)
    assert len(city.node_lonlat) == n + 1 and len(city.residential_weight) == n + 1
    np.testing.assert_allclose(city.project(city.node_lonlat[-1:]), city.node_xy[-1:], atol=1e-6)


# --------------------------------------------------------------------------- done when

def test_real_district_gcj02_table_lands_within_50_m_of_the_true_places(tmp_path, catalogue) -> None:
    """Issue 17's "done when": a GCJ-02 POI table of a real district, converted and snapped, puts
    >= 90 % of its points within 50 m of their true WGS-84 positions.

    The real district's shops are its OSM point features (true WGS-84 places: the Haidian extract);
    the table gives them in GCJ-02 with Amap codes, as an Amap export of the same shops would. The
    figure measured on that table is recorded in docs/osm.md.
    """
    osm = pyrosm.OSM(str(BEIJING))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = osm.get_pois(custom_filter={"amenity": True, "shop": True})
    pois = pois[pois.geometry.geom_type == "Point"]
    amap = {"convenience": "060200", "kiosk": "060200", "supermarket": "060400", "pharmacy": "090601",
            "fast_food": "050300", "cafe": "050500", "restaurant": "050100", "hairdresser": "071100",
            "bakery": "050800", "laundry": "071500", "books": "061205", "post_office": "070400"}
    kind = [amap.get(str(s)) or amap.get(str(a)) for s, a in zip(pois.get("shop"), pois.get("amenity"))]
    pois = pois[[k is not None for k in kind]]
    kind = [k for k in kind if k is not None]
    true = np.column_stack([pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy()])
    lon, lat = from_wgs84(true[:, 0], true[:, 1], "gcj02")
    path = tmp_path / "haidian_amap.csv"
    pd.DataFrame({"name": pois["name"].fillna("").to_numpy(), "typecode": kind, "lon": lon, "lat": lat}).to_csv(path, index=False)
    assert len(kind) >= 60

    def share_within_50_m(crs: str) -> float:
        scenario = load_scenario(ROOT / "scenarios" / "beijing.toml",
                                 updates={"city.poi_table": str(path), "city.poi_crs": crs, "city.poi_merge_m": 0.0})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            city = OsmCity.from_scenario(scenario, np.random.default_rng(0))
        placement = city.inputs["poi_table"]
        table_nodes = city.poi_node[city.poi_source == TABLE]
        error = _metres(city, city.node_lonlat[table_nodes], true[placement.row])
        return float((error <= 50.0).sum() / len(true))  # dropped points count as misses

    converted = share_within_50_m("gcj02")
    print(f"\nshare of {len(true)} real shops within 50 m after GCJ-02 conversion and snapping: {converted:.3f}")
    assert converted >= 0.90
    assert share_within_50_m("wgs84") < 0.10  # the same table not converted: the test can fail


# --------------------------------------------------------------------------- bad input

def _scenario(tmp_path: Path, body: str, **updates: object):
    table = tmp_path / "pois.csv"
    table.write_text(body, encoding="utf-8")
    return load_scenario(ROOT / "scenarios" / "beijing.toml", updates={"city.poi_table": str(table), **updates})


@pytest.mark.parametrize("body, message", [
    ("name,typecode\nshop,060200\n", "no coordinate columns.*found columns: name, typecode"),
    ("name,lon,lat\nshop,116.35,40.0\n", "no column naming the kind.*allowed: category"),
    ("typecode,lon,lat\n", "the table has no rows"),
    ("typecode,lon,lat\n060200,116.35,north\n", "row 1, column 'lat': 'north' is not a number"),
    ("typecode,lon,lat\n060200,40.0,116.35\n", "swapped"),
    ("typecode,lon,lat\n060200,2.35,48.85\n", "outside China, where gcj02 does not apply"),
    ("typecode,lon,lat\n060300,116.35,40.0\n", "none of its 1 rows maps to a service category.*typecode=060300"),
    # A typo in lifecircle's own names dropped the rows with a warning only (39 of 45 in a review).
    ("category,typecode,lon,lat\npharmacy,,116.35,40.0\npharmcy,,116.35,40.0\nPharmcy,,116.35,40.0\n",
     r"row 2, column 'category': 'pharmcy' is not a service category \(2 rows name unknown categories: also "
     r"'Pharmcy'\); allowed: .*pharmacy"),
    ("typecode,lon,lat\n060200,121.47,31.23\n", "none of its 1 mapped points lies within.*poi_crs"),
])
def test_bad_tables_are_one_clear_error(tmp_path, catalogue, body, message) -> None:
    scenario = _scenario(tmp_path, body)
    with pytest.raises(ScenarioError, match=message) as err:
        OsmCity.from_scenario(scenario, np.random.default_rng(0))
    assert "pois.csv" in str(err.value)


def test_wrong_crs_name_and_grid_city_are_scenario_errors(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"city.poi_crs.*'gcj'.*'wgs84', 'gcj02' or 'bd09'"):
        _scenario(tmp_path, "typecode,lon,lat\n", **{"city.poi_crs": "gcj"})
    with pytest.raises(ScenarioError, match="need a real district"):
        load_scenario(ROOT / "scenarios" / "baseline.toml", updates={"city.poi_table": "x.csv"})


def test_missing_and_unsupported_files(tmp_path, catalogue, codes) -> None:
    with pytest.raises(ScenarioError, match="nowhere.csv: no such file"):
        read_poi_table(tmp_path / "nowhere.csv", crs="gcj02", codes=codes, catalogue=catalogue)
    (tmp_path / "pois.shp").write_bytes(b"\0")
    with pytest.raises(ScenarioError, match=r"unsupported table type '.shp'.*\.csv, \.xlsx, \.geojson"):
        read_poi_table(tmp_path / "pois.shp", crs="gcj02", codes=codes, catalogue=catalogue)


def test_cli_validate_catches_table_errors_and_run_writes_sources(tmp_path, capsys) -> None:
    from sim.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text("typecode,lon,lat\n060200,40.0,116.35\n", encoding="utf-8")
    scenario = str(ROOT / "scenarios" / "beijing.toml")
    assert main(["validate", scenario, "--set", f"city.poi_table={bad}"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "swapped" in err and "Traceback" not in err
    assert main(["validate", scenario, "--set", f"city.poi_table={TABLE_CSV}"]) == 0
    out = capsys.readouterr().out
    assert "city.poi_table: 24 rows (gcj02), 20 map to a category, 4 do not" in out
    assert main(["run", scenario, "--set", f"city.poi_table={TABLE_CSV}", "--set", "population.residents=2000",
                 "--years", "0.05", "--no-figures", "--quiet", "--out", str(tmp_path / "out")]) == 0
    outlets = pd.read_parquet(tmp_path / "out" / "outlets.parquet")
    expect = pd.read_csv(TABLE_CSV, dtype=str)["expect"]
    assert (outlets["source"] == "table").sum() == expect.isin(["outlet", "osm_duplicate"]).sum() == 17
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "POI table: 24 rows; 4 matched no category, 2 lay outside" in report
