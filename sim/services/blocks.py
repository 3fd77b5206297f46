"""Fixed blocks of residents for the compiled daily passes, and the number of threads they use.

The daily passes (:mod:`sim.services.kernels`) split the population into blocks of
``RESIDENT_BLOCK`` consecutive residents (and so of their needs, which are in resident order). Each
block draws from its own generator (:func:`sim.services.fastrng.block_states`), and the blocks are
shared among numba's threads. The block size is a constant, never derived from the number of
threads, so the same scenario and seed give the same results on any number of threads. A
population that fits in one block (up to 65,536 residents: the shipped grid, Helsinki and Beijing
districts) runs the unblocked passes with the very same draws as before blocks existed.

Threads: numba's, all the cores by default, but one for the daily passes of a population of
fewer than ``THREADED_BLOCKS`` blocks (there, waking the threads cost more than they gave);
``LIFECIRCLE_THREADS=N`` (or ``lifecircle run --threads N``, which sets it) uses ``N`` (at most
numba's ``NUMBA_NUM_THREADS``, the cores by default). Between parallel loops the threads spin for
about 0.1 ms before they sleep (:data:`SHORT_SPIN`), unless ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` is set; a batch's or a calibration's workers wait asleep (:func:`wait_asleep`)
unless ``OMP_WAIT_POLICY`` is set.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

import numpy as np

RESIDENT_BLOCK = int(os.environ.get("LIFECIRCLE_BLOCK_RESIDENTS", 2**16))
"""Residents per block of the daily passes (65,536). Results depend on it (each block has its own
random stream), never on the thread count. ``LIFECIRCLE_BLOCK_RESIDENTS`` overrides it, for tests
that need a small population to span many blocks; it is not a setting to tune."""

THREADS_VARIABLE = "LIFECIRCLE_THREADS"
"""Environment variable: threads of the compiled passes (default: every core; one for the daily
passes of a population of fewer than ``THREADED_BLOCKS`` blocks)."""

THREADED_BLOCKS = 3
"""Blocks from which the daily passes use every core by default. A day launches ~20 short parallel
loops and waking a sleeping thread costs ~0.05-0.1 ms each time. Synthetic first days on this
2-core machine (benchmarks/bench_threads.py, 61 days, ordinary days two threads against one):
100,000 residents (2 blocks) 109 %, 160,000 (3 blocks) 89 % over every day, 200,000 (4) 84 %."""

SHORT_SPIN = 10_000
"""``GOMP_SPINCOUNT`` of a process that runs alone (about 0.1 ms): after each parallel loop numba's
OpenMP threads spin this long for the next before they sleep. A day launches ~20 short parallel
loops, and waking a sleeping thread costs ~0.05-0.1 ms each time. Measured (benchmarks/README.md,
"Waiting threads"), 1,000,000 residents of the settled city, ordinary days on two threads: idle
machine 27.2 ms asleep, 24.3 spinning (one thread 43.2); both cores taken by two other busy
processes 45.2 asleep, 55.4 spinning. A process that shares the machine with others of its kind (a
batch's or a calibration's workers) waits asleep instead (:func:`wait_asleep`)."""


def default_waiting(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the short spin (:data:`SHORT_SPIN`) unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is
    set already (the user's choice: ``OMP_WAIT_POLICY=passive`` to wait asleep). Runs when this
    module is imported, before the first parallel loop (OpenMP reads its settings then)."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = str(SHORT_SPIN)


default_waiting()


def wait_asleep(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Make this process's threads wait asleep (``OMP_WAIT_POLICY=PASSIVE``, no spin) unless
    ``OMP_WAIT_POLICY`` says otherwise: for a process among several of its kind on one machine (the
    workers of a batch or a calibration: :mod:`sim.batch.executors`, :mod:`sim.batch.worker_plugin`),
    where a spinning thread holds a core another worker waits for. The spin a worker inherits from
    its coordinator (:func:`default_waiting`) is removed, and so is a ``GOMP_SPINCOUNT`` of the
    user's (``OMP_WAIT_POLICY`` chooses for workers). Takes effect only before the process's first
    parallel loop; returns whether it did."""
    if _layer_started():
        return False
    if "OMP_WAIT_POLICY" not in environ:
        environ.pop("GOMP_SPINCOUNT", None)
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def _layer_started() -> bool:
    """Whether numba's threading layer has started in this process (its OpenMP settings are read)."""
    import numba

    try:
        numba.threading_layer()
    except ValueError:  # no parallel loop yet
        return False
    return True


def resident_blocks(n_residents: int) -> np.ndarray:
    """(B + 1,) first resident of each block, then ``n_residents``: block b is ``first[b]:first[b + 1]``."""
    n_blocks = max(1, -(-int(n_residents) // RESIDENT_BLOCK))
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * RESIDENT_BLOCK, n_residents)


def threads_wanted() -> int | None:
    """The thread count ``LIFECIRCLE_THREADS`` asks for (None: not set, numba's default)."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads, not {value!r}") from None
    if threads < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be at least 1, not {threads}")
    return threads


def use_threads(blocks: int | None = None) -> int:
    """Set numba's thread count in the calling thread and return it: ``LIFECIRCLE_THREADS``
    (capped at ``NUMBA_NUM_THREADS``) if set; else one thread for the daily passes of a population
    of fewer than ``THREADED_BLOCKS`` blocks (``blocks``: the passes' own count), every core
    otherwise. Cheap: the blocked passes call it each day, so it holds in whatever thread runs the
    model. Results never depend on it."""
    import numba

    threads = threads_wanted()
    if threads is None:
        threads = 1 if blocks is not None and blocks < THREADED_BLOCKS else numba.config.NUMBA_NUM_THREADS
    return use_threads_here(threads)


def use_threads_here(threads: int) -> int:
    """Set numba's thread count in the calling thread to ``threads`` (at most ``NUMBA_NUM_THREADS``)
    and return it: numba's count is per thread, and a new thread starts with every core."""
    import numba

    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
    return threads


def threads_for(n_residents: int) -> int:
    """The threads for work over a population of ``n_residents`` (the indicators of a collection:
    :func:`sim.metrics.indicators.compute`), by the daily passes' rule (:func:`use_threads`) but
    without setting numba's count: one below ``THREADED_BLOCKS`` blocks, else ``LIFECIRCLE_THREADS``
    or every core. A small population's collection is many short NumPy calls, where threads
    contend for the GIL and cost more than they give."""
    import numba

    if len(resident_blocks(n_residents)) - 1 < THREADED_BLOCKS:
        return 1
    return min(threads_wanted() or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)


def threadsafe_layer() -> bool:
    """Whether numba's threading layer in use lets several Python threads run compiled parallel
    passes at once: OpenMP's and TBB's do; the ``workqueue`` layer (numba's fallback when neither
    library is found) aborts the process instead. False until a parallel pass has run (the layer is
    chosen then)."""
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel pass yet: the layer is not chosen
        return False
