"""The docking's runs, computed once per test session and shared by ``test_reference_agreement.py``
and ``test_docking_mutations.py``: the reference's runs are the slow part (a few minutes of CPU,
spread over up to two worker processes, ``LIFECIRCLE_DOCKING_WORKERS``); see
``benchmarks/reference/docking.py``."""

from __future__ import annotations

import atexit
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.reference.docking import PARTS, Agreement, Part, compare, process_pool, run_all  # noqa: E402


@functools.cache
def pool():  # noqa: ANN201 - a ProcessPoolExecutor, or None with one worker
    """One pool of worker processes for the session (started once: each worker loads the model)."""
    executor = process_pool()
    if executor is not None:
        atexit.register(executor.shutdown)
    return executor


@functools.cache
def reference_runs() -> dict[str, list[dict[str, float]]]:
    """Every part's reference statistics, seed by seed (computed once)."""
    tasks = [("reference", part, seed, None) for part in PARTS for seed in part.seeds]
    results = iter(run_all(tasks, pool()))
    return {part.name: [next(results) for _ in part.seeds] for part in PARTS}


@functools.cache
def engine_runs(part_name: str, changes: tuple[tuple[str, object], ...] = ()) -> list[dict[str, float]]:
    """A part's engine statistics, seed by seed, with the engine's scenario ``changes``."""
    part = next(p for p in PARTS if p.name == part_name)
    return run_all([("engine", part, seed, dict(changes)) for seed in part.seeds], pool())


def dock(part: Part, changes: dict[str, object] | None = None) -> list[Agreement]:
    """The paired comparison of one part (the engine changed by ``changes``, the reference not)."""
    key = tuple(sorted((changes or {}).items()))
    return compare(part, engine_runs(part.name, key), reference_runs()[part.name])
