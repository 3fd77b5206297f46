"""sim.sorting.stable_argsort: the very permutation of NumPy's stable sort, ties and all."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.sorting import is_stable_order, stable_argsort


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 2.0, -3.25, 1e300, np.inf, -np.inf, 7.0 / 3.0]), max_size=60),
       st.lists(st.floats(allow_nan=False, width=64), max_size=60))
def test_same_permutation_as_the_stable_sort(tied, any_floats):
    for values in (np.array(tied, dtype=np.float64), np.array(any_floats + tied, dtype=np.float64)):
        assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


def test_many_ties_and_nan():
    rng = np.random.default_rng(0)
    incomes = rng.integers(0, 50, size=20_000) * 100 / rng.integers(1, 5, size=20_000)  # per-head incomes, many equal
    assert np.array_equal(stable_argsort(incomes), np.argsort(incomes, kind="stable"))
    with_nan = incomes.copy()
    with_nan[::7] = np.nan
    assert np.array_equal(stable_argsort(with_nan), np.argsort(with_nan, kind="stable"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 2.0, -3.25, np.inf, 7.0 / 3.0]), min_size=2, max_size=60),
       st.integers(0, 2**32 - 1))
def test_an_order_at_hand_is_recognised_only_when_it_is_the_stable_sort(tied, seed):
    values = np.array(tied, dtype=np.float64)
    stable = np.argsort(values, kind="stable")
    assert is_stable_order(values, stable)
    other = np.random.default_rng(seed).permutation(len(values))
    assert is_stable_order(values, other) == np.array_equal(other, stable)
    i, j = sorted(np.random.default_rng(seed + 1).choice(len(values), 2, replace=False))
    swapped = stable.copy()
    swapped[[i, j]] = swapped[[j, i]]  # two places exchanged: ties out of index order, or values out of order
    assert not is_stable_order(values, swapped)
    assert not is_stable_order(np.where(values == values[0], np.nan, values), stable)
