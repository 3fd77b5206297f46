"""Life circles in a city: the partition, indicators per circle, the city budget's rules and outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse.csgraph as csgraph
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.city.circles import (Circles, build_circles, catchments, farthest_centres, grid_cells, polygon_labels,
                              read_circle_table, table_labels)
from sim.city.grid import GridCity
from sim.errors import ScenarioError
from sim.levers.city_budget import RULES, allocate
from sim.model import LifeCircleModel
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS, small_scenario

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the partition

def test_grid_cells_split_the_extent_into_equal_units_row_major_from_the_south_west():
    xy = np.array([[0, 0], [99, 0], [100, 0], [199, 0], [200, 300], [0, 300], [150, 150]], dtype=float)
    # 2 x 2 units over x 0..200, y 0..300: the borders x = 100, y = 150 belong to the east/north units.
    assert grid_cells(xy, 2, 2).tolist() == [0, 0, 1, 1, 3, 2, 3]


def _grid(blocks: int = 6):
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml",
                             updates={"city.blocks_x": blocks, "city.blocks_y": blocks, "population.residents": 500})
    return GridCity.from_scenario(scenario, np.random.default_rng(0))


def test_catchments_give_every_node_the_centre_nearest_on_foot():
    city = _grid()
    centres = farthest_centres(city.graph, city.node_xy, 4)
    assert len(set(centres.tolist())) == 4
    label = catchments(city.graph, centres)
    dist = csgraph.dijkstra(city.graph, directed=False, indices=centres)       # (4, n)
    nearest = dist.min(axis=0)
    assert np.allclose(dist[label, np.arange(city.graph.shape[0])], nearest)
    assert (label[centres] == np.arange(4)).all()


def test_farthest_centres_start_in_the_middle_and_spread_to_the_corners():
    city = _grid(6)  # 7 x 7 nodes, 100 m apart
    centres = farthest_centres(city.graph, city.node_xy, 5)
    assert tuple(city.node_xy[centres[0]]) == (300.0, 300.0)
    corners = {(0.0, 0.0), (600.0, 0.0), (0.0, 600.0), (600.0, 600.0)}
    assert {tuple(city.node_xy[c]) for c in centres[1:]} == corners


def test_polygon_labels_put_nodes_in_their_polygon_and_outsiders_in_the_nearest(tmp_path):
    square = lambda x0, x1: {"type": "Polygon", "coordinates": [[[x0, 0], [x1, 0], [x1, 1], [x0, 1], [x0, 0]]]}
    path = tmp_path / "circles.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "west"}, "geometry": square(0, 1)},
        {"type": "Feature", "properties": {"name": "east"}, "geometry": square(1, 2)}]}))
    lonlat = np.array([[0.5, 0.5], [1.5, 0.5], [2.2, 0.5], [-0.3, 0.5]])
    label, names = polygon_labels(path, "name", lonlat, lonlat * 1000, "test")
    assert names == ["west", "east"] and label.tolist() == [0, 1, 1, 0]
    with pytest.raises(ScenarioError, match="no property 'title'"):
        polygon_labels(path, "title", lonlat, lonlat, "test")
    with pytest.raises(ScenarioError, match="not found"):
        polygon_labels(tmp_path / "missing.geojson", "name", lonlat, lonlat, "test")


def _squares(path: Path, *names) -> Path:
    """A GeoJSON file of unit squares side by side from lon 0 eastwards, named ``names``."""
    square = lambda x0: {"type": "Polygon", "coordinates": [[[x0, 0], [x0 + 1, 0], [x0 + 1, 1], [x0, 1], [x0, 0]]]}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": name}, "geometry": square(i)} for i, name in enumerate(names)]}))
    return path


@pytest.mark.parametrize("names, problem", [
    # Two circles named "A" were written as two rows named A; read back as a table they merged.
    (("A", "A"), "features 0 and 1 of .* are both named 'A'"),
    # An empty name became NaN in the scorecard, and the run's circle_nodes.csv could not be read back.
    (("", "east"), "feature 0 of .* has an empty 'name'"),
    (("west", None), "feature 1 of .* has an empty 'name'"),
])
def test_polygons_need_distinct_non_empty_names(tmp_path, names, problem):
    lonlat = np.array([[0.5, 0.5], [1.5, 0.5]])
    with pytest.raises(ScenarioError, match=problem):
        polygon_labels(_squares(tmp_path / "c.geojson", *names), "name", lonlat, lonlat * 1000, "test")


def test_a_polygon_holding_no_node_is_named_in_a_warning(tmp_path):
    lonlat = np.array([[0.5, 0.5], [1.5, 0.5]])
    path = _squares(tmp_path / "c.geojson", "west", "east", "Far")
    with pytest.warns(UserWarning, match=r"1 polygon holds no street node .*: 'Far'"):
        label, names = polygon_labels(path, "name", lonlat, lonlat * 1000, "test")
    assert label.tolist() == [0, 1] and names == ["west", "east", "Far"]


def test_polygons_on_a_grid_city_and_without_a_file_are_refused():
    with pytest.raises(ScenarioError, match="needs circles.path"):
        load_scenario(ROOT / "scenarios" / "baseline.toml", updates={"circles.kind": "polygons"})
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml",
                             updates={"circles.kind": "polygons", "circles.path": "x.geojson",
                                      "population.residents": 500, "city.blocks_x": 4, "city.blocks_y": 4})
    with pytest.raises(ScenarioError, match="needs a real district"):
        LifeCircleModel(scenario=scenario, checkpoints=False, create_agents=False)


def test_circles_from_labels_drop_empty_labels_and_keep_names():
    circles = Circles.from_labels(np.array([5, 2, 5, 9]), names={2: "b", 5: "a", 9: "c"}, kind="x")
    assert circles.of_node.tolist() == [1, 0, 1, 2] and circles.names == ("b", "a", "c") and circles.k == 3


# ----------------------------------------------------------------------------- a node table

def _write_table(path: Path, frame: pd.DataFrame) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_a_node_table_names_each_node_s_circle_and_an_unlisted_node_joins_the_nearest_listed_one(tmp_path):
    # Five nodes on a line; node 2 (x = 150) is not listed and is nearest node 1 (50 m), a "west" node.
    xy = np.array([[0, 0], [100, 0], [150, 0], [300, 0], [400, 0]], dtype=float)
    path = _write_table(tmp_path / "nodes.csv", pd.DataFrame({"node": [4, 0, 3, 1], "name": ["unit 2", "west", "unit 10", "west"]}))
    nodes, names = read_circle_table(path, "name", "test")
    with pytest.warns(UserWarning, match=r"1 of the city's 5 nodes is not in the table \(2\); each joins the circle of the nearest"):
        label, ordered = table_labels(nodes, names, xy, path, "test")
    # Numbered in the order of the names, numbers compared as numbers: unit 2, unit 10, west.
    assert ordered == ["unit 2", "unit 10", "west"] and label.tolist() == [2, 2, 2, 1, 0]


def test_a_parquet_node_table_with_a_named_circle_column_builds_the_circles_of_a_grid_city(tmp_path):
    city = _grid(2)  # 3 x 3 nodes
    n = city.graph.shape[0]
    circle = np.where(city.node_xy[:, 0] < 150, 10, 2)  # west column: circle 10, the rest: circle 2
    path = _write_table(tmp_path / "nodes.parquet", pd.DataFrame({"Node": np.arange(n), " Circle ": circle, "note": "x"}))
    scenario = small_scenario(**{"circles.kind": "table", "circles.path": str(path), "circles.name_field": "circle"})
    circles = build_circles(scenario, city)
    assert circles.kind == "table" and circles.names == ("2", "10")
    assert (circles.of_node == np.where(circle == 2, 0, 1)).all()


def test_a_run_s_circle_nodes_csv_read_back_as_a_table_gives_its_circles_and_edited_names_merge_them(tmp_path):
    from sim.io.circle_outputs import write_circle_outputs

    run = LifeCircleModel(scenario=small_scenario(**{"circles.kind": "grid", "circles.cells_x": 2, "circles.cells_y": 2,
                                                     "years": 0.1}), checkpoints=False, create_agents=False)
    run.run_for(run.days_total)
    written = pd.read_csv(write_circle_outputs(run, tmp_path)["circle_nodes"])
    assert list(written.columns) == ["node", "circle", "name"]
    scenario_file = tmp_path / "city.toml"  # circles.path relative to the scenario file
    scenario_file.write_text(f'extends = "{SCENARIOS / "baseline.toml"}"\n[circles]\nkind = "table"\npath = "circle_nodes.csv"\n')
    scenario = load_scenario(scenario_file, updates={"population.residents": 2000, "city.blocks_x": 6, "city.blocks_y": 6})
    same = build_circles(scenario, run.city)
    assert same.names == run.circles.names == ("unit 1-1", "unit 1-2", "unit 2-1", "unit 2-2")
    assert (same.of_node == run.circles.of_node).all()
    # The evaluator merges the two southern units and renames the north-east one.
    edited = written.assign(name=written["name"].replace({"unit 1-2": "unit 1-1", "unit 2-2": "market"}))
    edited.to_csv(tmp_path / "circle_nodes.csv", index=False)
    model = LifeCircleModel(scenario=scenario, checkpoints=False, create_agents=False)
    assert model.circles.names == ("market", "unit 1-1", "unit 2-1")
    expected = np.array([1, 1, 2, 0])[run.circles.of_node]
    assert (model.circles.of_node == expected).all() and model.circles.k == 3


@pytest.mark.parametrize("suffix, content, name_field, problem", [
    (".csv", None, "name", "file .* not found"),
    (".txt", "node,name\n0,a\n", "name", r"unsupported table type '.txt'; allowed: .csv, .parquet"),
    (".csv", "", "name", "not a readable CSV table"),
    (".parquet", "not parquet", "name", "not a readable PARQUET table"),
    (".csv", "node,name\n", "name", "the table has no rows"),
    (".csv", "osm_id,name\n123,a\n", "name", r"no column 'node' .* its columns: 'osm_id', 'name'; OpenStreetMap node ids"),
    (".csv", "node,circle\n0,a\n", "name", r"circles.name_field = 'name': .* has no such column .* its columns: 'node', 'circle'"),
    (".csv", "node,name\n0,a\nx,b\n-1,c\n2.5,d\n", "name", r"whole numbers >= 0\); 3 of its 4 rows do not: row 2: 'x', row 3: '-1', row 4: '2.5'"),
    (".csv", "node,name\n0,a\n1,\n", "name", r"column 'name' is empty in 1 of its 2 rows; .* row 2 \(node 1\)"),
    (".csv", "node,name\n0,a\n1,b\n0,c\n", "name", r"1 node is listed more than once; .* node 0 \(rows 1, 3\)"),
])
def test_a_bad_node_table_is_an_error_naming_the_file_and_the_problem(tmp_path, suffix, content, name_field, problem):
    path = tmp_path / f"nodes{suffix}"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ScenarioError, match=problem) as err:
        read_circle_table(path, name_field, "city.toml")
    assert str(err.value).startswith("city.toml: circles.") and str(path) in str(err.value)


def test_a_node_table_naming_nodes_the_city_lacks_is_refused_and_kind_table_needs_a_path(tmp_path):
    city = _grid(2)  # nodes 0 .. 8
    path = _write_table(tmp_path / "nodes.csv", pd.DataFrame({"node": [0, 9, 12], "name": ["a", "b", "c"]}))
    scenario = small_scenario(**{"circles.kind": "table", "circles.path": str(path)})
    with pytest.raises(ScenarioError, match=r"names 2 nodes this city does not have \(its nodes are 0 .. 8; .*node 9 in row 2, node 12 in row 3"):
        build_circles(scenario, city)
    with pytest.raises(ScenarioError, match="kind = 'table' needs circles.path"):
        small_scenario(**{"circles.kind": "table"})


def test_a_node_table_joins_the_scenario_hash_but_not_the_warm_up_key(tmp_path):
    from sim.io.checkpoint import warmup_key

    path = _write_table(tmp_path / "nodes.csv", pd.DataFrame({"node": [0, 1], "name": ["a", "b"]}))
    base = small_scenario()
    table = small_scenario(**{"circles.kind": "table", "circles.path": str(path)})
    before = table.content_hash()
    assert warmup_key(base, 1) == warmup_key(table, 1)
    _write_table(path, pd.DataFrame({"node": [0, 1], "name": ["a", "a"]}))
    assert table.content_hash() != before and warmup_key(table, 1) == warmup_key(base, 1)


def test_the_command_line_exits_2_on_a_bad_node_table(tmp_path, capsys):
    from sim.cli import main

    small = ["--set", "population.residents=1500", "--set", "city.blocks_x=6", "--set", "city.blocks_y=6",
             "--set", "warmup_years=0", "--set", "years=0.1", "--set", "circles.kind='table'"]
    twice = _write_table(tmp_path / "twice.csv", pd.DataFrame({"node": [3, 3], "name": ["a", "b"]}))
    assert main(["validate", str(SCENARIOS / "baseline.toml"), *small, "--set", f"circles.path='{twice}'"]) == 2
    err = capsys.readouterr().err
    assert "baseline.toml: circles.path" in err and str(twice) in err and "listed more than once" in err
    assert "Traceback" not in err
    beyond = _write_table(tmp_path / "beyond.csv", pd.DataFrame({"node": [0, 5000], "name": ["a", "b"]}))
    assert main(["run", str(SCENARIOS / "baseline.toml"), *small, "--set", f"circles.path='{beyond}'",
                 "--out", str(tmp_path / "out"), "--no-figures"]) == 2
    err = capsys.readouterr().err
    # Built with the model, the message names the scenario's file too (it named "scenario").
    assert f"{SCENARIOS / 'baseline.toml'}: circles.path: {beyond}" in err and "node 5000 in row 2" in err


# ----------------------------------------------------------------------------- indicators per circle

@pytest.fixture(scope="module")
def city_run():
    """Every lever on, 3,000 residents in 2 x 2 circles, 3 measured months."""
    scenario = load_scenario(ROOT / "scenarios" / "full_plan.toml", updates={
        "population.residents": 3000, "city.blocks_x": 8, "city.blocks_y": 8, "circles.kind": "grid",
        "circles.cells_x": 2, "circles.cells_y": 2, "warmup_years": 1.0, "years": 0.25})
    model = LifeCircleModel(scenario=scenario, checkpoints=False, create_agents=False)
    model.run_for(model.days_total)
    return model


ADDITIVE = ["needs", "unmet_needs", "trips_saved", "merchants_open", "merchant_births", "merchant_deaths",
            "freelancers", "retirees_working", "volunteer_hours", "graduate_entrepreneurs", "merchant_transfers",
            "complaints",
            *[f"needs_met_by.{k}" for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer",
                                            "unmet_range", "unmet_capacity", "unmet_money")]]


def test_additive_indicators_summed_over_the_circles_equal_the_city(city_run):
    city = city_run.timeseries()
    circles = city_run.circle_timeseries()
    assert circles["circle"].nunique() == 4
    for month in city["month"].unique():
        c = city[city["month"] == month].set_index("indicator")["value"]
        per = circles[circles["month"] == month].groupby("indicator")["value"].sum()
        for name in ADDITIVE:
            assert per[name] == pytest.approx(c[name]), (month, name)


def test_outlet_events_are_counted_in_the_circle_of_the_outlet_and_add_up_to_the_city_s():
    """Outlets opened and closed, licences granted (with their waits), ownership transfers and
    complaints about vendors are counted at the circle of the outlet's node (complaints: the day's
    city count shared out by the residents at each circle's stops). With vendors trading in quiet hours
    until they are withdrawn as month 3 opens, and owners leaving often, each month: births, deaths,
    transfers and complaints summed over the circles are the city's (the vendors licensed and withdrawn
    as a month opens too), and the city's mean licence wait lies within the circles' (their mean
    weighted by the licences each granted)."""
    scenario = load_scenario(ROOT / "scenarios" / "full_plan.toml", updates={
        "population.residents": 3000, "city.blocks_x": 8, "city.blocks_y": 8, "circles.kind": "grid",
        "circles.cells_x": 2, "circles.cells_y": 2, "warmup_years": 0.0, "years": 0.34,
        "levers.mobile_vendors.quiet_hours": False, "levers.mobile_vendors.end_month": 3,
        "economy.exit_per_month": 0.05})
    model = LifeCircleModel(scenario=scenario, checkpoints=False, create_agents=False)
    model.run_for(model.days_total)
    city, circles = model.timeseries(), model.circle_timeseries()
    seen = {"merchant_births": 0.0, "merchant_deaths": 0.0, "merchant_transfers": 0.0, "complaints": 0.0,
            "licences": 0}
    for month in city["month"].unique():
        c = city[city["month"] == month].set_index("indicator")["value"]
        per = circles[circles["month"] == month].pivot(index="circle", columns="indicator", values="value")
        for name in ("merchant_births", "merchant_deaths", "merchant_transfers", "complaints"):
            assert per[name].sum() == c[name], (month, name)
            seen[name] += c[name]
        if not np.isnan(c["licence_wait_days"]):
            seen["licences"] += 1
            assert per["licence_wait_days"].min() <= c["licence_wait_days"] <= per["licence_wait_days"].max()
    assert all(v > 0 for v in seen.values()), seen


def test_shares_of_a_whole_count_add_up_and_follow_the_weights():
    from sim.services.circle_tally import shares_of

    assert shares_of(10, np.array([1, 1, 1])).tolist() == [4, 3, 3]  # ties to the lower index
    assert shares_of(7, np.array([0, 5, 2])).tolist() == [0, 5, 2]
    assert shares_of(3, np.array([0, 0])).tolist() == [0, 0]
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = rng.integers(0, 50, rng.integers(1, 9))
        total = int(rng.integers(0, 400))
        got = shares_of(total, w)
        assert got.sum() == (total if w.sum() else 0) and (got >= 0).all()
        if w.sum():
            assert np.all(np.abs(got - total * w / w.sum()) < 1)  # within one of the exact quota


def test_service_spending_per_circle_adds_up_to_the_city_s(city_run):
    """Residents' service spending is counted at their home circle (the fall in their cash during
    the day's services): per person in each circle, times the circle's household members, it adds
    up to the city's every month -- the ledger's service flows, every lever on."""
    hh = city_run.households
    persons = np.bincount(city_run.circles.of_node[hh.home], weights=hh.persons, minlength=city_run.circles.k)
    city, circles = city_run.timeseries(), city_run.circle_timeseries()
    for month in city["month"].unique():
        c = city[(city["month"] == month) & (city["indicator"] == "service_spending")]["value"].item()
        per = circles[(circles["month"] == month) & (circles["indicator"] == "service_spending")].sort_values("circle")
        assert c > 0
        assert (per["value"].to_numpy() * persons).sum() == pytest.approx(c * persons.sum(), rel=1e-12), month


def test_shares_per_circle_average_to_the_city_share(city_run):
    circles = city_run.circle_timeseries()
    city = city_run.timeseries()
    last = circles["day"].max()
    per = circles[circles["day"] == last].pivot(index="circle", columns="indicator", values="value")
    c = city[city["day"] == last].set_index("indicator")["value"]
    assert (per["needs"] * per["needs_met_share"]).sum() / per["needs"].sum() == pytest.approx(c["needs_met_share"])
    residents = np.bincount(city_run.circle_of_resident)
    assert (residents * per["basic_coverage_15"]).sum() / residents.sum() == pytest.approx(c["basic_coverage_15"])
    assert per["basic_coverage_15"].min() == pytest.approx(c["circle_coverage_min"])
    assert per["basic_coverage_15"].max() - per["basic_coverage_15"].min() == pytest.approx(c["circle_coverage_gap"])


def test_city_only_indicators_are_left_out_of_the_circles(city_run):
    from sim.metrics.circles import CITY_ONLY

    names = set(city_run.circle_timeseries()["indicator"].str.split(".").str[0])
    assert not names & set(CITY_ONLY)
    assert {"basic_coverage_15", "income_gini", "employment_rate", "merchant_profit_mean"} <= names


# ----------------------------------------------------------------------------- allocation rules

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1), st.booleans(), st.booleans()), min_size=1, max_size=12),
       st.sampled_from(RULES), st.floats(1.0, 1e8), st.booleans())
def test_allocations_are_non_negative_and_spend_the_budget_when_someone_qualifies(rows, rule, budget, scaled_up):
    residents, coverage, passed, pilots = (np.array(col) for col in zip(*rows))
    share = allocate(rule, budget, residents, coverage, passed, pilots=pilots, scaled_up=scaled_up)
    assert (share >= 0).all()
    assert share[residents == 0].sum() == 0
    if share.sum() > 0:
        assert share.sum() == pytest.approx(budget)
    if rule == "need":
        assert share[coverage >= 1].sum() == 0
    if rule == "pilot" and not scaled_up:
        assert share[~pilots].sum() == 0


def test_allocation_rules_known_answers():
    residents, coverage, passed = np.array([100, 300]), np.array([0.5, 0.9]), np.array([False, True])
    assert allocate("equal", 400, residents, coverage, passed).tolist() == [100, 300]
    assert allocate("need", 80, residents, coverage, passed).tolist() == pytest.approx([50, 30])  # 50 and 30 uncovered
    assert allocate("reward", 700, residents, coverage, passed, bonus=1.0).tolist() == [100, 600]
    assert allocate("support", 500, residents, coverage, passed, bonus=1.0).tolist() == [200, 300]
    pilots = np.array([True, False])
    assert allocate("pilot", 50, residents, coverage, passed, pilots=pilots).tolist() == [50, 0]
    assert allocate("pilot", 40, residents, coverage, passed, pilots=pilots, scaled_up=True).tolist() == [10, 30]
    with pytest.raises(ValueError, match="allowed"):
        allocate("lottery", 1, residents, coverage, passed)


# ----------------------------------------------------------------------------- the city budget

def _budget_scenario(seed: int, per_resident: float, rule: str = "need"):
    return load_scenario(ROOT / "scenarios" / "baseline.toml", updates={
        "seed": seed, "circles.kind": "grid", "circles.cells_x": 2, "circles.cells_y": 2, "warmup_years": 2.0,
        "years": 1.0, "levers.governance.enabled": True, "levers.governance.budget_cny_per_resident": per_resident,
        "levers.governance.allocation": rule, "output.indicators": ["basic_coverage_15", "circles_passing_share",
                                                                    "circle_coverage_min", "public_spending"]})


SEEDS = (11, 12, 13, 14, 15, 16)


@pytest.fixture(scope="module")
def budget_runs(tmp_path_factory):
    """Paired seeds with and without a city budget of 300 CNY per resident (need rule), 20,000
    residents in 2 x 2 circles, one measured year after a 2-year warm-up (a seed's warm-up, with
    every lever off, is simulated once and shared by its pair: the runs are the same as when each
    warmed up itself).

    Power: over these six pairs the budget raised basic coverage, averaged over the year's months,
    by 0.011-0.153 (mean 0.071, sd 0.051 between pairs); a one-sided paired t-test at 5 % with six
    pairs detects an effect of that size with power 0.90 (noncentral t), 0.35 for an effect of
    0.03. The budget's effect is the paired difference from the same seed's run without it.
    """
    from sim.io.checkpoint import CheckpointStore

    store = CheckpointStore(tmp_path_factory.mktemp("budget-warm-ups"))
    out = {}
    for seed in SEEDS:
        for budget in (0.0, 300.0):
            model = LifeCircleModel(scenario=_budget_scenario(seed, budget), checkpoints=store, create_agents=False)
            model.run_for(model.days_total)
            out[seed, budget] = model
    return out


def test_the_budget_raises_coverage_against_no_budget_on_paired_seeds(budget_runs):
    from scipy import stats

    def monthly(model):
        ts = model.timeseries()
        return ts[ts["indicator"] == "basic_coverage_15"].set_index("month")["value"]

    diff = np.array([(monthly(budget_runs[s, 300.0]) - monthly(budget_runs[s, 0.0])).mean() for s in SEEDS])
    assert stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue < 0.05, diff


def test_every_circle_is_evaluated_each_period_and_spending_stays_within_the_budget(budget_runs):
    model = budget_runs[11, 300.0]
    ev = pd.DataFrame(model.circle_evaluations)
    assert sorted(ev["period"].unique()) == [0, 1] and (ev.groupby("period")["circle"].nunique() == 4).all()
    assert ev["allocation_cny"].groupby(ev["period"]).sum().tolist() == pytest.approx([300.0 * model.population.n] * 2)
    spent = model.ledger.spent_on("lever.governance.") / 100
    assert 0 < spent <= ev["allocation_cny"].sum() + 1e-6
    last = ev[ev["period"] == ev["period"].max()]
    # What the circles report spending is what the ledger booked (up to the last evaluation).
    assert last["spent_cny"].sum() <= spent + 1e-6 and (last["funds_left_cny"] >= -1e-6).all()
    budget = model.levers.get("governance").budget
    assert (budget.funds >= -1e-6).all() and ev["sites_built"].sum() == len(budget.site_node) > 0
    # Without a budget the circles are still evaluated, and nothing is allocated or built.
    none = pd.DataFrame(budget_runs[11, 0.0].circle_evaluations)
    assert len(none) == len(ev) and none["allocation_cny"].sum() == 0 and none["sites_built"].sum() == 0
    assert budget_runs[11, 0.0].ledger.spent_on("lever.governance.") == 0


def test_funds_follow_the_evaluation_made_at_the_period_s_start():
    # reward: each period's budget per resident, with evaluation_bonus more for the circles that pass
    # the evaluation just made (not the one a period before): a known answer from the recorded rows, in
    # a run (seed 12) where circles pass and fail in turn.
    scenario = _budget_scenario(12, 300.0, "reward").with_updates({"years": 2.0})
    model = LifeCircleModel(scenario=scenario, create_agents=False, checkpoints=False)
    model.run_for(model.days_total)
    ev = pd.DataFrame(model.circle_evaluations).sort_values(["period", "circle"])
    passed = ev.pivot(index="period", columns="circle", values="passed").to_numpy()
    assert len(passed) == 3 and (passed[1:] != passed[:-1]).any()  # statuses change between periods
    bonus = scenario.levers.governance.evaluation_bonus
    for _, rows in ev.groupby("period"):
        residents, ok = rows["residents"].to_numpy(), rows["passed"].to_numpy()
        expected = allocate("reward", 300.0 * model.population.n, residents, rows["basic_coverage_15"].to_numpy(), ok,
                            bonus=bonus)
        assert rows["allocation_cny"].to_numpy() == pytest.approx(expected)


def test_a_run_writes_the_circles_outputs_and_the_city_scorecard(budget_runs, tmp_path):
    from sim.io.circle_outputs import write_circle_outputs

    model = budget_runs[12, 300.0]
    paths = write_circle_outputs(model, tmp_path, scenario="s", seed=12)
    assert set(paths) == {"circles", "circle_scorecard", "circle_nodes", "circle_evaluations"}
    frame = pd.read_parquet(paths["circles"])
    assert set(frame["circle"]) == {0, 1, 2, 3} and {"name", "indicator", "value"} <= set(frame.columns)
    card = pd.read_csv(paths["circle_scorecard"])
    assert card["rank"].tolist() == sorted(card["rank"]) and card["basic_coverage_15"].is_monotonic_decreasing
    nodes = pd.read_csv(paths["circle_nodes"])
    assert len(nodes) == model.city.graph.shape[0]


def test_the_shipped_city_scenario_and_budget_batch_validate():
    from sim.batch.spec import load_batch

    city = load_scenario(ROOT / "scenarios" / "city.toml")
    assert city.population.residents >= 2_000_000 and city.circles.cells_x * city.circles.cells_y >= 20
    assert city.levers.governance.allocation == "need" and city.levers.governance.budget_cny_per_resident > 0
    spec = load_batch(ROOT / "scenarios" / "batches" / "city_budget.toml")
    rules = {spec.package_scenario(name).levers.governance.allocation for name in spec.package_names() if name != "no_budget"}
    assert rules == set(RULES)
    assert spec.package_scenario("no_budget").levers.governance.budget_cny_per_resident == 0


def test_the_evaluator_report_has_a_section_per_rule_with_the_detectable_difference():
    from sim.batch.compare import paired_effects
    from sim.batch.evaluator import detectable, evaluator_report

    rows = []
    for package, shift in (("none", 0.0), ("need", 0.05), ("equal", 0.02)):
        for rep in range(4):
            for indicator, base in (("circles_passing_share", 0.3), ("circle_coverage_min", 0.5), ("public_spending", 0)):
                value = base + shift + 0.01 * rep + (1e6 * (package != "none") if indicator == "public_spending" else 0)
                rows.append({"package": package, "point": 0, "replicate": rep, "seed": rep, "run_id": f"{package}{rep}",
                             "indicator": indicator, "value": value})
    outcomes = pd.DataFrame(rows)
    effects = paired_effects(outcomes, "none")
    text = evaluator_report(effects, outcomes, baseline="none", title="t", last_months=3)
    assert "## need" in text and "## equal" in text and "## Ranking" in text
    ranking = text[text.index("## Ranking"):]
    assert ranking.index("| need |") < ranking.index("| equal |")
    assert detectable(0.0, 4) == 0.0 and np.isnan(detectable(1.0, 1))
    assert detectable(2.0, 9) == pytest.approx(2 * detectable(1.0, 9))


def test_the_warm_up_is_shared_by_every_division_of_the_city():
    from sim.io.checkpoint import warmup_key

    base = load_scenario(ROOT / "scenarios" / "baseline.toml")
    divided = base.with_updates({"circles.kind": "catchments", "circles.centres": 7})
    assert warmup_key(base, 1) == warmup_key(divided, 1) != warmup_key(base.with_updates({"population.residents": 999}), 1)


def test_validate_reads_a_polygons_file_and_exits_2_on_a_bad_one(tmp_path, capsys):
    from sim.cli import main

    polygons = ["--set", "circles.kind='polygons'"]
    good = tmp_path / "good.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "all"},
         "geometry": {"type": "Polygon", "coordinates": [[[116, 39], [117, 39], [117, 41], [116, 41], [116, 39]]]}}]}))
    assert main(["validate", str(SCENARIOS / "beijing.toml"), *polygons, "--set", f"circles.path='{good}'"]) == 0
    capsys.readouterr()
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Point", "coordinates": [116.3, 40.0]}}]}))
    for path, says in ((point, "feature 0 of .* is not a Polygon"), (tmp_path / "none.geojson", "not found")):
        assert main(["validate", str(SCENARIOS / "beijing.toml"), *polygons, "--set", f"circles.path='{path}'"]) == 2
        err = capsys.readouterr().err
        assert re.search(f"beijing.toml: circles.path: .*{says}", err) and "Traceback" not in err, err
    assert main(["validate", str(SCENARIOS / "baseline.toml"), *polygons, "--set", f"circles.path='{good}'"]) == 2
    assert "needs a real district" in capsys.readouterr().err
