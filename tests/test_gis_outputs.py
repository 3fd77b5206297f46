"""outlets.parquet and homes.parquet, outlet sources, and how the report and map show them.

Uses the Haidian OSM extract (ODbL, © OpenStreetMap contributors) and the SYNTHETIC test POI table
of tests/data (tests/data/README.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model import LifeCircleModel
from sim.city.outlet_sources import MODEL, OSM, SYNTHESISED, TABLE, counts_by_source, initial_sources
from sim.run import run_scenario, write_outputs
from sim.scenario import load_scenario
from tests.conftest import small_scenario

ROOT = Path(__file__).resolve().parents[1]
TABLE_CSV = ROOT / "tests" / "data" / "haidian_pois_gcj02.csv"
OUTLET_COLUMNS = ["id", "category", "lon", "lat", "node", "source", "opened_day", "closed_day"]


@pytest.fixture(scope="module")
def beijing_run(tmp_path_factory):
    scenario = load_scenario(ROOT / "scenarios" / "beijing.toml", updates={
        "city.poi_table": str(TABLE_CSV), "city.poi_mode": "add", "population.residents": 3000, "years": 0.25})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = run_scenario(scenario)
    out = tmp_path_factory.mktemp("beijing")
    paths = write_outputs(result, out)
    return result, out, paths


def test_day_one_sources_follow_the_city(beijing_run) -> None:
    result, _, _ = beijing_run
    model, city = result.model, result.model.city
    mer = model.merchants
    p = len(city.poi_node)
    day_one = mer.source != MODEL
    assert np.array_equal(mer.source[:p], city.poi_source)
    assert set(np.unique(mer.source[:p])) == {OSM, TABLE}
    assert (mer.source[p:][day_one[p:]] == SYNTHESISED).all()
    # Synthesised outlets are only of categories with no mapped POI at all.
    assert not set(mer.category[mer.source == SYNTHESISED]) & set(city.poi_category)


def test_grid_outlets_are_all_synthesised_and_have_no_place_on_earth(tmp_path) -> None:
    result = run_scenario(small_scenario(years=0.05))
    mer = result.model.merchants
    assert (mer.source[mer.opened_day <= 0] == SYNTHESISED).all()
    assert initial_sources(result.model.city, 5).tolist() == [SYNTHESISED] * 5
    write_outputs(result, tmp_path, figures=False)
    outlets = pd.read_parquet(tmp_path / "outlets.parquet")
    assert list(outlets.columns) == OUTLET_COLUMNS
    assert outlets["lon"].isna().all() and outlets["lat"].isna().all()


def test_outlets_parquet_columns_and_values(beijing_run) -> None:
    result, out, paths = beijing_run
    model = result.model
    outlets = pd.read_parquet(out / "outlets.parquet")
    assert paths["outlets"] == out / "outlets.parquet"
    assert list(outlets.columns) == OUTLET_COLUMNS
    mer = model.merchants
    assert len(outlets) == mer.n and outlets["id"].tolist() == list(range(mer.n))
    assert outlets["category"].tolist() == [model.catalogue.names[c] for c in mer.category]
    np.testing.assert_allclose(outlets[["lon", "lat"]].to_numpy(), model.city.node_lonlat[mer.node])
    assert set(outlets["source"]) <= {"osm", "table", "synthesised", "model"}
    assert (outlets["source"] == "table").sum() == (mer.source == TABLE).sum() > 0
    still_open = outlets["closed_day"].isna().to_numpy()
    assert np.array_equal(still_open, mer.open)
    assert (outlets.loc[~still_open, "closed_day"] >= outlets.loc[~still_open, "opened_day"]).all()
    # Haidian lies at about 116.35 E, 40.0 N (WGS-84).
    assert outlets["lon"].between(116.28, 116.41).all() and outlets["lat"].between(39.98, 40.03).all()


def test_homes_parquet_walk_minutes_are_nearest_distance_over_planning_speed(beijing_run) -> None:
    result, out, _ = beijing_run
    model = result.model
    homes = pd.read_parquet(out / "homes.parquet")
    names = model.catalogue.names
    assert list(homes.columns) == ["node", "lon", "lat", "residents"] + [f"walk_min_{n}" for n in names]
    assert homes["residents"].sum() == model.population.n
    nodes = homes["node"].to_numpy()
    assert (model.residents_at_node[nodes] == homes["residents"]).all()
    expect = model.nearest_m[nodes] / model.scenario.population.walk_speed_m_per_min
    got = homes[[f"walk_min_{n}" for n in names]].to_numpy()
    reachable = np.isfinite(expect)
    np.testing.assert_allclose(got[reachable], expect[reachable])
    assert np.isnan(got[~reachable]).all()
    # A node with an open outlet of a category is 0 minutes from it.
    c = names.index("convenience_store")
    shop_nodes = set(model.merchants.node[(model.merchants.category == c) & model.merchants.open].tolist())
    at_shop = homes["node"].isin(shop_nodes).to_numpy()
    if at_shop.any():
        assert (homes.loc[at_shop, "walk_min_convenience_store"] == 0).all()


def test_report_counts_outlets_by_source_and_table_contribution(beijing_run) -> None:
    result, out, _ = beijing_run
    report = (out / "report.md").read_text(encoding="utf-8")
    counts = counts_by_source(result.model)
    total = counts[["osm", "table", "synthesised"]].sum()
    assert (f"{int(total['osm'])} came from the map (OpenStreetMap), {int(total['table'])} from a POI table "
            f"and {int(total['synthesised'])} were synthesised") in report
    row = counts[counts["category"] == "housekeeping"].iloc[0]
    assert f"| housekeeping | {row.osm} | {row.table} | {row.synthesised} | {row.model} | {row.open_now} |" in report
    assert row.table >= 1 and row.osm == 0  # OSM maps no housekeeping here; the table has one
    assert "POI table: 24 rows; 4 matched no category, 2 lay outside the walking network's area" in report
    assert "`typecode=060300` (1)" in report


def test_coverage_map_draws_synthesised_outlets_hollow() -> None:
    import matplotlib.pyplot as plt

    from sim.io.figures import coverage_map

    scenario = load_scenario(ROOT / "scenarios" / "beijing.toml", updates={"population.residents": 2000, "warmup_years": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = LifeCircleModel(scenario=scenario, create_agents=False)  # OSM only: some synthesised
    fig = coverage_map(model)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    synthesised = int((model.merchants.source[model.merchants.open] == SYNTHESISED).sum())
    assert synthesised > 0
    hollow = [c for c in fig.axes[0].collections if "synthesised" in str(c.get_label())]
    assert sum(len(c.get_offsets()) for c in hollow) == synthesised
    assert all(len(c.get_facecolors()) == 0 or (c.get_facecolors()[:, 3] == 0).all() for c in hollow)
    assert any("synthesised" in label for label in labels)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    counts = counts_by_source(model).set_index("category")
    assert f"convenience_store {counts.loc['convenience_store', 'osm']}/0/0" in texts
    assert f"housekeeping 0/0/{counts.loc['housekeeping', 'synthesised']}" in texts
    plt.close(fig)


def test_model_opened_outlets_are_marked_model() -> None:
    scenario = small_scenario(years=0.05)
    model = LifeCircleModel(scenario=scenario, create_agents=False)
    before = model.merchants.n
    ids = model.add_outlets(nodes=np.array([0, 1]), categories=np.array([0, 1]), owners=np.array([-1, -1]))
    assert ids.tolist() == [before, before + 1]
    assert model.merchants.source[ids].tolist() == [3, 3]


@pytest.mark.parametrize("name", ["beijing.toml", "beijing_tables.toml"])
def test_shipped_chinese_scenarios_run_from_the_command_line(tmp_path, capsys, name) -> None:
    from sim.cli import main

    status = main(["run", str(ROOT / "scenarios" / name), "--years", "0.05", "--set", "population.residents=3000",
                   "--no-figures", "--quiet", "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    assert "Haidian, Beijing" in out and "OpenStreetMap contributors" in out
    sources = pd.read_parquet(tmp_path / "outlets.parquet")["source"].value_counts()
    assert sources["osm"] == 111  # a table added keeps every OSM shop (two of a trade side by side are two)
    assert ("table" in sources) == (name == "beijing_tables.toml")
