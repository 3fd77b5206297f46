"""sim.sorting.stable_argsort: the very permutation of NumPy's stable sort, ties and all."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.sorting import stable_argsort


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
