"""Known answers: walking distances and coverage on a tiny grid, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sim.city import GridCity
from sim.metrics import basic_coverage, walk_minutes
from sim.model import LifeCircleModel
from sim.population import EMPLOYED
from sim.walk import OutletReach, nearest_distance
from tests.conftest import small_scenario


class PlacedGrid(GridCity):
    """A grid whose outlets the test places: every category at the nodes given."""

    def __init__(self, outlet_nodes: dict[int, list[int]], homes: list[int], **kw):
        self.outlet_nodes, self.homes = outlet_nodes, homes
        super().__init__(**kw)
        self.residential_weight = np.zeros(len(self.node_xy))
        self.residential_weight[homes] = 1.0

    def initial_outlets(self, catalogue, residents, rng):
        nodes, cats = [], []
        for c in range(catalogue.n):
            for node in self.outlet_nodes.get(c, self.outlet_nodes.get(-1, [])):
                nodes.append(node)
                cats.append(c)
        return np.array(nodes), np.array(cats)


def grid(**kw) -> GridCity:
    return GridCity(blocks_x=4, blocks_y=3, block_m=100.0, commercial_share=1.0, old_block_share=0.0,
                    rng=np.random.default_rng(0), **kw)


def test_grid_distances_are_manhattan_along_streets():
    city = grid()
    # node id = iy * 5 + ix on a 5 x 4 lattice of intersections
    d = nearest_distance(city.graph, np.array([0]))
    ix, iy = np.arange(20) % 5, np.arange(20) // 5
    assert np.allclose(d, 100.0 * (ix + iy))
    assert city.area_km2 == pytest.approx(0.12)
    assert (city.graph != city.graph.T).nnz == 0  # both directions stored: walk.py relies on it


def test_reach_table_keeps_k_nearest_within_limit():
    city = grid()
    reach = OutletReach(city.graph, 1, k=2, limit_m=350.0)
    reach.add(np.array([0, 1, 2]), np.array([0, 4, 19]), np.array([0, 0, 0]))
    # node 2 (ix=2, iy=0): outlet 0 at 200 m, outlet 1 (node 4) at 200 m, outlet 2 (node 19) at 500 m > limit
    assert sorted(reach.outlet[0, 2].tolist()) == [0, 1]
    assert reach.dist_m[0, 2].tolist() == [200.0, 200.0]
    # node 18 (ix=3, iy=3): outlet 2 at 100 m; outlet 1 (node 4) at 1+3=4 blocks > limit
    assert reach.outlet[0, 18].tolist() == [2, -1]
    reach.remove(np.array([2]))
    assert reach.outlet[0, 18].tolist() == [-1, -1]


def test_coverage_and_walk_minutes_match_hand_computation():
    # Every category has one outlet at the south-west corner (node 0); residents live at nodes 0, 7, 19.
    homes = [0, 7, 19]  # 0 blocks, 2+1 = 3 blocks (300 m), 4+3 = 7 blocks (700 m)
    scenario = small_scenario(**{"population.residents": 600, "population.disabled_share": 0.0})
    city = PlacedGrid({-1: [0]}, homes, blocks_x=4, blocks_y=3, block_m=100.0, commercial_share=1.0,
                      old_block_share=0.0, rng=np.random.default_rng(0))
    model = LifeCircleModel(scenario=scenario, city=city)
    pop = model.population
    speed = np.where(pop.elderly, 60.0 * 0.75, 60.0)
    metres = np.select([pop.home == 0, pop.home == 7, pop.home == 19], [0.0, 300.0, 700.0])
    expected_minutes = metres / speed
    got = walk_minutes(model, np.array([model.catalogue.index("pharmacy")]))[:, 0]
    assert np.allclose(got, expected_minutes)
    # 15-minute coverage: adults reach 900 m (all three homes); elderly 675 m (not node 19).
    expected_15 = np.mean(~((pop.home == 19) & pop.elderly))
    assert basic_coverage(model, 15.0) == pytest.approx(expected_15)
    # 5 minutes: adults 300 m (homes 0 and 7), elderly 225 m (home 0 only).
    expected_5 = np.mean((pop.home == 0) | ((pop.home == 7) & ~pop.elderly))
    assert basic_coverage(model, 5.0) == pytest.approx(expected_5)
    # The agent view says the same as the arrays.
    someone = next(a for a in model.resident_agents.values() if a.home == 19)
    assert someone.walk_minutes_to("pharmacy") == pytest.approx(700.0 / someone.walk_speed_m_per_min)


def test_closing_an_outlet_updates_walk_times_incrementally():
    homes = [19]
    scenario = small_scenario(**{"population.residents": 50})
    city = PlacedGrid({-1: [0, 18]}, homes, blocks_x=4, blocks_y=3, block_m=100.0, commercial_share=1.0,
                      old_block_share=0.0, rng=np.random.default_rng(0))
    model = LifeCircleModel(scenario=scenario, city=city)
    c = model.catalogue.index("pharmacy")
    assert model.nearest_m[19, c] == 100.0  # node 18 is one block from node 19
    near = np.flatnonzero((model.merchants.category == c) & (model.merchants.node == 18))
    from sim.accounts import close_merchants

    close_merchants(model, near)
    assert model.nearest_m[19, c] == 700.0
    assert model.reach.outlet[c, 19, 0] == np.flatnonzero((model.merchants.category == c) & (model.merchants.node == 0))[0]
    assert (model.population.employer[model.population.status == EMPLOYED] != near[0]).all()
