"""Entry's batched site evaluation (issue 18's month end): the same answers, to the bit, as one
``expected_visits`` call per site, with the per-category rank weights and the pending rivals kept
up to date from the queue's new rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.economy import entry
from sim.model import LifeCircleModel
from sim.services import kernels
from tests.conftest import small_scenario


def _model(**updates: object) -> LifeCircleModel:
    model = LifeCircleModel(scenario=small_scenario(**updates), seed=3, create_agents=False)
    model.run_for(31)
    rng = np.random.default_rng(0)
    shops = model.shop_nodes()
    for node, category in zip(rng.choice(shops, 40), rng.integers(model.catalogue.n, size=40)):
        model.licence_queue.push(open_day=model.day + 20, node=int(node), category=int(category), applied_day=model.day)
    return model


def test_ranked_and_batched_kernels_equal_one_call_per_site():
    model = _model()
    econ, t = model.scenario.economy, model.choice_tables
    shops = model.shop_nodes()
    reach = model.nodes_within_many(shops, model.reach.limit_m)
    first = np.array([0, *np.cumsum([len(near) for near, _ in reach])], dtype=np.int64)
    near, dist = np.concatenate([n for n, _ in reach]), np.concatenate([d for _, d in reach])
    rivals = entry.rival_attraction(model)
    C = model.catalogue.n
    weights = entry.rank_weights(model)  # every trade's in one pass; the same float32 products as NumPy's
    V, S, W = t.walk.shape[0], t.walk.shape[1], t.walk.shape[3]
    products = t.walk.transpose(2, 0, 1, 3) * rivals.reshape(V, C, W).transpose(1, 0, 2)[:, :, None, :]
    assert weights.shape == (C, V, S, W) and np.array_equal(weights.view(np.int32), products.view(np.int32))
    pending = np.stack([entry.pending_distance(model, c).copy() for c in range(C)])
    assert np.isfinite(pending).any()
    mixed = np.random.default_rng(1).integers(C, size=len(reach))  # sites of every trade in one call
    for aware in (1.0, econ.initial_knowledge):
        one = np.array([[kernels.expected_visits(n, d, model.class_demand[c], t.speeds, econ.walk_minute_weight,
                                                 econ.max_walk_minutes, t.walk.reshape(-1), rivals,
                                                 model.reach.dist_m[c], pending[c], c, t.C, t.width, aware)
                         for n, d in reach] for c in range(C)])
        for c in range(C):
            sites = kernels.expected_visits_sites(first, near, dist, model.class_demand[c], t.speeds,
                                                  econ.walk_minute_weight, econ.max_walk_minutes, t.walk.reshape(-1),
                                                  rivals, model.reach.dist_m[c], pending[c], c, t.C, t.width, aware)
            assert one[c].any()
            assert np.array_equal(one[c].view(np.int64), sites.view(np.int64))
        for trades, expected in ((np.full(len(reach), 4), one[4]), (mixed, one[mixed, np.arange(len(reach))])):
            for kernel in (kernels.expected_visits_ranked, kernels.expected_visits_ranked_threads):
                got = kernel(first, near, dist, trades, model.class_demand, t.speeds, econ.walk_minute_weight,
                             econ.max_walk_minutes, weights, model.reach.dist_m, pending, aware)
                assert np.array_equal(expected.view(np.int64), got.view(np.int64))


def test_pending_distance_updated_from_new_rows_equals_a_rebuild():
    model = _model()
    limit = model.reach.limit_m
    shops = model.shop_nodes()

    def rebuilt(category: int) -> np.ndarray:
        dist = np.full(model.city.graph.shape[0], np.inf)
        for v in model.licence_queue.nodes_of(category):
            nodes, d = model.nodes_within(int(v), limit)
            dist[nodes] = np.minimum(dist[nodes], d)
        return dist

    category = int(model.licence_queue.category[0])
    assert np.array_equal(entry.pending_distance(model, category), rebuilt(category))
    for node in shops[:5]:  # pushes: brought up to date from the new rows
        model.licence_queue.push(open_day=model.day + 20, node=int(node), category=category, applied_day=model.day)
        assert np.array_equal(entry.pending_distance(model, category), rebuilt(category))
    model.licence_queue.pop_due(model.day + 20)  # removals: rebuilt from the whole queue
    model.licence_queue.push(open_day=model.day + 30, node=int(shops[-1]), category=category, applied_day=model.day)
    assert np.array_equal(entry.pending_distance(model, category), rebuilt(category))
    assert np.isfinite(entry.pending_distance(model, category)).any()


@pytest.mark.parametrize("hurdle", [0.2, 0.6, 1.0])
def test_entrants_weighed_in_windows_equal_one_by_one(hurdle):
    """Month entry weighs would-be entrants a window at a time, ahead of those that pass
    (:func:`entry._weigh_arrivals`): the same entrants queue at the same sites in the same order,
    and the entry stream ends where weighing them one by one (:func:`entry._consider`) leaves it."""
    def weighed(windows: bool) -> tuple[LifeCircleModel, np.random.Generator]:
        model = _model(**{"economy.entry_hurdle": hurdle})
        rng, shops = np.random.default_rng(11), model.shop_nodes()
        categories = np.random.default_rng(12).integers(model.catalogue.n, size=700).tolist()
        entry._ENTRY_TABLES[model] = {}  # the month end's rank tables, as month_entry sets them
        try:
            if windows:
                entry._weigh_arrivals(model, categories, rng, shops)
            else:
                for category in categories:
                    entry._consider(model, category, founder=-1, subsidy=0, rng=rng, shops=shops)
        finally:
            entry._ENTRY_TABLES.pop(model, None)
        return model, rng

    (ahead, rng_ahead), (alone, rng_alone) = weighed(True), weighed(False)
    queued = len(alone.licence_queue) - 40
    assert 0 < queued < 700 * 0.9  # entrants passed and failed
    for key in entry.QUEUE_COLUMNS:
        assert getattr(ahead.licence_queue, key) == getattr(alone.licence_queue, key), key
    assert rng_ahead.bit_generator.state == rng_alone.bit_generator.state


def test_entrants_weigh_rivals_as_residents_saw_them_that_day():
    """Entrants weigh their rivals at the attraction residents saw at the day's first choice (price
    and the day before's crowding), full outlets included: the day's second try weighs those at 0
    without writing the tables. An outlet that has closed since counts for nothing."""
    model = LifeCircleModel(scenario=small_scenario(), seed=3, create_agents=False)
    model.run_for(40)
    mer, tables = model.merchants, model.choice_tables
    mer.capacity[mer.open_ids()[::4]] = 1  # a quarter of the outlets fill up today
    load_before = mer.load_today.copy()
    model.step()
    assert np.array_equal(mer.load_yesterday, load_before)  # the load that set the day's crowding
    typical = np.maximum(model.catalogue.spend_fen[np.maximum(mer.category, 0)], 1)
    econ = model.scenario.economy
    seen = np.where(mer.open, np.exp(-econ.price_weight * (mer.price / typical - 1)
                                     - econ.crowding_weight * np.minimum(load_before, 2.0)), 0.0).astype(np.float32)
    outlet = tables.outlet.reshape(-1)
    rivals = entry.rival_attraction(model)
    assert np.array_equal(rivals, np.where(outlet >= 0, seen[outlet], 0).astype(np.float32))
    full = mer.open & (model.outlet_buffers.visits >= mer.capacity)
    assert full.any() and np.isin(outlet, np.flatnonzero(full)).any()  # the day had full outlets ...
    buf = model.day_buffers
    assert np.count_nonzero(buf.visit2[:buf.need_first[-1]])  # ... and a second try that found places
    assert np.array_equal(tables.attraction, rivals)  # the tables are the first choice's
    # An outlet that closes is no rival, and its ranks go to the outlets that move up.
    closing = mer.open_ids()[:3]
    mer.open[closing] = False
    model.on_outlets_closed(closing)
    outlet = tables.outlet.reshape(-1)
    rivals = entry.rival_attraction(model)
    assert not np.isin(outlet, closing).any()
    assert np.array_equal(rivals, np.where(outlet >= 0, seen[outlet], 0).astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bound=st.integers(1, 2**32), viewed=st.integers(1, 8),
       entrants=st.integers(1, 80), kind=st.sampled_from(["PCG64", "SFC64", "Philox"]))
def test_a_window_of_premises_in_one_draw_equals_one_entrant_after_another(seed, bound, viewed, entrants, kind):
    """What :func:`entry._weigh_arrivals` relies on: NumPy's bounded integers below 2**32 take one
    32-bit output of the generator after another whatever the calls, so ``entrants`` draws of
    ``viewed`` are one draw of ``entrants * viewed``, and leave the stream in the same state; the
    same through the premises helper, over a list of shop nodes."""
    def generator() -> np.random.Generator:
        return np.random.Generator(getattr(np.random, kind)(seed))

    one_by_one, at_once = generator(), generator()
    draws = np.concatenate([one_by_one.integers(bound, size=viewed) for _ in range(entrants)])
    assert np.array_equal(draws, at_once.integers(bound, size=viewed * entrants))
    assert repr(one_by_one.bit_generator.state) == repr(at_once.bit_generator.state)
    shops = np.arange(min(bound, 50_000), dtype=np.int64) * 7 + 3
    one_by_one, at_once = generator(), generator()
    premises = np.concatenate([entry._premises(one_by_one, shops, viewed) for _ in range(entrants)])
    assert np.array_equal(premises, entry._premises(at_once, shops, viewed * entrants))
    assert repr(one_by_one.bit_generator.state) == repr(at_once.bit_generator.state)
