"""Known answers: walking distances and coverage on a tiny grid, computed by hand."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from sim.services.catalogue import load_catalogue
from sim.city.grid import GridCity, edges_to_graph
from sim.metrics.indicators import basic_coverage, compute, walk_minutes
from sim.model import LifeCircleModel
from sim.economy.population import EMPLOYED
from sim.city import walk
from sim.city.walk import OutletReach, nearest_distance, reach_of
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


def lexsort_nearest(graph, outlets, nodes, n_nodes: int, k: int, limit_m: float):
    """Reference: the ``k`` nearest of ``outlets`` (at ``nodes``) for every node, by one lexsort of
    all their reach entries on (node, distance, outlet id) -- the original, uncompiled method."""
    outlet = np.full((n_nodes, k), -1, dtype=np.int32)
    dist_m = np.full((n_nodes, k), np.inf, dtype=np.float32)
    if len(outlets) == 0:
        return outlet, dist_m
    reach = reach_of(graph, nodes, limit_m)
    node = np.concatenate([r[0] for r in reach])
    dist = np.concatenate([r[1] for r in reach])
    who = np.repeat(np.asarray(outlets, dtype=np.int32), [len(r[0]) for r in reach])
    order = np.lexsort((who, dist, node))
    node, dist, who = node[order], dist[order], who[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    rank = np.arange(len(node)) - np.maximum.accumulate(np.where(first, np.arange(len(node)), 0))
    keep = rank < k
    outlet[node[keep], rank[keep]] = who[keep]
    dist_m[node[keep], rank[keep]] = dist[keep]
    return outlet, dist_m


def tie_grid(side: int) -> sp.csr_array:
    """A square lattice with every edge 100 m: many nodes are equally far from several outlets."""
    node = np.arange(side * side).reshape(side, side)
    edges = np.vstack([np.column_stack([node[:, :-1].ravel(), node[:, 1:].ravel()]),
                       np.column_stack([node[:-1, :].ravel(), node[1:, :].ravel()])])
    return edges_to_graph(edges, np.full(len(edges), 100.0), side * side)


def random_graph(n: int, rng: np.random.Generator) -> sp.csr_array:
    """A random connected graph (a chain plus random chords), lengths whole tens of metres (ties)."""
    chords = rng.integers(0, n, (2 * n, 2))
    edges = np.vstack([np.column_stack([np.arange(n - 1), np.arange(1, n)]), chords])
    return edges_to_graph(edges, 10.0 * rng.integers(5, 15, len(edges)), n)


def scipy_reach(graph, nodes, limit_m: float):
    """Reference: scipy's Dijkstra with a limit, one dense row per source (the original method)."""
    rows = np.atleast_2d(dijkstra(graph, directed=True, indices=np.asarray(nodes), limit=limit_m))
    return [(np.flatnonzero(np.isfinite(r)).astype(np.int32), r[np.isfinite(r)].astype(np.float32)) for r in rows]


@pytest.mark.parametrize("seed", range(6))
def test_bounded_search_equals_scipy_dijkstra_bit_for_bit(seed):
    """reach_of's bounded search gives scipy's nodes and float32 distances exactly, on graphs with
    irrational lengths (rounding differs with the order of sums), whole-metre lengths (ties), a
    node exactly at the limit (within), sparse and dense neighbourhoods (sorted or scanned)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    chords = rng.integers(0, n, (int(rng.integers(0, 3 * n)), 2))
    edges = np.vstack([np.column_stack([np.arange(n - 1), np.arange(1, n)]), chords])
    lengths = rng.uniform(0.01, 150.0, len(edges)) if seed % 2 else rng.integers(1, 60, len(edges)).astype(float)
    graph = edges_to_graph(edges, lengths, n)
    sources = rng.integers(0, n, 12)
    exact = float(dijkstra(graph, directed=True, indices=int(sources[0]))[n // 2])  # a node at the limit
    for limit in (0.0, 35.0, 400.0, exact, np.inf):
        got, want = reach_of(graph, sources, limit), scipy_reach(graph, sources, limit)
        for (gn, gd), (wn, wd) in zip(got, want, strict=True):
            assert gn.dtype == np.int32 and gd.dtype == np.float32
            assert np.array_equal(gn, wn) and np.array_equal(gd, wd)
    # the kernel put its scratch back: a second call answers the same
    again = reach_of(graph, sources, 400.0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(again, scipy_reach(graph, sources, 400.0)))


def test_many_searches_shared_among_threads_answer_as_one_thread(monkeypatch):
    """A day's openings search from many sources at once: on two threads (sources dealt out in turn,
    each thread its own scratch) the answers, in the order asked, are scipy's, as on one thread."""
    rng = np.random.default_rng(7)
    n = 300
    chords = rng.integers(0, n, (600, 2))
    edges = np.vstack([np.column_stack([np.arange(n - 1), np.arange(1, n)]), chords])
    graph = edges_to_graph(edges, rng.uniform(1.0, 90.0, len(edges)), n)
    sources = rng.integers(0, n, 3 * walk.PARALLEL_SEARCHES + 5)  # repeats included
    want = scipy_reach(graph, sources, 250.0)
    before = numba.get_num_threads()
    try:
        for threads in ("1", "2"):
            monkeypatch.setenv("LIFECIRCLE_THREADS", threads)
            assert walk._threads_for(len(sources)) == min(int(threads), numba.config.NUMBA_NUM_THREADS)
            got = reach_of(graph, sources, 250.0)
            assert len(got) == len(want)
            for (gn, gd), (wn, wd) in zip(got, want, strict=True):
                assert np.array_equal(gn, wn) and np.array_equal(gd, wd)
    finally:
        numba.set_num_threads(before)


def test_bounded_search_on_a_large_sparse_network_sorts_its_few_nodes():
    """A 20,000-node chain: a 5-edge neighbourhood is far below a sixteenth of the network (the
    sorted path); nodes come back ascending with the chain's distances."""
    n = 20_000
    graph = edges_to_graph(np.column_stack([np.arange(n - 1), np.arange(1, n)]), np.full(n - 1, 10.0), n)
    (nodes, dist), = reach_of(graph, [10_000], 20.0)
    assert nodes.tolist() == [9_998, 9_999, 10_000, 10_001, 10_002]
    assert dist.tolist() == [20.0, 10.0, 0.0, 10.0, 20.0]


@pytest.mark.parametrize("k", [1, 4, 8])
@pytest.mark.parametrize("network", ["grid", "random"])
def test_compiled_reach_tables_equal_lexsort_reference(k, network):
    """Openings (inserted into the tables) and closures (category rebuilt; several categories on
    one thread or side by side on two) in random order give exactly the tables of a from-scratch
    lexsort, ties and empty slots included; ``version`` goes up once per category touched."""
    rng = np.random.default_rng(k)
    graph = tie_grid(12) if network == "grid" else random_graph(150, rng)
    n, n_cat, limit = graph.shape[0], 3, 450.0
    reach = OutletReach(graph, n_cat, k=k, limit_m=limit)
    node_of, cat_of, is_open, next_id, side_by_side = {}, {}, set(), 0, 0
    for step in range(60):
        closing = step % 3 == 2 and len(is_open) > 0
        if closing:
            ids = rng.choice(sorted(is_open), size=min(len(is_open), int(rng.integers(1, 6))), replace=False)
            before = reach.version
            threads = 2 if step % 2 else 1
            side_by_side += threads > 1 and len({cat_of[int(o)] for o in ids}) > 1
            reach.remove(ids, threads=threads)
            is_open -= set(ids.tolist())
            assert reach.version == before + len({cat_of[int(o)] for o in ids})
        else:
            m = int(rng.integers(1, 8))
            # new ids, and now and then a closed outlet reopening (elsewhere) under its old id
            closed = sorted(set(node_of) - is_open)
            reused = [o for o in closed if rng.random() < 0.2][:m]
            ids = np.array(reused + list(range(next_id, next_id + m - len(reused))), dtype=np.int64)
            next_id += m - len(reused)
            rng.shuffle(ids)
            # several outlets often share a node, so their distances tie everywhere
            nodes = rng.integers(0, n, m) if rng.random() < 0.5 else np.full(m, rng.integers(0, n))
            cats = rng.integers(0, n_cat, m)
            for o, v, c in zip(ids.tolist(), nodes.tolist(), cats.tolist()):
                node_of[o], cat_of[o] = v, c
            before = reach.version
            reach.add(ids, nodes, cats)
            is_open |= set(ids.tolist())
            assert reach.version == before + len(set(cats.tolist()))
        for c in range(n_cat):
            members = sorted(o for o in is_open if cat_of[o] == c)
            want_o, want_d = lexsort_nearest(graph, members, [node_of[o] for o in members], n, k, limit)
            assert np.array_equal(reach.outlet[c], want_o), (step, c)
            assert np.array_equal(reach.dist_m[c], want_d), (step, c)
    assert side_by_side > 0  # some closures rebuilt two categories at once
    # ties really occurred: some node holds two outlets at the same distance
    d = reach.dist_m
    assert k == 1 or (np.isfinite(d[..., 1:]) & (d[..., 1:] == d[..., :-1])).any()
    # a full rebuild from the cache changes nothing
    tables = reach.outlet.copy(), reach.dist_m.copy()
    for c in range(n_cat):
        reach._rebuild(c)
    assert np.array_equal(reach.outlet, tables[0]) and np.array_equal(reach.dist_m, tables[1])


def test_adding_an_open_outlet_again_replaces_it():
    graph = tie_grid(6)
    reach = OutletReach(graph, 2, k=3, limit_m=300.0)
    reach.add(np.array([0, 1, 2]), np.array([0, 7, 35]), np.array([0, 0, 1]))
    reach.add(np.array([1]), np.array([20]), np.array([1]))  # outlet 1 moves to node 20, category 1
    for c, members, nodes in [(0, [0], [0]), (1, [1, 2], [20, 35])]:
        want_o, want_d = lexsort_nearest(graph, members, nodes, 36, 3, 300.0)
        assert np.array_equal(reach.outlet[c], want_o) and np.array_equal(reach.dist_m[c], want_d)


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


def test_coverage_tiers_follow_each_category_s_own_tier():
    # 5-minute categories (convenience store, parcel point) at node 0; every other category at node
    # 4 (400 m east). Residents at node 0 (0 m / 400 m) and node 3 (300 m / 100 m); adults only.
    cat = load_catalogue()
    five = [c for c in range(cat.n) if cat.tier_minutes[c] <= 5]
    assert {cat.names[c] for c in five} == {"convenience_store", "parcel_point"}
    placed = {c: ([0] if c in five else [4]) for c in range(cat.n)}
    scenario = small_scenario(**{"population.residents": 400, "population.disabled_share": 0.0,
                                 "population.elderly_share": 0.0})
    city = PlacedGrid(placed, [0, 3], blocks_x=4, blocks_y=3, block_m=100.0, commercial_share=1.0,
                      old_block_share=0.0, rng=np.random.default_rng(0))
    model = LifeCircleModel(scenario=scenario, city=city)
    at_0 = float(np.mean(model.population.home == 0))
    assert 0.3 < at_0 < 0.7
    # 5 minutes (300 m): only the 5-minute tier counts -- both homes reach node 0.
    assert basic_coverage(model, 5.0) == pytest.approx(1.0)
    # 10 minutes (600 m): tiers 5 and 10 -- node 0 reaches node 4 (400 m), node 3 too (100 m).
    assert basic_coverage(model, 10.0) == pytest.approx(1.0)
    # Each category within its own tier: node 0 has the 10-minute categories at 400 m (6.7 min,
    # within 10) but node 3 has node 0's convenience store 300 m away (5 min: just within).
    values = compute(model, ["basic_coverage_tiered"])
    assert values["basic_coverage_tiered"] == pytest.approx(1.0)
    # The 5-minute categories 400 m from node 0 (6.7 minutes) and 100 m from node 3, the others at 0.
    model3 = LifeCircleModel(scenario=scenario, city=PlacedGrid(
        {c: ([4] if c in five else [0]) for c in range(cat.n)}, [0, 3], blocks_x=4, blocks_y=3, block_m=100.0,
        commercial_share=1.0, old_block_share=0.0, rng=np.random.default_rng(0)))
    at_0 = float(np.mean(model3.population.home == 0))
    assert basic_coverage(model3, 5.0) == pytest.approx(1 - at_0)
    assert compute(model3, ["basic_coverage_tiered"])["basic_coverage_tiered"] == pytest.approx(1 - at_0)
    # 10 and 15 minutes: every home reaches everything (at most 400 m).
    assert basic_coverage(model3, 10.0) == pytest.approx(1.0) == basic_coverage(model3, 15.0)


def test_closing_an_outlet_updates_walk_times_incrementally():
    homes = [19]
    scenario = small_scenario(**{"population.residents": 50})
    city = PlacedGrid({-1: [0, 18]}, homes, blocks_x=4, blocks_y=3, block_m=100.0, commercial_share=1.0,
                      old_block_share=0.0, rng=np.random.default_rng(0))
    model = LifeCircleModel(scenario=scenario, city=city)
    c = model.catalogue.index("pharmacy")
    assert model.nearest_m[19, c] == 100.0  # node 18 is one block from node 19
    near = np.flatnonzero((model.merchants.category == c) & (model.merchants.node == 18))
    from sim.economy.accounts import close_merchants

    close_merchants(model, near)
    assert model.nearest_m[19, c] == 700.0
    assert model.reach.outlet[c, 19, 0] == np.flatnonzero((model.merchants.category == c) & (model.merchants.node == 0))[0]
    assert (model.population.employer[model.population.status == EMPLOYED] != near[0]).all()


@pytest.mark.parametrize("scenario_name", ["baseline", "full_plan"])
def test_choice_tables_updated_row_by_row_equal_a_full_rebuild(scenario_name):
    """Openings and closures update only the nodes whose k nearest changed (mobile vendors'
    moves every node of their categories): after a year of churn the tables are what a
    rebuild of every row of every category gives, bit for bit."""
    from tests.conftest import SCENARIOS, SMALL
    from sim.scenario import load_scenario

    model = LifeCircleModel(scenario=load_scenario(SCENARIOS / f"{scenario_name}.toml",
                                                   updates={**SMALL, "years": 1.0}), create_agents=False)
    start = model.merchants.n
    model.run_for(365)
    assert model.merchants.n > start and not model.merchants.open.all()  # outlets opened and closed
    tables = model.choice_tables
    walk, outlet = tables.walk.copy(), tables.outlet.copy()
    econ = model.scenario.economy
    tables.update(np.arange(model.catalogue.n), model.reach, econ.walk_minute_weight, econ.max_walk_minutes)
    assert np.array_equal(tables.outlet, outlet)
    assert np.array_equal(tables.walk, walk)


@pytest.mark.parametrize("seed", range(6))
def test_nearest_distances_of_many_sets_equal_scipy_bit_for_bit(seed, monkeypatch):
    """The compiled multi-source search (each category's set of open outlets, sets shared among
    threads) gives scipy's float64 distances exactly: irrational and whole-metre lengths (ties),
    a network in two parts (inf beyond), empty sets and repeated sources, on one thread and two."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 600))
    chords = rng.integers(0, n, (int(rng.integers(0, 3 * n)), 2))
    edges = np.vstack([np.column_stack([np.arange(n - 1), np.arange(1, n)]), chords])
    lengths = rng.uniform(0.01, 150.0, len(edges)) if seed % 2 else rng.integers(1, 60, len(edges)).astype(float)
    if seed >= 4:  # two parts: drop the chain's middle link and every chord across it
        half = n // 2
        keep = (np.minimum(edges[:, 0], edges[:, 1]) >= half) | (np.maximum(edges[:, 0], edges[:, 1]) < half)
        edges, lengths = edges[keep], lengths[keep]
    graph = edges_to_graph(edges, lengths, n)
    sets = [rng.integers(0, n, int(rng.integers(0, 12))) for _ in range(5)] + [np.array([0, 0, 0])]
    want = np.array([nearest_distance(graph, s) for s in sets])
    before = numba.get_num_threads()
    try:
        for threads in ("1", "2"):
            monkeypatch.setenv("LIFECIRCLE_THREADS", threads)
            got = walk.nearest_distances(graph, sets)
            assert got.dtype == np.float64 and np.array_equal(got, want)
    finally:
        numba.set_num_threads(before)
    assert np.isinf(want[-1]).any() == (seed >= 4)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["irrational", "whole", "zeros"]), st.booleans())
def test_nearest_outlets_kept_up_to_date_equal_a_search_from_scratch_bit_for_bit(seed, kind, two_parts):
    """Outlets open and close month after month (one trade or several at once; a trade's last
    outlet closing; all at one node; sources repeated): the distances kept up to date equal
    nearest_distances from scratch to the bit, with ties (whole-metre lengths), zero-length edges
    and a network in two parts."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    chords = rng.integers(0, n, (int(rng.integers(0, 3 * n)), 2))
    edges = np.vstack([np.column_stack([np.arange(n - 1), np.arange(1, n)]), chords])
    edges = edges[edges[:, 0] != edges[:, 1]]
    if kind == "irrational":
        lengths = rng.uniform(0.01, 150.0, len(edges))
    else:
        lengths = rng.integers(1 if kind == "whole" else 0, 8, len(edges)).astype(float)
    if two_parts:
        half = n // 2
        keep = (np.minimum(edges[:, 0], edges[:, 1]) >= half) | (np.maximum(edges[:, 0], edges[:, 1]) < half)
        edges, lengths = edges[keep], lengths[keep]
    graph = edges_to_graph(edges, lengths, n)
    C = 3
    kept = walk.NearestOutlets(graph, C)
    sources = [rng.integers(0, n, int(rng.integers(0, 6))) for _ in range(C)]
    for month in range(8):
        cats = np.flatnonzero(rng.random(C) < 0.7) if month else np.arange(C)
        for c in cats:
            s = sources[c]
            stay = s[rng.random(len(s)) < rng.uniform(0.3, 1.0)]
            new = rng.integers(0, n, int(rng.integers(0, 4)))
            sources[c] = np.concatenate([stay, new, stay[:1]])  # repeats too
        if len(cats) == 0:
            continue
        rows = kept.update(cats, [sources[c] for c in cats])
        want = walk.nearest_distances(graph, [sources[c] for c in cats])
        assert np.array_equal(rows, want)
        assert np.array_equal(kept.dist, walk.nearest_distances(graph, sources))
