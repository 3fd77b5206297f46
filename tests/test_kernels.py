"""The compiled loops against plain NumPy or hand-worked answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim import kernels
from sim.demand import _sorted_uniform_indices


def test_sorted_uniform_indices_are_sorted_per_block_and_uniform():
    rng = np.random.default_rng(4)
    sizes = np.array([60_000, 0, 30_000, 5])
    idx = _sorted_uniform_indices(sizes, 12, rng)
    assert len(idx) == sizes.sum()
    blocks = np.split(idx, np.cumsum(sizes)[:-1])
    assert all((np.diff(b) >= 0).all() for b in blocks)
    for block in blocks[:3:2]:
        counts = np.bincount(block, minlength=12)
        assert stats.chisquare(counts).pvalue > 1e-3  # uniform over the 12 ids


def test_turn_away_keeps_exactly_capacity_and_is_uniform():
    chosen = np.array([0] * 10 + [1] * 3)
    want = np.ones(13, dtype=bool)
    want[12] = False
    demand = np.array([10, 2])
    capacity = np.array([4, 5])
    kept = np.zeros(10)
    rng = np.random.default_rng(1)
    for _ in range(4000):
        full = kernels.turn_away(chosen, want, demand, capacity, rng.random(10))
        assert (~full[:10]).sum() == 4 and not full[10:].any()
        kept += ~full[:10]
    assert np.allclose(kept / 4000, 0.4, atol=0.03)  # every visit equally likely to be kept


def test_scatter_add_matches_add_at_exactly():
    rng = np.random.default_rng(2)
    target = rng.integers(-1000, 1000, 50).astype(np.int64)
    idx = rng.integers(0, 50, 1000)
    amount = rng.integers(0, 10**12, 1000).astype(np.int64)
    expected = target.copy()
    np.add.at(expected, idx, -amount)
    kernels.scatter_add(target, idx, amount, -1)
    assert np.array_equal(target, expected)


def _choice_inputs(bits: int, weights: list[float]):
    K = len(weights)
    res = np.zeros(1, dtype=np.int64)
    cats = np.zeros(1, dtype=np.int64)
    night = np.zeros(1, dtype=bool)
    served = np.zeros(1, dtype=bool)
    rows = np.zeros(1, dtype=np.int64)          # speed class 0, node 0
    knows = np.array([bits], dtype=np.uint8)
    map_user = np.zeros(1, dtype=bool)
    day_w = np.array([weights], dtype=np.float32)
    outlets = np.arange(K, dtype=np.int32)[None, :] + 10
    return res, cats, night, served, rows, knows, map_user, day_w, day_w.copy(), np.ones(20, np.float32), outlets


@pytest.mark.parametrize("u, expected", [(0.0, 11), (0.49, 11), (0.51, 13), (0.999, 13)])
def test_choice_draws_among_known_outlets_by_weight(u, expected):
    args = _choice_inputs(0b1010, [5.0, 1.0, 7.0, 1.0])  # knows ranks 1 and 3, equal weights
    chosen, reachable, searched = kernels.choose_outlets(*args, np.array([u], np.float32), 1, 1)
    assert chosen[0] == expected and reachable[0] and not searched[0]


def test_a_resident_who_knows_none_searches_finds_the_best_and_learns_it():
    args = _choice_inputs(0b0000, [1.0, 3.0, 2.0, 0.0])
    chosen, reachable, searched = kernels.choose_outlets(*args, np.array([0.5], np.float32), 1, 1)
    assert chosen[0] == 11 and searched[0]
    assert args[5][0] == 0b0010  # knowledge bits updated in place


def test_nothing_in_reach_is_unreachable():
    args = _choice_inputs(0b1111, [0.0, 0.0, 0.0, 0.0])
    chosen, reachable, _ = kernels.choose_outlets(*args, np.array([0.5], np.float32), 1, 1)
    assert chosen[0] == -1 and not reachable[0]
