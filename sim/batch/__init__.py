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

from sim.batch.design import Design, build_design, sample
from sim.batch.executors import BatchStopped
from sim.batch.runner import BatchSummary, RunPlan, RunPlans, execute_run, plan_runs, run_batch
from sim.batch.spec import BatchSpec, batch_from_dict, load_batch

__all__ = [
    "BatchSpec", "BatchStopped", "BatchSummary", "Design", "RunPlan", "RunPlans", "batch_from_dict", "build_design", "execute_run",
    "load_batch", "plan_runs", "run_batch", "sample",
]
