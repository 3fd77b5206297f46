"""The blocked daily passes (issue 18): results independent of the thread count, the same draws as
the unblocked passes for a population of one block, and the capacity rule kept across blocks."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli import build_parser
from sim.services import blocks, fastrng, kernels
from tests.conftest import ROOT

_CHILD = """
import hashlib, json
from sim.model import LifeCircleModel
from sim.scenario import load_scenario
from sim.services import blocks
from tests.conftest import SCENARIOS, SMALL
out = {"threads": blocks.use_threads()}
for name in ("baseline", "full_plan"):  # every lever on in full_plan (lockers, platform, ...)
    # 2,000 residents on 6 x 6 blocks for 45 days of a 2-month run: a month end (entry, word of mouth) included.
    scenario = load_scenario(SCENARIOS / f"{name}.toml", updates={**SMALL, "years": 2 / 12})
    model = LifeCircleModel(scenario=scenario, create_agents=False)
    model.run_for(45)
    digest = hashlib.sha256(model.timeseries().to_csv().encode())
    for array in (model.ledger.resident_cash, model.ledger.merchant_cash, model.population.knows,
                  model.merchants.open, model.merchants.visits_month, model.unmet_this_month,
                  model.day_buffers.chosen, model.day_buffers.outcome, model.day_buffers.served):
        digest.update(array.tobytes())
    out[name] = digest.hexdigest()
    out[name + "_blocks"] = model.day_buffers.n_blocks
print(json.dumps(out))
"""


def _run_child(threads: int, block: int) -> dict[str, object]:
    env = {**os.environ, "LIFECIRCLE_THREADS": str(threads), "LIFECIRCLE_BLOCK_RESIDENTS": str(block),
           "NUMBA_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}  # two threads even on a one-core machine
    out = subprocess.run([sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_results_on_one_thread_and_two_with_many_blocks():
    one, two = _run_child(1, 250), _run_child(2, 250)
    assert (one["threads"], two["threads"]) == (1, 2)
    assert one["baseline_blocks"] == 8 and one["full_plan_blocks"] == 8  # 2,000 residents in blocks of 250
    assert one["baseline"] == two["baseline"]
    assert one["full_plan"] == two["full_plan"]


_BLAS_CHILD = """
import json
import numpy as np
from sim.metrics import indicators
rng = np.random.default_rng(5)
out = {}
for n in (52_000, 400_000, 1_000_000):  # home groups and households of cities up to 1,000,000 residents
    values, weights = rng.random(n) * 4000.0, rng.integers(1, 6, n)
    out[n] = [indicators._weighted_mean(values, weights).hex(), indicators.gini(values).hex(),
              float(weights @ values).hex()]  # the last: the BLAS dot product they used
print(json.dumps(out))
"""


def test_indicator_sums_are_the_same_on_any_number_of_blas_threads():
    """Weighted means and the Gini are NumPy's own sums, not the BLAS's dot product, whose long
    sums are split among its threads and so change in the last bits with their number: the same
    figures on a laptop and a cluster node."""
    runs = []
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", _BLAS_CHILD], check=True, capture_output=True, text=True,
                             cwd=ROOT, env=env)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    one, two = runs
    assert [v[:2] for v in one.values()] == [v[:2] for v in two.values()]
    assert any(one[n][2] != two[n][2] for n in one)  # the dot product itself does change: the check can fail


def test_block_states_first_row_is_the_unblocked_state():
    for n_blocks in (1, 2, 5):
        rng = np.random.default_rng(7)
        states = fastrng.block_states(rng, n_blocks)
        reference = np.random.default_rng(7)
        assert np.array_equal(states[0], fastrng.seed_state(reference))
        assert states.shape == (n_blocks, 4) and len({tuple(row) for row in states}) == n_blocks
        # Every row is what successive seed_state calls draw (one bulk draw for speed).
        successive = np.random.default_rng(7)
        assert np.array_equal(states, [fastrng.seed_state(successive) for _ in range(n_blocks)])
        if n_blocks == 1:  # nothing more drawn: the stream continues as after seed_state
            assert rng.integers(1 << 62) == reference.integers(1 << 62)


def test_resident_blocks_cover_the_population_in_fixed_sizes(monkeypatch):
    monkeypatch.setattr(blocks, "RESIDENT_BLOCK", 100)
    assert blocks.resident_blocks(250).tolist() == [0, 100, 200, 250]
    assert blocks.resident_blocks(200).tolist() == [0, 100, 200]
    assert blocks.resident_blocks(0).tolist() == [0, 0]


def test_threads_option_and_variable_are_checked(monkeypatch):
    assert build_parser().parse_args(["run", "x.toml", "--threads", "3"]).threads == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "x.toml", "--threads", "0"])
    monkeypatch.setenv(blocks.THREADS_VARIABLE, "two")
    with pytest.raises(ValueError, match="whole number"):
        blocks.threads_wanted()
    monkeypatch.setenv(blocks.THREADS_VARIABLE, "1")
    assert blocks.threads_wanted() == 1


def test_small_populations_run_their_daily_passes_on_one_thread_by_default(monkeypatch):
    import numba

    cores = numba.config.NUMBA_NUM_THREADS
    monkeypatch.delenv(blocks.THREADS_VARIABLE, raising=False)
    try:
        assert blocks.use_threads(blocks.THREADED_BLOCKS - 1) == 1  # the daily passes of a small population
        assert blocks.use_threads(blocks.THREADED_BLOCKS) == cores
        assert blocks.use_threads(blocks.THREADED_BLOCKS - 1) == 1
        assert blocks.use_threads() == cores  # other compiled work (searches, entry's sites): every core
        monkeypatch.setenv(blocks.THREADS_VARIABLE, "2")
        assert blocks.use_threads(blocks.THREADED_BLOCKS - 1) == min(2, cores)  # asked for: honoured
    finally:
        numba.set_num_threads(cores)


def _needs(seed: int, n_residents: int, n_outlets: int):
    """A day of needs in resident order: resident ids, chosen outlets (-1: none), the blocks' first needs."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n_residents)
    res = np.repeat(np.arange(n_residents), counts).astype(np.int32)
    chosen = rng.integers(-1, n_outlets, len(res)).astype(np.int32)
    return rng, res, chosen


def _settle_blocked(res, chosen, need_first, cash, capacity, price, states):
    E, M = len(res), len(capacity)
    B = len(need_first) - 1
    served, visit, delivered = np.zeros(E, bool), np.zeros(E, bool), np.zeros(E, bool)
    outcome = np.zeros(E, np.uint8)
    demand, visits, walk_ins, takings = (np.zeros(M, np.int64) for _ in range(4))
    rcash, mcash, met = cash.copy(), np.zeros(M, np.int64), np.zeros(1, np.int64)
    kernels.want_visits_blocks(need_first, res, chosen, served, delivered, False, 0, price, rcash, visit, demand,
                               outcome, np.zeros((B, M), np.int64))
    wanted = demand.copy()
    walk, _ = kernels.settle_visits_blocks(
        states, need_first, res, chosen, served, delivered, False, price, np.zeros(M, np.int16), capacity, rcash,
        mcash, -1, 0, visit, demand, visits, walk_ins, takings, met, outcome, np.zeros(E, np.int32),
        np.zeros(E, np.float64), np.zeros(E, np.int32), np.zeros(E, np.float64), np.zeros((B, M), np.int64),
        np.zeros((B, M), np.int64), np.zeros(B, np.int64))
    return dict(wanted=wanted, served=served, visit=visit, outcome=outcome, visits=visits, rcash=rcash, mcash=mcash,
                walk=walk, met=met)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_blocks=st.integers(1, 6))
def test_blocked_capacity_keeps_exactly_the_places_and_conserves_money(seed, n_blocks):
    rng, res, chosen = _needs(seed, 60, 5)
    first = np.linspace(0, 60, n_blocks + 1).astype(np.int64)
    need_first = np.searchsorted(res, first).astype(np.int64)  # needs are in resident order
    cash = rng.integers(0, 3000, 60).astype(np.int64)
    capacity = rng.integers(0, 12, 5).astype(np.int32)
    price = rng.integers(100, 1500, 5).astype(np.int64)
    got = _settle_blocked(res, chosen, need_first, cash, capacity, price,
                          fastrng.block_states(np.random.default_rng(seed), n_blocks))
    # An outlet serves min(wanted, capacity) visits, whatever the blocks; money moves, none is made.
    assert np.array_equal(got["visits"], np.minimum(got["wanted"], capacity))
    assert got["served"].sum() == got["visits"].sum() == got["met"][0]
    assert np.array_equal(got["visit"], got["served"])
    assert np.all((got["outcome"] == kernels.TURNED_AWAY) <= (chosen >= 0))
    assert cash.sum() - got["rcash"].sum() == got["mcash"].sum() == got["walk"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_one_block_draws_what_the_unblocked_passes_draw(seed):
    """Every blocked pass with one block gives the unblocked pass's results, bit for bit."""
    rng, res, chosen = _needs(seed, 40, 4)
    E, M = len(res), 4
    cash = rng.integers(0, 2500, 40).astype(np.int64)
    capacity = rng.integers(0, 10, M).astype(np.int32)
    price = rng.integers(100, 1500, M).astype(np.int64)
    blocked = _settle_blocked(res, chosen, np.array([0, E], np.int64), cash, capacity, price,
                              fastrng.block_states(np.random.default_rng(seed), 1))
    served, visit, delivered = np.zeros(E, bool), np.zeros(E, bool), np.zeros(E, bool)
    outcome = np.zeros(E, np.uint8)
    demand, visits, walk_ins, takings = (np.zeros(M, np.int64) for _ in range(4))
    rcash, mcash, met = cash.copy(), np.zeros(M, np.int64), np.zeros(1, np.int64)
    kernels.want_visits(E, res, chosen, served, delivered, False, 0, price, rcash, visit, demand, outcome)
    kernels.settle_visits(fastrng.seed_state(np.random.default_rng(seed)), E, res, chosen, served, delivered, False,
                          price, np.zeros(M, np.int16), capacity, rcash, mcash, -1, 0, visit, demand, visits, walk_ins,
                          takings, met, outcome)
    for name, value in dict(served=served, visit=visit, outcome=outcome, visits=visits, rcash=rcash, mcash=mcash).items():
        assert np.array_equal(blocked[name], value), name

    # Needs: counts and slots, and word of mouth.
    from sim.services.demand import NeedRates

    rates = NeedRates([np.array([0.3, 0.6, 1.1]), np.array([0.9, 0.2, 0.4])], np.array([0.1, 0.0, 0.3]))
    group = rng.integers(0, 2, 300).astype(np.uint8)
    state = fastrng.seed_state(np.random.default_rng(seed))
    states = fastrng.block_states(np.random.default_rng(seed), 1)
    first = np.array([0, 300], np.int64)
    counts, counts_b, block_needs = np.zeros(300, np.uint8), np.zeros(300, np.uint8), np.zeros(1, np.int64)
    E = kernels.count_needs(state, group, rates.count_table, counts)
    kernels.count_needs_blocks(states, first, group, rates.count_table, counts_b, block_needs)
    assert block_needs[0] == E and np.array_equal(counts, counts_b)
    a = [np.zeros(E + 4, np.int32), np.zeros(E + 4, np.int32), np.zeros(E + 4, bool)]
    b = [np.zeros(E + 4, np.int32), np.zeros(E + 4, np.int32), np.zeros(E + 4, bool)]
    slots, block_slots = np.zeros(6, np.int64), np.zeros((1, 6), np.int64)
    kernels.fill_needs(state, group, counts, rates.slot_table, 3, *a, slots)
    kernels.fill_needs_blocks(states, first, np.array([0, E], np.int64), group, counts, rates.slot_table, 3, *b,
                              block_slots)
    assert all(np.array_equal(x[:E], y[:E]) for x, y in zip(a, b)) and np.array_equal(slots, block_slots[0])
    assert np.array_equal(state, states[0])  # both generators end in the same state
    table = fastrng.pack_alias(np.array([0.5, 1.0, 1.0, 1.0]), np.array([1, 1, 2, 3]))[None, :]
    knows = rng.integers(0, 4, 300 * 2).astype(np.uint8)
    knows_b = knows.copy()
    kernels.learn_bits(fastrng.seed_state(np.random.default_rng(seed + 1)), knows, table)
    kernels.learn_bits_blocks(fastrng.block_states(np.random.default_rng(seed + 1), 1), first, 2, knows_b, table)
    assert np.array_equal(knows, knows_b)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_blocks=st.integers(1, 5), places=st.integers(0, 30))
def test_blocked_day_close_equals_the_unblocked_one_for_any_blocks(seed, n_blocks, places):
    """Volunteers (one stream, in need order) and the day's counts: the same with any blocks."""
    rng, res, _ = _needs(seed, 50, 1)
    E, C, care = len(res), 3, 1
    home = np.sort(rng.integers(0, 8, 50)).astype(np.int32)  # residents in home-node order
    cats = rng.integers(0, C, E).astype(np.int32)
    night = rng.random(E) < 0.3
    outcome = rng.integers(0, 3, E).astype(np.uint8)
    poor = rng.random(50) < 0.3
    first = np.linspace(0, 50, n_blocks + 1).astype(np.int64)
    need_first = np.searchsorted(res, first).astype(np.int64)
    results = []
    for blocked in (False, True):
        served = rng.random(E) < 0.6 if not results else results[0]["served0"].copy()
        served0 = served.copy()
        counts = [np.zeros(C, np.int64) for _ in range(5)]
        unmet_at = np.zeros(8 * C, np.int64)
        waiting = kernels.count_waiting(E, cats, served, care)
        state = fastrng.seed_state(np.random.default_rng(seed))
        if blocked:
            assert kernels.count_waiting_blocks(need_first, cats, served, care) == waiting
            helped, n_poor, poor_met = kernels.close_day_blocks(
                state, need_first, res, cats, night, served, outcome, home, C, care, places, waiting, counts[0],
                counts[1], counts[2], counts[3], unmet_at, counts[4], poor, np.zeros((n_blocks, 4, C), np.int64),
                np.zeros(E, np.int32))
            assert n_poor == poor[res].sum() and poor_met == (poor[res] & served).sum()
        else:
            helped = kernels.close_day(state, E, res, cats, night, served, outcome, home, C, care, places, waiting,
                                       *counts[:4], unmet_at, counts[4])
        results.append(dict(served0=served0, served=served, helped=helped, counts=counts, unmet_at=unmet_at,
                            state=state))
    serial, blocked = results
    assert serial["helped"] == blocked["helped"] == min(places, int((~serial["served0"] & (cats == care)).sum()))
    assert np.array_equal(serial["served"], blocked["served"]) and np.array_equal(serial["state"], blocked["state"])
    assert all(np.array_equal(a, b) for a, b in zip(serial["counts"], blocked["counts"]))
    assert np.array_equal(serial["unmet_at"], blocked["unmet_at"])


def test_blocks_are_dealt_to_threads_spread_over_the_city():
    """dealt_order: a permutation of 0..n-1 for any n; for 16 blocks, bit-reversed (0, 8, 4, 12, ...),
    so the run of positions numba gives each of 2 threads holds every other block, and each of 4
    threads every fourth: dense and sparse parts of the city (consecutive blocks) shared out."""
    for n in range(1, 130):
        assert sorted(kernels.dealt_order(n).tolist()) == list(range(n))
    order = kernels.dealt_order(16).tolist()
    assert order == [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    assert sorted(order[:8]) == list(range(0, 16, 2))
    assert [sorted(order[t * 4:(t + 1) * 4]) for t in range(4)] == [list(range(t, 16, 4)) for t in (0, 2, 1, 3)]


def test_indicators_shared_among_threads_are_those_of_one_thread(monkeypatch):
    """On more than one numba thread, :func:`sim.metrics.indicators.compute` shares the indicators
    among Python threads: every value, families, circles' and incomes' (which share one sort)
    included, is the one-thread value to the bit, for the city and for each circle."""
    import math

    from sim.metrics import indicators
    from sim.metrics.circles import per_circle
    from sim.model import LifeCircleModel
    from tests.conftest import small_scenario

    scenario = small_scenario(**{"circles.kind": "grid", "circles.cells_x": 2, "circles.cells_y": 2,
                                 "years": 2 / 12})
    model = LifeCircleModel(scenario=scenario, create_agents=False, checkpoints=False)
    model.run_for(40)  # a month end behind it: incomes, entry, a tally of needs
    names = list(indicators.REGISTRY)
    assert len(names) >= indicators.THREADED_INDICATORS

    def same(a: dict[str, float], b: dict[str, float]) -> bool:
        return list(a) == list(b) and all(x == y or (math.isnan(x) and math.isnan(y))
                                          for x, y in zip(a.values(), b.values()))

    monkeypatch.setattr(blocks, "threads_for", lambda n: 1)
    one, one_by_circle = indicators.compute(model, names), per_circle(model, names)
    shared = []
    threaded = indicators._evaluate_threaded
    monkeypatch.setattr(indicators, "_evaluate_threaded", lambda *args: shared.append(args[2]) or threaded(*args))
    monkeypatch.setattr(blocks, "threads_for", lambda n: 2)
    monkeypatch.setattr(blocks, "threadsafe_layer", lambda: False)  # numba's workqueue layer: one thread
    assert same(indicators.compute(model, names), one) and not shared
    monkeypatch.setattr(blocks, "threadsafe_layer", lambda: True)
    two, two_by_circle = indicators.compute(model, names), per_circle(model, names)
    assert shared and set(shared) == {2}  # the threaded route was taken (city and circles)
    assert same(one, two)
    assert len(one_by_circle) == len(two_by_circle) == model.circles.k == 4
    assert all(same(a, b) for a, b in zip(one_by_circle, two_by_circle))
    # and a value really is computed in a pool thread
    seen = []
    monkeypatch.setitem(indicators.REGISTRY, "needs", dataclasses.replace(
        indicators.REGISTRY["needs"], fn=lambda m: seen.append(threading.current_thread().name) or 1.0))
    indicators.compute(model, names)
    assert seen and seen[0].startswith("indicators")


def test_a_collection_uses_the_threads_of_the_daily_passes_of_its_population(monkeypatch):
    """Indicators are shared among threads only for a population whose daily passes are (three
    blocks and more): a small one's many short NumPy calls would contend for the GIL."""
    import numba

    monkeypatch.delenv(blocks.THREADS_VARIABLE, raising=False)
    cores = numba.config.NUMBA_NUM_THREADS
    small, large = (blocks.THREADED_BLOCKS - 1) * blocks.RESIDENT_BLOCK, blocks.THREADED_BLOCKS * blocks.RESIDENT_BLOCK
    assert blocks.threads_for(20_000) == blocks.threads_for(small) == 1
    assert blocks.threads_for(large) == cores
    monkeypatch.setenv(blocks.THREADS_VARIABLE, "1")
    assert blocks.threads_for(large) == 1
    monkeypatch.setenv(blocks.THREADS_VARIABLE, "64")
    assert blocks.threads_for(large) == cores and blocks.threads_for(small) == 1
