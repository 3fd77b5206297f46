"""sim.sorting: stable_argsort is the very permutation of NumPy's stable sort, ties and all, and unique
is NumPy's unique; by NumPy's sort or by radix."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import sorting
from sim.sorting import is_stable_order, stable_argsort, unique


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


_EIGHT_BYTE_FLOATS = st.one_of(st.sampled_from([0.0, -0.0, 1.5, -1.5, np.inf, -np.inf, 5e-324, -5e-324, 1e300]),
                               st.floats(allow_nan=False, width=64))


@settings(max_examples=200, deadline=None)
@given(st.lists(_EIGHT_BYTE_FLOATS, max_size=300), st.lists(st.integers(-2**63, 2**63 - 1), max_size=300),
       st.integers(1, 40))
def test_the_radix_sort_is_the_stable_sort_for_floats_and_integers_in_any_chunks(floats, integers, chunk):
    """The radix route (taken from RADIX_MIN values) on short arrays cut into chunks of any size:
    negative and positive zeros tie, subnormals, infinities, the integers' extremes."""
    floats = np.array(floats + floats[::3], dtype=np.float64)  # repeats: ties apart from each other
    integers = np.array(integers + integers[::2], dtype=np.int64)
    with mock.patch.object(sorting, "RADIX_MIN", 2), mock.patch.object(sorting, "_CHUNK", chunk):
        for values in (floats, integers):
            assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
            for ours, numpys in zip(unique(values), np.unique(values, return_inverse=True, return_counts=True)):
                assert ours.dtype == numpys.dtype and np.array_equal(ours, numpys)


def test_radix_sort_of_half_a_million_incomes_on_one_thread_and_two():
    """The month end's size (per-head incomes of ~500,000 households, many tied): the radix route,
    its chunks shared among threads, gives NumPy's stable order on any number of them."""
    import numba

    rng = np.random.default_rng(3)
    n = 500_000
    incomes = rng.integers(0, 4000, n) * 100 / rng.integers(1, 6, n)
    incomes[rng.random(n) < 0.01] = -0.0
    assert n >= sorting.RADIX_MIN
    expected = np.argsort(incomes, kind="stable")
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            assert np.array_equal(stable_argsort(incomes), expected)
            codes = rng.integers(0, 5000, n).astype(np.int64) * 256 + rng.integers(0, 4, n)
            for ours, numpys in zip(unique(codes), np.unique(codes, return_inverse=True, return_counts=True)):
                assert np.array_equal(ours, numpys)
    finally:
        numba.set_num_threads(before)
