"""How many local worker processes a batch uses when ``--workers`` is not given.

Workers pay off only when the batch's work is larger than what starting them costs: a small batch
runs faster in the coordinating process itself. The default is the number of workers (1 = serial,
up to one per idle core) that minimises the estimated wall time

    ``WORKER_START_SECONDS + serial_seconds / workers``   (``serial_seconds`` for one worker)

where ``serial_seconds`` counts the resident-days the pending runs and their warm-ups simulate at
:data:`RESIDENT_DAY_SECONDS`; workers are chosen only when they save at least a quarter of the
serial time, and only idle cores count (a shared machine's other load is subtracted). ``benchmarks/bench_workers.py`` measures the demo batch both ways and
``tests/test_workers.py`` checks that the default is never slower than serial on it.
"""

from __future__ import annotations

import os

RESIDENT_DAY_SECONDS = 150e-9
"""Seconds one core spends on one resident for one simulated day, small districts included
(measured on the 2-core development machine: 0.5 s for 2,000 residents x 4 years from a
checkpoint, 1.1 s for a 10-year warm-up of them, i.e. 150-190 ns; large districts need less,
README "Performance"). A low value here makes the default choose workers sooner."""
WORKER_START_SECONDS = 3.0
"""Wall seconds before local workers run their first run: the fork server imports lifecircle once
(2-3 s measured, in parallel with the coordinator's own start) and each worker loads the compiled
kernels (about 0.5 s)."""


def estimated_serial_seconds(*, runs: int, residents: int, days: float, warmups: int, warmup_days: float) -> float:
    """Seconds one process needs for ``runs`` runs of ``days`` and ``warmups`` warm-ups of ``warmup_days``."""
    return RESIDENT_DAY_SECONDS * residents * (runs * days + warmups * warmup_days)


MARGIN = 0.75
"""Workers are used only when they are estimated to take at most this share of the serial time: the
estimate is rough, and a wrong choice of workers costs more than a wrong choice of serial."""


def idle_cores(cores: int | None = None) -> int:
    """Cores not busy with other work: ``cores`` less the 1-minute load average beyond this process
    (on a shared machine, workers on busy cores only compete with each other), at least 1."""
    cores = max(1, cores or os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return cores
    return max(1, min(cores, int(cores - max(0.0, load - 1.0) + 0.5)))


def default_workers(serial_seconds: float, *, cores: int | None = None, runs: int | None = None) -> int:
    """The worker count (1 .. idle cores, at most ``runs``) with the least estimated wall time, serial
    unless workers save at least a quarter of it (:data:`MARGIN`)."""
    cores = idle_cores(cores)
    if runs is not None:
        cores = max(1, min(cores, runs))
    best, best_time = 1, serial_seconds * MARGIN
    for workers in range(2, cores + 1):
        wall = WORKER_START_SECONDS + serial_seconds / workers
        if wall < best_time:
            best, best_time = workers, wall
    return best
