"""Running a batch: serially, on local processes or on a Dask cluster, streaming runs to disk.

The coordinating process takes the batch folder's lock, checks that the folder is new or holds this
very batch (same fingerprint, which covers the contents of every input file), verifies the run
files already there, and walks the plan (packages x design points x replications) lazily, skipping
verified runs: neither planning nor the in-flight window grows with the number of runs. Each run is
executed by :func:`execute_run` in a worker, which checks that its input files are still those the
batch was planned with, writes its own Parquet file and returns a small status dict (with the file's
SHA-256); the coordinator appends that to the manifest. A run that raises is recorded as failed with
its message and the batch goes on; how lost workers are handled is up to the executor
(:mod:`sim.batch.executors`).

Every run's result depends only on its task (scenario + input contents + seed): the model seeds all
randomness from the scenario seed, so serial, process-pool and Dask batches give identical files.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from sim import __version__
from sim.atomic import atomic_write_bytes
from sim.batch import store
from sim.batch.design import Design, build_design
from sim.batch.spec import BatchSpec
from sim.inputs import input_digests
from sim.scenario import Scenario, ScenarioError


CHECKPOINTS = "checkpoints"
"""Sub-folder of a batch folder holding its settled starts (one per seed and warm-up basis)."""


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
    inputs: dict[str, str] = field(default_factory=dict)
    """SHA-256 of each input file when the batch was planned (the run refuses other contents)."""
    checkpoints: str | bool = True
    """Folder of the batch's settled starts (``DIR/checkpoints``), shared by every run of a seed;
    False: every run warms up on its own."""


@dataclass
class BatchSummary:
    """What a call of :func:`run_batch` did."""

    out: Path
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    recomputed: int = 0
    """Run files found damaged (or foreign) on resume, moved to ``corrupt/`` and computed again."""

    @property
    def ok(self) -> bool:
        """True when no run of this call failed."""
        return self.failed == 0


class RunPlans:
    """The runs of a batch in a fixed order -- package, then design point, then replicate -- made
    one at a time, so that a design of a million points times a hundred thousand replications costs
    the coordinator nothing before its first run.

    Replicate r has the same seed in every package and at every design point (common random
    numbers), so package differences are paired.
    """

    def __init__(self, spec: BatchSpec, design: Design) -> None:
        self.spec = spec
        self.packages = list(spec.packages)
        self.points = design.n_points
        self.replications = spec.replications
        self.total = len(self.packages) * self.points * self.replications
        self._width_p = max(4, len(str(self.points - 1)))
        self._width_r = max(2, len(str(self.replications - 1)))
        self._seeds: dict[int, int] = {}

    def run_id(self, package: str, point: int, replicate: int) -> str:
        """``<package>-p<point>-r<replicate>``, zero-padded to the batch's widths."""
        return f"{package}-p{point:0{self._width_p}d}-r{replicate:0{self._width_r}d}"

    def seed(self, replicate: int) -> int:
        """Replicate seed (see :meth:`BatchSpec.replicate_seed`), cached for the few most recent."""
        if replicate not in self._seeds:
            if len(self._seeds) > 4096:
                self._seeds.clear()
            self._seeds[replicate] = self.spec.replicate_seed(replicate)
        return self._seeds[replicate]

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[RunPlan]:
        for package in self.packages:
            for point in range(self.points):
                for rep in range(self.replications):
                    yield RunPlan(run_id=self.run_id(package, point, rep), package=package, point=point,
                                  replicate=rep, seed=self.seed(rep))

    def __contains__(self, run_id: object) -> bool:
        """Whether ``run_id`` names a run of this plan (exactly as :meth:`run_id` spells it)."""
        if not isinstance(run_id, str) or "-p" not in run_id or "-r" not in run_id:
            return False
        rest, _, rep = run_id.rpartition("-r")
        package, _, point = rest.rpartition("-p")
        if package not in self.spec.packages or not point.isdigit() or not rep.isdigit():
            return False
        p, r = int(point), int(rep)
        return p < self.points and r < self.replications and self.run_id(package, p, r) == run_id


def plan_runs(spec: BatchSpec, design: Design) -> list[RunPlan]:
    """Every run of the batch as a list (:class:`RunPlans` makes them one at a time)."""
    return list(RunPlans(spec, design))


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run one task and write its Parquet file; never raises (failures come back as a dict).

    This is the function workers execute; it must stay importable at module level.
    """
    from sim.run import run_scenario

    plan = task.plan
    started = time.perf_counter()
    try:
        now = input_digests(task.scenario)
        if task.inputs and now != task.inputs:
            changed = sorted(k for k in set(now) | set(task.inputs) if now.get(k) != task.inputs.get(k))
            files = task.scenario.input_files()
            raise RuntimeError(
                "input file(s) changed since the batch started: " + ", ".join(f"{k} ({files.get(k, '?')})" for k in changed)
                + "; this run would mix two versions of the inputs into one batch. Restore the file(s), or "
                  "start the batch again in a new --out folder")
        result = run_scenario(task.scenario, seed=plan.seed, keep_model=True, checkpoints=task.checkpoints)
        warmup = result.model.warmup_source if result.model is not None else "none"
        scenario = result.scenario
        scenario_hash = scenario.content_hash()
        out = Path(task.out)
        resolved = out / "scenarios" / f"{plan.package}-{scenario_hash}.toml"
        if not resolved.exists():
            extra = {"seed": plan.seed, "lifecircle_version": __version__, "scenario_hash": scenario_hash}
            atomic_write_bytes(resolved, scenario.to_toml(extra=extra).encode())
        if result.model is not None:
            atomic_write_bytes(out / store.ACCOUNTS / f"{plan.run_id}.csv",
                               result.model.ledger.accounts_csv().encode())
        result.model = None  # the model's arrays are freed before the rows are written
        frame = tidy_frame(result.timeseries, plan, task.parameters, scenario_hash)
        written = store.write_run_frame(out, plan.run_id, frame)
    except Exception as err:  # a failed run is data, not a crash of the batch
        return {"run_id": plan.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=8), "seconds": time.perf_counter() - started}
    return {"run_id": plan.run_id, "status": "done", "rows": len(frame), "scenario_hash": scenario_hash,
            "warmup": warmup, "seconds": time.perf_counter() - started, **written}


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

def batch_dir(out: str | Path) -> Path:
    """Create and check a batch's ``--out`` folder before anything else happens.

    Raises:
        ScenarioError: the folder cannot be written, or it holds files but no ``batch.json`` (not a
            batch folder, or one whose ``batch.json`` was deleted: its runs cannot be matched to a batch).
    """
    from sim.outdir import writable_dir

    out = writable_dir(out, option="--out")
    if not (out / store.BATCH_INFO).exists():
        others = sorted(p.name for p in out.iterdir() if p.name != store.LOCK)
        if others:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            raise ScenarioError(
                f"--out {out}: the folder holds files ({shown}) but no {store.BATCH_INFO}, so they cannot be "
                f"matched to this batch (not a batch folder, or its {store.BATCH_INFO} was deleted); "
                f"allowed: a new or empty folder, or the folder of this same batch")
    return out


def _changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Input files whose contents differ between two batch.json ``inputs`` tables."""
    lines = []
    for package, files in new.items():
        for key, now in files.items():
            before = old.get(package, {}).get(key)
            if isinstance(before, dict) and before.get("sha256") != now["sha256"]:
                lines.append(f"{key} of package '{package}' ({now['path']}) changed since those runs "
                             f"(SHA-256 {str(before.get('sha256'))[:12]}... now {now['sha256'][:12]}...)")
    return lines


def prepare(spec: BatchSpec, out: str | Path) -> tuple[Design, RunPlans, dict[str, dict[str, str]]]:
    """Check ``out`` belongs to this batch (or is new); write the batch's description, provenance
    and design. Returns the design, the plan and each package's input digests."""
    out = Path(out)
    design = build_design(spec)
    fingerprint = spec.fingerprint()
    inputs: dict[str, dict[str, str]] = {}
    described: dict[str, dict[str, dict[str, str]]] = {}
    for package in spec.packages:
        scenario = spec.package_scenario(package)
        inputs[package] = input_digests(scenario)
        files = scenario.input_files()
        described[package] = {k: {"path": str(files[k]), "sha256": v} for k, v in inputs[package].items()}
    info_path = out / store.BATCH_INFO
    if info_path.exists():
        old = store.read_batch_info(out)
        if old["fingerprint"] != fingerprint:
            changed = _changed_inputs(old.get("inputs", {}), described)
            why = ("; ".join(changed) + "; ") if changed else ""
            raise ScenarioError(
                f"{out}: holds results of a different batch (fingerprint {old['fingerprint']}, this batch file "
                f"gives {fingerprint}); {why}resume only with the same batch file and input files, or choose "
                f"a new --out folder")
    seeds_listed = spec.replications <= 10_000
    info = {
        "name": spec.name, "description": spec.description, "fingerprint": fingerprint,
        "source": spec.source, "packages": list(spec.packages), "baseline": spec.baseline_package,
        "design": design.method, "problem": design.problem, "design_options": design.options,
        "replications": spec.replications, "master_seed": spec.master_seed,
        "replicate_seeds": spec.replicate_seeds() if seeds_listed else
        "SeedSequence(master_seed).spawn(replications)[r].generate_state(1)[0] (not listed: > 10,000)",
        "years": spec.years, "indicators": spec.indicators, "overrides": spec.flat_overrides(),
        "inputs": described,
    }
    store.write_json(info_path, info)
    if spec.source != "<dict>" and Path(spec.source).is_file():
        atomic_write_bytes(out / "batch.toml", Path(spec.source).read_bytes())
    store.write_design(out, design.problem["names"], design.X)
    prov_path = out / "provenance.json"
    history = []
    if prov_path.exists():
        try:
            history = json.loads(prov_path.read_bytes().decode("utf-8")).get("invocations", [])
        except (ValueError, AttributeError):
            history = []
    history.append({**store.provenance(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    store.write_json(prov_path, {"invocations": history})
    return design, RunPlans(spec, design), inputs


def _tasks(spec: BatchSpec, design: Design, plans: RunPlans, out: Path, inputs: dict[str, dict[str, str]],
           skip: set[str], checkpoints: bool = True) -> Iterator[RunTask]:
    """Build tasks lazily (one scenario object at a time), in plan order, leaving out ``skip``."""
    store: str | bool = str(out / CHECKPOINTS) if checkpoints else False
    bases: dict[str, Scenario] = {}
    for plan in plans:
        if plan.run_id in skip:
            continue
        if plan.package not in bases:
            bases[plan.package] = spec.package_scenario(plan.package)
        params = design.point_values(plan.point)
        scenario = bases[plan.package].with_updates(params) if params else bases[plan.package]
        yield RunTask(plan=plan, scenario=scenario, parameters=params, out=str(out), inputs=inputs[plan.package],
                      checkpoints=store)


def run_batch(spec: BatchSpec, out: str | Path, *, workers: int | None = None, client: Any = None,
              progress: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None,
              check_memory: bool = True, worker_timeout: float | None = None, checkpoints: bool = True) -> BatchSummary:
    """Run (or resume) a batch, writing every run to ``out/runs/<run_id>.parquet``.

    Args:
        spec: The validated batch (:func:`sim.batch.load_batch`).
        out: The output folder; rerunning into the same folder skips verified runs, recomputes
            damaged ones and retries failed ones.
        workers: Local worker processes (1: serial in this process; None: one per CPU core).
            Ignored when ``client`` is given.
        client: A ``dask.distributed.Client``; runs are submitted to its cluster (workers must
            see ``out`` on a shared file system).
        progress: Show a tqdm bar with done / failed / remaining and ETA.
        on_result: Called in this process with each run's status dict as it arrives.
        worker_timeout: Dask only: seconds to wait for a cluster that has no workers before the
            batch stops with :class:`~sim.batch.executors.BatchStopped` (default
            :data:`~sim.batch.executors.WORKER_TIMEOUT`).
        check_memory: Refuse, before any run, a local batch whose runs (one per worker) would not
            fit in this machine's free memory (:mod:`sim.memory`).
        checkpoints: Runs of the same seed (and district, people, economy) start from one settled
            state, warmed up once and kept in ``out/checkpoints`` (:mod:`sim.checkpoint`); False:
            every run warms up on its own (same results, more time).

    Returns:
        A :class:`BatchSummary`; ``summary.failed`` counts runs that raised.

    Raises:
        ScenarioError: bad ``out`` (unwritable, another batch's, in use by another batch), runs that
            do not fit in memory.
        BatchStopped: the Dask cluster lost every worker or its scheduler; rerun to resume.
    """
    from tqdm.auto import tqdm

    from sim.batch.executors import WORKER_TIMEOUT, run_dask, run_processes, run_serial

    out = batch_dir(out)
    n_workers = 1 if client is not None else max(1, workers or os.cpu_count() or 1)
    with store.BatchLock(out):
        design, plans, inputs = prepare(spec, out)
        if check_memory and client is None:
            from sim.memory import check_batch_fits

            check_batch_fits(spec, design, workers=min(n_workers, plans.total))
        store.remove_stale_temp_files(out)
        verified = store.verify_runs(out, store.done_digests(out), plans.__contains__)
        summary = BatchSummary(out=out, total=plans.total, skipped=len(verified.done), recomputed=len(verified.moved))
        pending = plans.total - summary.skipped
        with store.Manifest(out) as manifest:
            # A worker may have renamed its file into place just before a kill, before the manifest line.
            for run_id, digest in sorted(verified.recovered.items()):
                manifest.record({"run_id": run_id, "status": "done", "recovered": True, **digest})
            for run_id, reason in sorted(verified.moved.items()):
                manifest.record({"run_id": run_id, "status": "damaged", "error": reason})
            bar = tqdm(total=plans.total, initial=summary.skipped, unit="run", desc=spec.name,
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
                                remaining=pending - summary.done - summary.failed, refresh=False)
                bar.update(1)

            tasks = _tasks(spec, design, plans, out, inputs, skip=verified.done, checkpoints=checkpoints)
            try:
                if client is not None:
                    run_dask(tasks, client, handle, worker_timeout=worker_timeout or WORKER_TIMEOUT)
                elif n_workers <= 1:
                    run_serial(tasks, handle)
                else:
                    run_processes(tasks, n_workers, handle)
            finally:
                bar.close()
    return summary
