"""Where residents live on a real district: compound tables (points, polygons) and OSM floor area.

Test data: tests/data/haidian_compounds_gcj02.geojson, SYNTHETIC compounds in GCJ-02 (two polygons,
two points, one far outside the network; tests/data/README.md), on the Haidian OSM extract (ODbL,
© OpenStreetMap contributors).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely

from sim.services.catalogue import load_catalogue
from sim.city.homes_table import PERSONS_PER_HOUSEHOLD, apply_homes_table, read_homes_table
from sim.city.osm import FLOOR_AREA_PER_PERSON_M2, OsmCity, parse_levels
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
BEIJING = DATA / "beijing_haidian.osm.pbf"
COMPOUNDS = DATA / "haidian_compounds_gcj02.geojson"


def _city() -> OsmCity:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return OsmCity.from_file(BEIJING, catalogue=load_catalogue(), rng=np.random.default_rng(0))


def test_compound_sizes_use_population_or_households_times_the_census_household() -> None:
    homes = read_homes_table(COMPOUNDS, crs="gcj02")
    features = json.loads(COMPOUNDS.read_text(encoding="utf-8"))["features"]
    want = [f["properties"].get("population", f["properties"].get("households", 0) * PERSONS_PER_HOUSEHOLD) for f in features]
    np.testing.assert_allclose(homes.residents, want)
    assert homes.residents[0] == pytest.approx(800 * 2.62)
    assert homes.polygons is not None and homes.polygons[0] is not None and homes.polygons[2] is None


def test_polygons_share_residents_among_their_nodes_points_go_to_the_nearest() -> None:
    city = _city()
    homes = read_homes_table(COMPOUNDS, crs="gcj02")
    with pytest.warns(UserWarning, match="1 of 5 compounds lie more than 150 m"):
        used = apply_homes_table(city, homes, snap_m=150.0)
    assert used == {"compounds": 5.0, "placed": 4.0, "too_far": 1.0, "table_residents": pytest.approx(homes.residents[:4].sum())}
    weight = city.residential_weight
    assert weight.sum() == pytest.approx(homes.residents[:4].sum())
    counts = []
    for i in (0, 1):  # each polygon's residents sit, in equal shares, on the nodes inside it
        inside = shapely.contains_xy(shapely.transform(homes.polygons[i], city.project), city.node_xy[:, 0], city.node_xy[:, 1])
        counts.append(int(inside.sum()))
        np.testing.assert_allclose(weight[inside], homes.residents[i] / inside.sum())
    assert min(counts) >= 1 and max(counts) >= 2
    nearest = [int(np.argmin(np.linalg.norm(city.node_xy - city.project(homes.lonlat[i:i + 1]), axis=1))) for i in (2, 3)]
    for i, node in zip((2, 3), nearest):
        assert weight[node] >= homes.residents[i] - 1e-9


def test_residents_of_a_run_live_only_in_the_compounds(tmp_path) -> None:
    from sim.model import LifeCircleModel

    scenario = load_scenario(ROOT / "scenarios" / "beijing.toml", updates={
        "city.homes_table": str(COMPOUNDS), "population.residents": 3000, "years": 0.01})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = LifeCircleModel(scenario=scenario, create_agents=False)
    homes_nodes = np.flatnonzero(model.city.residential_weight > 0)
    assert set(np.unique(model.population.home)) <= set(homes_nodes.tolist())
    assert model.population.n == 3000


def test_table_total_far_from_the_scenario_residents_warns() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "beijing.toml", updates={"city.homes_table": str(COMPOUNDS)})
    with pytest.warns(UserWarning, match=r"house 6,216 people, the scenario simulates population.residents = 30,000"):
        OsmCity.from_scenario(scenario, np.random.default_rng(0))


@pytest.mark.parametrize("body, message", [
    ("name,lon,lat\nA,116.35,40.0\n", "no column giving each compound's size.*allowed: households, or population"),
    ("households,lon,lat\nmany,116.35,40.0\n", "row 1, column 'households': 'many' is not a number >= 0"),
    ("households,lon,lat\n-5,116.35,40.0\n", "'-5' is not a number >= 0"),
    ("households,population,lon,lat\n,,116.35,40.0\n", "row 1: no population or households given"),
    ("households,lon,lat\n0,116.35,40.0\n", "house nobody"),
    ("households,lon,lat\n100,121.47,31.23\n", "none of its 1 compounds lies within"),
])
def test_bad_homes_tables_are_one_clear_error(tmp_path, body, message) -> None:
    path = tmp_path / "compounds.csv"
    path.write_text(body, encoding="utf-8")
    scenario = load_scenario(ROOT / "scenarios" / "beijing.toml", updates={"city.homes_table": str(path)})
    with pytest.raises(ScenarioError, match=message) as err:
        OsmCity.from_scenario(scenario, np.random.default_rng(0))
    assert "compounds.csv" in str(err.value)


# --------------------------------------------------------------------------- OSM floor area

def test_levels_parse_the_first_positive_number() -> None:
    values = np.array(["14", "3;4", "5.5", "", None, "two", "0", "-1", "2,3"], dtype=object)
    np.testing.assert_array_equal(parse_levels(values), [14, 3, 5.5, np.nan, np.nan, np.nan, np.nan, np.nan, 2])


def test_osm_homes_weigh_floor_area_and_estimate_residents() -> None:
    import pyrosm

    city = _city()
    buildings = pyrosm.OSM(str(BEIJING)).get_buildings()
    levels = parse_levels(buildings["building:levels"].to_numpy(object))
    assert np.isfinite(levels).sum() >= 5  # some buildings are tagged with their storeys
    assert city.residential_weight.sum() == pytest.approx(city.floor_area_m2)
    assert city.estimated_residents == round(city.floor_area_m2 / FLOOR_AREA_PER_PERSON_M2)
    # Untagged buildings count the median storeys of the tagged ones, so the floor area exceeds
    # the footprint area whenever that median is above one.
    footprint = city.floor_area_m2 / np.nanmedian(levels)
    assert city.floor_area_m2 > footprint and 10_000 < city.estimated_residents < 100_000


def _street_city(n_nodes: int, building_nodes: list[int]) -> OsmCity:
    """A straight street of ``n_nodes`` nodes 10 m apart (east along the equator) with one 20 x 20 m
    residential building beside each of ``building_nodes``, built by the OSM rules."""
    from sim.city.osm import EARTH_RADIUS_M, _RawOsm, check_tag_table

    step = 10.0 / (EARTH_RADIUS_M * np.pi / 180)  # degrees of longitude per 10 m at the equator
    lonlat = np.column_stack([np.arange(n_nodes) * step, np.zeros(n_nodes)])
    edges = np.column_stack([np.arange(n_nodes - 1), np.arange(1, n_nodes)])
    side = 2 * step
    homes = [shapely.box(v * step - side / 2, side / 2, v * step + side / 2, 3 * side / 2) for v in building_nodes]
    raw = _RawOsm(node_lonlat=lonlat, edges=edges, lengths_m=np.full(n_nodes - 1, 10.0),
                  highway=np.full(n_nodes - 1, "residential", dtype=object),
                  building_geoms=np.array(homes, dtype=object) if homes else None)
    catalogue = load_catalogue()
    return OsmCity._build(raw, check_tag_table(catalogue), catalogue, "street.osm.pbf", "street", 0.0)


def test_buildings_at_too_few_nodes_spread_residents_evenly() -> None:
    """A street-only extract with stray buildings (2 of 3,000 nodes, under 0.1 %) weighs every node
    the same and says so; 3 of 3,000 (0.1 %) is enough: residents live at those nodes only."""
    from sim.city.osm import MIN_HOME_NODE_SHARE

    assert MIN_HOME_NODE_SHARE == 0.001
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparse = _street_city(3000, [100, 2000])
        enough = _street_city(3000, [100, 1500, 2000])
    about_homes = [str(w.message) for w in caught if "residential buildings" in str(w.message)]
    assert len(about_homes) == 1 and "stand at 2 of the network's 3,000 nodes" in about_homes[0]
    assert np.array_equal(sparse.residential_weight, np.ones(3000))
    assert sparse.floor_area_m2 == 0.0 and sparse.estimated_residents == 0
    assert np.flatnonzero(enough.residential_weight).tolist() == [100, 1500, 2000]
    assert enough.floor_area_m2 == pytest.approx(3 * 400.0, rel=1e-3)


def test_input_paths_list_every_file_the_city_reads(tmp_path) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "beijing_tables.toml", updates={"city.poi_codes": "codes.toml"})
    paths = scenario.city.input_paths(Path(scenario.base_dir))
    assert [p.name for p in paths] == ["beijing_haidian.osm.pbf", "haidian_pois_synthetic.csv", "codes.toml",
                                        "haidian_compounds_synthetic.geojson"]
    assert all(p.is_absolute() for p in paths)
    helsinki = load_scenario(ROOT / "scenarios" / "helsinki.toml")
    assert helsinki.city.input_paths(Path(helsinki.base_dir)) == []  # pyrosm's own extract


def test_resolved_scenario_names_table_files_absolutely(tmp_path) -> None:
    import tomllib

    scenario = load_scenario(ROOT / "scenarios" / "beijing_tables.toml")
    data = tomllib.loads(scenario.to_toml())
    for key in ("path", "poi_table", "homes_table"):
        assert Path(data["city"][key]).is_absolute() and Path(data["city"][key]).is_file()
    assert data["city"]["poi_codes"] == "default"
