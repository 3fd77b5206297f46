"""The docking's runs, computed once per test session and shared by ``test_reference_agreement.py``
and ``test_docking_mutations.py``: the reference's runs are the slow part (a few minutes of CPU,
spread over up to two worker processes, ``LIFECIRCLE_DOCKING_WORKERS``); see
``benchmarks/reference/docking.py``.

A session that will dock starts the reference's runs as soon as its tests are collected
(:func:`start_reference_runs`, called by ``conftest.py``) in the session's low-priority background
workers (``session_background.py``): they use the time the tests before the docking leave a core
idle. What each run computes does not depend on where or when it runs."""

from __future__ import annotations

import atexit
import functools
import sys
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import session_background  # noqa: E402
from benchmarks.reference.docking import (PARTS, Agreement, Part, compare, default_workers,  # noqa: E402
                                          process_pool, run_all)

_started: dict[str, list[Future]] = {}
"""Each part's reference runs started by :func:`start_reference_runs`, seed by seed."""


@functools.cache
def pool():  # noqa: ANN201 - a ProcessPoolExecutor, or None with one worker
    """One pool of worker processes for the session (started once: each worker loads the model)."""
    executor = process_pool()
    if executor is not None:
        atexit.register(executor.shutdown)
    return executor


def start_reference_runs() -> None:
    """Start every part's reference runs in the background, in the order the docking tests read
    them (the mutations' cheapest part first); :func:`reference_runs` collects them."""
    from benchmarks.reference.docking import CHEAPEST_FIRST

    if _started or default_workers() <= 1 or session_background.pool() is None:
        return  # LIFECIRCLE_DOCKING_WORKERS=1: every run here, one after another, when the tests ask
    for part in CHEAPEST_FIRST:
        _started[part.name] = [session_background.submit(run_all, [("reference", part, seed, None)])
                               for seed in part.seeds]


@functools.cache
def reference_runs(part_name: str) -> list[dict[str, float]]:
    """A part's reference statistics, seed by seed (computed once: started in the background at the
    session's start, else here)."""
    if part_name in _started:
        return [result for future in _started[part_name] for result in future.result()]
    part = next(p for p in PARTS if p.name == part_name)
    return run_all([("reference", part, seed, None) for seed in part.seeds], pool())


@functools.cache
def engine_runs(part_name: str, changes: tuple[tuple[str, object], ...] = ()) -> list[dict[str, float]]:
    """A part's engine statistics, seed by seed, with the engine's scenario ``changes``."""
    part = next(p for p in PARTS if p.name == part_name)
    return run_all([("engine", part, seed, dict(changes)) for seed in part.seeds], pool())


def dock(part: Part, changes: dict[str, object] | None = None) -> list[Agreement]:
    """The paired comparison of one part (the engine changed by ``changes``, the reference not)."""
    key = tuple(sorted((changes or {}).items()))
    return compare(part, engine_runs(part.name, key), reference_runs(part.name))
