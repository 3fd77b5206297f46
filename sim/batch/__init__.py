"""Scenario batches: designs (uncertainties x lever mixes), parallel and Dask runs, a resumable
Parquet store, comparisons (pooled or per design point), sensitivity analysis, and research analysis
on the EMA Workbench (:mod:`sim.batch.ema`: experiments and outcomes, scenario discovery, the robust
search).

From Python or Jupyter::

    from sim.batch import load_batch, run_batch
    spec = load_batch("scenarios/batches/demo.toml")
    summary = run_batch(spec, "results/demo", workers=2)      # or client=dask.distributed.Client(...)
    frame = pd.read_parquet("results/demo/runs")

See ``docs/batches.md``.
"""

import importlib
from typing import Any

_EXPORTS = {
    "Design": "design", "build_design": "design", "sample": "design",
    "BatchStopped": "executors",
    "BatchSummary": "runner", "RunPlan": "runner", "RunPlans": "runner", "execute_run": "runner",
    "plan_runs": "runner", "run_batch": "runner",
    "BatchSpec": "spec", "batch_from_dict": "spec", "load_batch": "spec",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that the command line's parser does not import SciPy, pandas and Dask.
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"sim.batch.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'sim.batch' has no attribute {name!r}")
