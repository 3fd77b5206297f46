"""The docking's runs, computed once per test session and shared by ``test_reference_agreement.py``
and ``test_docking_mutations.py``: the reference's runs are the slow part (a few minutes of CPU,
spread over up to two worker processes, ``LIFECIRCLE_DOCKING_WORKERS``); see
``benchmarks/reference/docking.py``.

A session that will dock starts the reference's runs as soon as its tests are collected
(:func:`start_reference_runs`, called by ``conftest.py``), in worker processes at the lowest CPU
priority: they use the time the tests before the docking leave a core idle (subprocesses starting,
single-threaded runs, waits) and yield the CPU to every test that wants it. What each run computes
does not depend on where or when it runs."""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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


def _lowest_priority() -> None:
    """Initializer of the background workers: a session of their own, that session's scheduling group
    at the lowest priority, and the process too. (On Linux with autogroup scheduling each session is a
    group with an equal share of the CPU whatever the niceness of its processes: a nice 19 worker left
    in pytest's session would still take half the CPU from a test's subprocess that starts a session of
    its own.)"""
    steps = (getattr(os, "setsid", None), lambda: Path("/proc/self/autogroup").write_text("19"),
             lambda: os.nice(19))
    for step in steps:
        try:
            if step is not None:
                step()
        except (OSError, AttributeError):
            pass  # another platform, or not allowed: the same runs, only less in the background


@functools.cache
def background_pool() -> ProcessPoolExecutor | None:
    """A pool of low-priority worker processes for the reference's runs (None with one worker)."""
    workers = default_workers()
    if workers <= 1:
        return None
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_lowest_priority)
    atexit.register(stop_reference_runs)
    return executor


def start_reference_runs() -> None:
    """Start every part's reference runs in :func:`background_pool`, in the order the docking tests
    read them (the mutations' cheapest part first); :func:`reference_runs` collects them."""
    from benchmarks.reference.docking import CHEAPEST_FIRST

    executor = background_pool()
    if executor is None or _started:
        return
    for part in CHEAPEST_FIRST:
        _started[part.name] = [executor.submit(run_all, [("reference", part, seed, None)]) for seed in part.seeds]


def stop_reference_runs() -> None:
    """End the background pool. In a session stopped before its docking tests collected every run
    (Ctrl-C, ``-x``), the runs not started are dropped and those under way stopped, rather than
    waited for (up to a quarter of a minute)."""
    if not background_pool.cache_info().currsize:
        return
    executor = background_pool()
    if executor is None:
        return
    unfinished = any(not future.done() for futures in _started.values() for future in futures)
    workers = list((getattr(executor, "_processes", None) or {}).values())  # this pool's own processes
    executor.shutdown(wait=False, cancel_futures=True)
    if unfinished:
        for process in workers:
            process.terminate()


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
