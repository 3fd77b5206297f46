"""A small random generator for the compiled daily loops: xoshiro256** in four uint64 words.

The daily loops draw a few hundred thousand numbers a day (one per resident and one or two per
need). Handing them NumPy arrays of draws, or calling a NumPy ``Generator`` from compiled code,
costs 5-15 ns a number on this class of machine; xoshiro256** (Blackman and Vigna, 2018) inlined
into the loop costs about one. Each loop's generator is seeded afresh every day from a named
stream (:mod:`sim.streams`) with four 64-bit words of that stream, so the named-stream rules hold:
a mechanism that does not run draws nothing, and the same seed gives the same days in any
process.

Reference: D. Blackman, S. Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS
47(4), 2021; algorithm at https://prng.di.unimi.it/xoshiro256starstar.c.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_TO_UNIT53 = 1.0 / 9007199254740992.0   # 2**-53
_TO_UNIT24 = 1.0 / 16777216.0           # 2**-24


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """A fresh generator state: four words drawn from ``rng`` (never all zero)."""
    # The raw words of the streams' PCG64 (sim.streams) are what ``rng.integers(0, 2**64 - 1, 4,
    # uint64, endpoint=True)`` returns -- a full-range draw is the raw output -- at a tenth of its
    # cost a call. (Not so for every bit generator: MT19937's raw words are 32-bit.)
    state = rng.bit_generator.random_raw(4)
    if not state.any():  # the one state xoshiro cannot leave; probability 2**-256
        state[0] = 1
    return state


def block_states(rng: np.random.Generator, n_blocks: int) -> np.ndarray:
    """(n_blocks, 4) generator states, one per block of a blocked pass (:mod:`sim.services.blocks`).

    Row 0 is exactly :func:`seed_state` of ``rng``: a pass over a population that fits in one block
    draws what the unblocked pass drew. Further rows are drawn from ``rng`` after it, only when
    there are more blocks (so a one-block pass leaves ``rng`` as :func:`seed_state` leaves it).
    """
    n = max(int(n_blocks), 1)
    if n == 1:
        return seed_state(rng)[None, :]
    # One call for every block's words: the generator's raw outputs in turn, the words n calls of
    # seed_state would draw.
    states = rng.bit_generator.random_raw(4 * n).reshape(n, 4)
    states[~states.any(axis=1), 0] = 1  # as seed_state: never the all-zero state
    return states


# The helpers below take and return scalars only: numba inlines them without the reference
# counting that array arguments of an inlined helper cost on every call. A kernel loads the
# state into four locals (``s0, s1, s2, s3 = state``), steps them with :func:`step`, and stores
# them back at the end (``store``).


@njit(inline="always")
def _rotl(x, k):  # pragma: no cover - compiled
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(inline="always")
def step(s0, s1, s2, s3):  # pragma: no cover - compiled
    """One xoshiro256** step: (64-bit output, new s0, s1, s2, s3)."""
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(inline="always")
def unit53(x):  # pragma: no cover - compiled
    """A uniform double in [0, 1) from the top 53 bits of ``x``."""
    return float(x >> uint64(11)) * _TO_UNIT53


@njit(inline="always")
def unit24(x):  # pragma: no cover - compiled
    """A uniform float32 in [0, 1 - 2**-24] from the top 24 bits of ``x`` (exact in float32)."""
    return np.float32(x >> uint64(40)) * np.float32(_TO_UNIT24)


@njit(inline="always")
def alias_column(x, J):  # pragma: no cover - compiled
    """The column of a J-column alias table picked by the high 32 bits of ``x``."""
    return np.int64((x >> uint64(32)) * uint64(J) >> uint64(32))


@njit(inline="always")
def alias_resolve(x, j, entry):  # pragma: no cover - compiled
    """Column ``j`` or its alias, decided by the low 32 bits of ``x`` against the packed table
    ``entry`` of column j (:func:`pack_alias`). Branch-free: a mispredicted branch costs more
    than the whole draw."""
    a = np.int64(entry & uint64(0xFFFF))
    keep = np.int64((x & uint64(0xFFFFFFFF)) < (entry >> uint64(16)))
    return a + (j - a) * keep


def pack_alias(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """An alias table (see :func:`sim.services.demand.alias_table`) packed for :func:`alias_draw`: the keep
    threshold ``prob * 2**32`` in bits 16-63, the alias index in bits 0-15. Works on the last axis."""
    threshold = np.minimum(np.round(np.asarray(prob) * 2.0**32), 2.0**32).astype(np.uint64)
    alias = np.asarray(alias).astype(np.uint64)
    if (alias >= 2**16).any():
        raise ValueError("alias tables are limited to 65,536 entries")
    return (threshold << np.uint64(16)) | alias


@njit(cache=True)
def draw_alias(state, table, g, n):  # pragma: no cover - compiled
    """``n`` draws from row ``g`` of a packed alias table (for tests of the distribution)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    out = np.empty(n, dtype=np.int64)
    J = table.shape[1]
    for i in range(n):
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        j = alias_column(x, J)
        out[i] = alias_resolve(x, j, table[g, j])
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return out


@njit(cache=True)
def draw_u64(state, n):  # pragma: no cover - compiled
    """``n`` consecutive outputs (for tests against the reference algorithm)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i], s0, s1, s2, s3 = step(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return out


@njit(cache=True)
def draw_unit(state, n):  # pragma: no cover - compiled
    """``n`` uniform doubles in [0, 1) (for tests of the distribution)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        x, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        out[i] = unit53(x)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return out
