"""Slow, shared set-ups of a test session computed in the background, at the lowest CPU priority.

A session's tests leave a core idle for minutes in all (command-line subprocesses starting, single-
threaded runs, waits). ``conftest.py`` hands this pool, as soon as the tests are collected, work that
collected tests will need later -- the docking's reference runs (``docking_runs.py``), the settled
baseline's warm-ups -- and the tests collect the results, or find them in a checkpoint store, when they
get there. The workers yield the CPU to every test that wants it; what they compute does not depend on
where or when it runs.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from sim.batch.executors import exit_with

WORKERS = min(2, os.cpu_count() or 1)
"""Background worker processes: up to 2 of the machine's cores."""

_submitted: list[Future] = []


def _lowest_priority(session: int) -> None:
    """Initializer of the workers: they end with the test session's process ``session``, however it
    ends (:func:`sim.batch.executors.exit_with`: a SIGKILLed pytest left them running), and run in a
    session of their own, that session's scheduling group at the lowest priority, and the process
    too. (On Linux with autogroup scheduling each session is a group with an equal share of the CPU
    whatever the niceness of its processes: a nice 19 worker left in pytest's session would still
    take half the CPU from a test's subprocess that starts a session of its own.)"""
    exit_with(session)
    steps = (getattr(os, "setsid", None), lambda: Path("/proc/self/autogroup").write_text("19"),
             lambda: os.nice(19))
    for step in steps:
        try:
            if step is not None:
                step()
        except (OSError, AttributeError):
            pass  # another platform, or not allowed: the same results, only less in the background


@functools.cache
def pool() -> ProcessPoolExecutor | None:
    """The session's pool of low-priority worker processes (None on a machine of one core)."""
    if WORKERS <= 1:
        return None
    executor = ProcessPoolExecutor(max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_lowest_priority, initargs=(os.getpid(),))
    atexit.register(stop)
    return executor


def submit(function: Callable[..., Any], *args: Any) -> Future | None:
    """Run ``function(*args)`` in the background (None, and nothing run, without a pool)."""
    executor = pool()
    if executor is None:
        return None
    future = executor.submit(function, *args)
    _submitted.append(future)
    return future


def stop() -> None:
    """End the pool. In a session stopped before its tests collected everything (Ctrl-C, ``-x``), the
    work not started is dropped and the work under way stopped, rather than waited for."""
    if not pool.cache_info().currsize:
        return
    executor = pool()
    if executor is None:
        return
    unfinished = any(not future.done() for future in _submitted)
    workers = list((getattr(executor, "_processes", None) or {}).values())  # this pool's own processes
    executor.shutdown(wait=False, cancel_futures=True)
    if unfinished:
        for process in workers:
            process.terminate()


@functools.cache
def settled_baseline_store() -> Path:
    """The session's folder of settled starts of the shipped baseline grid (made at first use; the
    session removes it at its end). Kept here, in the one module that conftest and the test modules
    import under one name (a test module's ``tests.conftest`` is another module object than pytest's
    ``conftest``, with state of its own)."""
    return Path(tempfile.mkdtemp(prefix="lifecircle-test-settled-baseline-"))


def settled_store_made() -> bool:
    """Whether :func:`settled_baseline_store` made its folder in this session."""
    return bool(settled_baseline_store.cache_info().currsize)


# ----------------------------------------------------------------------------- jobs

def warm_up_settled_baseline(seed: int, store: str) -> str:
    """The shipped baseline grid's default warm-up (20 years, 20,000 residents) for ``seed``, saved in
    ``store``: what ``conftest.settled_baseline_checkpoints`` holds for the tests of the settled
    baseline. Returns where the settled start came from (``computed``, or ``checkpoint`` when a test
    had already made it)."""
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario

    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
    model = LifeCircleModel(scenario=load_scenario(baseline), seed=seed, create_agents=False, checkpoints=store)
    return model.warmup_source
