"""Running a batch: serially, on local processes or on a Dask cluster, streaming runs to disk.

The coordinating process plans the runs (packages x design points x replications), skips those
whose Parquet file already exists, and keeps only a small window of runs in flight, so its memory
does not grow with the number of runs. Each run is executed by :func:`execute_run` in a worker,
which writes its own Parquet file and returns a small status dict; the coordinator appends that to
the manifest. A run that raises is recorded as failed with its message and the batch goes on.

Every run's result depends only on its task (scenario + seed): the model seeds all randomness from
the scenario seed, so serial, process-pool and Dask batches give identical files.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from sim import __version__
from sim.batch import store
from sim.batch.design import Design, build_design
from sim.batch.spec import BatchSpec
from sim.scenario import Scenario, ScenarioError
from sim.atomic import atomic_write_bytes


@dataclass(frozen=True)
class RunPlan:
    """One run of a batch: which package, design point and replicate, with which seed."""

    run_id: str
    package: str
    point: int
    replicate: int
    seed: int


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run (picklable, small)."""

    plan: RunPlan
    scenario: Scenario
    parameters: dict[str, int | float]
    out: str


@dataclass
class BatchSummary:
    """What a call of :func:`run_batch` did."""

    out: Path
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no run of this call failed."""
        return self.failed == 0


def plan_runs(spec: BatchSpec, design: Design) -> list[RunPlan]:
    """Every run of the batch in a fixed order: package, then design point, then replicate.

    Replicate r has the same seed in every package and at every design point (common random
    numbers), so package differences are paired.
    """
    seeds = spec.replicate_seeds()
    width_p = max(4, len(str(design.n_points - 1)))
    width_r = max(2, len(str(spec.replications - 1)))
    return [
        RunPlan(run_id=f"{package}-p{point:0{width_p}d}-r{rep:0{width_r}d}", package=package,
                point=point, replicate=rep, seed=seeds[rep])
        for package in spec.packages
        for point in range(design.n_points)
        for rep in range(spec.replications)
    ]


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run one task and write its Parquet file; never raises (failures come back as a dict).

    This is the function workers execute; it must stay importable at module level.
    """
    from sim.run import run_scenario

    plan = task.plan
    started = time.perf_counter()
    try:
        result = run_scenario(task.scenario, seed=plan.seed, keep_model=False)
        scenario = result.scenario
        scenario_hash = scenario.content_hash()
        out = Path(task.out)
        resolved = out / "scenarios" / f"{plan.package}-{scenario_hash}.toml"
        if not resolved.exists():
            extra = {"seed": plan.seed, "lifecircle_version": __version__, "scenario_hash": scenario_hash}
            atomic_write_bytes(resolved, scenario.to_toml(extra=extra).encode())
        frame = tidy_frame(result.timeseries, plan, task.parameters, scenario_hash)
        store.write_run_frame(out, plan.run_id, frame)
    except Exception as err:  # a failed run is data, not a crash of the batch
        return {"run_id": plan.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=8), "seconds": time.perf_counter() - started}
    return {"run_id": plan.run_id, "status": "done", "rows": len(frame), "scenario_hash": scenario_hash,
            "seconds": time.perf_counter() - started}


def tidy_frame(timeseries: pd.DataFrame, plan: RunPlan, parameters: dict[str, int | float],
               scenario_hash: str) -> pd.DataFrame:
    """One run's rows: identifiers, parameters, seed and provenance, then day, month, indicator, value."""
    n = len(timeseries)
    columns: dict[str, Any] = {
        "run_id": [plan.run_id] * n,
        "package": [plan.package] * n,
        "point": pd.Series([plan.point] * n, dtype="int64"),
    }
    for name, value in parameters.items():
        columns[name] = pd.Series([value] * n, dtype="int64" if isinstance(value, int) else "float64")
    columns.update({
        "replicate": pd.Series([plan.replicate] * n, dtype="int64"),
        "seed": pd.Series([plan.seed] * n, dtype="int64"),
        "scenario_hash": [scenario_hash] * n,
        "lifecircle_version": [__version__] * n,
        "day": timeseries["day"].to_numpy(dtype="int64"),
        "date": timeseries["date"].to_numpy(),
        "month": timeseries["month"].to_numpy(dtype="int64"),
        "indicator": timeseries["indicator"].astype(str).to_numpy(),
        "value": timeseries["value"].to_numpy(dtype="float64"),
    })
    return pd.DataFrame(columns)


# ----------------------------------------------------------------------------- coordinator

def prepare(spec: BatchSpec, out: str | Path) -> tuple[Design, list[RunPlan]]:
    """Check ``out`` belongs to this batch (or is new), write provenance and the design."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    design = build_design(spec)
    fingerprint = spec.fingerprint()
    info_path = out / "batch.json"
    if info_path.exists():
        old = json.loads(info_path.read_text(encoding="utf-8")).get("fingerprint")
        if old != fingerprint:
            raise ScenarioError(
                f"{out}: holds results of a different batch (fingerprint {old}, this batch file gives "
                f"{fingerprint}); resume only with the same batch file, or choose a new --out folder")
    info = {
        "name": spec.name, "description": spec.description, "fingerprint": fingerprint,
        "source": spec.source, "packages": list(spec.packages), "baseline": spec.baseline_package,
        "design": design.method, "problem": design.problem, "design_options": design.options,
        "replications": spec.replications, "master_seed": spec.master_seed,
        "replicate_seeds": spec.replicate_seeds(), "years": spec.years, "indicators": spec.indicators,
        "overrides": spec.flat_overrides(),
    }
    store.write_json(info_path, info)
    if spec.source != "<dict>" and Path(spec.source).is_file():
        atomic_write_bytes(out / "batch.toml", Path(spec.source).read_bytes())
    store.write_design(out, design.problem["names"], design.X)
    prov_path = out / "provenance.json"
    history = []
    if prov_path.exists():
        try:
            history = json.loads(prov_path.read_text(encoding="utf-8")).get("invocations", [])
        except (ValueError, AttributeError):
            history = []
    history.append({**store.provenance(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    store.write_json(prov_path, {"invocations": history})
    return design, plan_runs(spec, design)


def _tasks(spec: BatchSpec, design: Design, plans: list[RunPlan], out: Path) -> Iterator[RunTask]:
    """Build tasks lazily (one scenario object at a time), in plan order."""
    bases: dict[str, Scenario] = {}
    for plan in plans:
        if plan.package not in bases:
            bases[plan.package] = spec.package_scenario(plan.package)
        params = design.point_values(plan.point)
        scenario = bases[plan.package].with_updates(params) if params else bases[plan.package]
        yield RunTask(plan=plan, scenario=scenario, parameters=params, out=str(out))


def run_batch(spec: BatchSpec, out: str | Path, *, workers: int | None = None, client: Any = None,
              progress: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None) -> BatchSummary:
    """Run (or resume) a batch, writing every run to ``out/runs/<run_id>.parquet``.

    Args:
        spec: The validated batch (:func:`sim.batch.load_batch`).
        out: The output folder; rerunning into the same folder skips finished runs and retries
            failed ones.
        workers: Local worker processes (1: serial in this process; None: one per CPU core).
            Ignored when ``client`` is given.
        client: A ``dask.distributed.Client``; runs are submitted to its cluster (workers must
            see ``out`` on a shared file system).
        progress: Show a tqdm bar with done / failed / remaining and ETA.
        on_result: Called in this process with each run's status dict as it arrives.

    Returns:
        A :class:`BatchSummary`; ``summary.failed`` counts runs that raised.
    """
    out = Path(out)
    design, plans = prepare(spec, out)
    store.remove_stale_temp_files(out)
    finished = store.finished_runs(out)
    status = store.run_status(out)
    pending = [p for p in plans if p.run_id not in finished]
    summary = BatchSummary(out=out, total=len(plans), skipped=len(plans) - len(pending))
    from tqdm.auto import tqdm

    with store.Manifest(out) as manifest:
        # A worker may have renamed its file into place just before a kill, before the manifest line.
        for plan in plans:
            if plan.run_id in finished and status.get(plan.run_id, {}).get("status") != "done":
                manifest.record({"run_id": plan.run_id, "status": "done", "recovered": True})
        bar = tqdm(total=len(plans), initial=summary.skipped, unit="run", desc=spec.name,
                   disable=not progress, dynamic_ncols=True)

        def handle(result: dict[str, Any]) -> None:
            entry = {k: v for k, v in result.items() if k != "traceback"}
            if result["status"] == "done":
                summary.done += 1
            else:
                summary.failed += 1
                summary.failures[result["run_id"]] = result.get("error", "")
                entry["traceback"] = result.get("traceback", "")
            manifest.record(entry)
            if on_result is not None:
                on_result(result)
            bar.set_postfix(done=summary.skipped + summary.done, failed=summary.failed,
                            remaining=len(pending) - summary.done - summary.failed, refresh=False)
            bar.update(1)

        tasks = _tasks(spec, design, pending, out)
        try:
            if client is not None:
                _run_dask(tasks, client, handle)
            elif (workers or os.cpu_count() or 1) <= 1:
                for task in tasks:
                    handle(execute_run(task))
            else:
                _run_processes(tasks, workers or os.cpu_count() or 1, handle)
        finally:
            bar.close()
    return summary


def _failure(task: RunTask, err: BaseException) -> dict[str, Any]:
    return {"run_id": task.plan.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
            "traceback": "".join(traceback.format_exception(err, limit=8))}


def _run_processes(tasks: Iterator[RunTask], workers: int, handle: Callable[[dict[str, Any]], None]) -> None:
    """Local worker processes ("spawn": no state inherited from the coordinator), bounded window."""
    window = 2 * workers
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        in_flight: dict[Future, RunTask] = {}
        try:
            for task in tasks:
                while len(in_flight) >= window:
                    _drain(in_flight, handle)
                in_flight[pool.submit(execute_run, task)] = task
            while in_flight:
                _drain(in_flight, handle)
        except BaseException:
            for fut in in_flight:
                fut.cancel()
            raise


def _drain(in_flight: dict[Future, RunTask], handle: Callable[[dict[str, Any]], None]) -> None:
    done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
    for fut in done:
        task = in_flight.pop(fut)
        err = fut.exception()
        handle(_failure(task, err) if err is not None else fut.result())


def _run_dask(tasks: Iterator[RunTask], client: Any, handle: Callable[[dict[str, Any]], None]) -> None:
    """Submit to a dask.distributed cluster, keeping about two runs per worker thread in flight."""
    from distributed import as_completed

    threads = sum(client.nthreads().values()) or 1
    window = 2 * threads
    futures: dict[Any, RunTask] = {}
    queue = as_completed()
    for task in tasks:
        while len(futures) >= window:
            _dask_one(queue, futures, handle)
        fut = client.submit(execute_run, task, pure=False, key=f"lifecircle-run-{task.plan.run_id}-{time.time_ns()}")
        futures[fut] = task
        queue.add(fut)
    while futures:
        _dask_one(queue, futures, handle)


def _dask_one(queue: Any, futures: dict[Any, RunTask], handle: Callable[[dict[str, Any]], None]) -> None:
    fut = next(queue)
    task = futures.pop(fut)
    if fut.status == "error":
        handle(_failure(task, fut.exception()))
    else:
        handle(fut.result())
    fut.release()
