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

import numpy as np
import pandas as pd

from sim import __version__
from sim.io.atomic import atomic_write_bytes
from sim.io.checkpoint import engine_fingerprint
from sim.batch import store
from sim.batch.design import Design, build_design
from sim.batch.plan import PlanShape, plan_shape
from sim.batch.spec import BatchSpec
from sim.io.inputs import input_digests
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
    twin_of: str | None = None
    """The run this one repeats exactly (a lever that is off varies; see :mod:`sim.batch.plan`): its
    file is a copy of that run's, never simulated."""


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run (picklable, small)."""

    plan: RunPlan
    scenario: Scenario
    parameters: dict[str, Any]
    out: str
    inputs: dict[str, str] = field(default_factory=dict)
    """SHA-256 of each input file when the batch was planned (the run refuses other contents)."""
    checkpoints: str | bool = True
    """Folder of the batch's settled starts (``DIR/checkpoints``), shared by every run of a seed;
    False: every run warms up on its own."""
    error: str | None = None
    """Why this run cannot be run (an infeasible design point); the run is recorded as failed."""
    engine: str = ""
    """The engine fingerprint the batch was planned with: a worker running other code refuses the run."""


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
    """Run files of this batch found damaged on resume, moved to ``corrupt/`` and computed again."""
    foreign: int = 0
    """Files in ``runs/`` that are not runs of this batch, moved to ``corrupt/`` on resume."""

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

    def __init__(self, spec: BatchSpec, design: Design, shape: PlanShape | None = None) -> None:
        self.spec = spec
        self.packages = spec.package_names()
        self._package_set = set(self.packages)
        self.points = design.n_points
        self.replications = spec.replications
        self.total = len(self.packages) * self.points * self.replications
        self._width_p = max(4, len(str(self.points - 1)))
        self._width_r = max(2, len(str(self.replications - 1)))
        self._seeds: dict[int, int] = {}
        self.shape = shape

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

    def _plan(self, package: str, point: int, rep: int) -> RunPlan:
        twin_of = None
        if self.shape is not None and self.shape.is_twin(package, point):
            original, original_point = self.shape.original(package, point)
            twin_of = self.run_id(original, original_point, rep)
        return RunPlan(run_id=self.run_id(package, point, rep), package=package, point=point, replicate=rep,
                       seed=self.seed(rep), twin_of=twin_of)

    def __iter__(self) -> Iterator[RunPlan]:
        """Every run, in the order it is computed: first the leader of each warm-up group (each
        replicate), so workers compute different warm-ups side by side; then the other runs, package
        by package; then the twins, which copy a run computed before them."""
        shape = self.shape
        if shape is None:
            for package in self.packages:
                for point in range(self.points):
                    for rep in range(self.replications):
                        yield self._plan(package, point, rep)
            return
        for package in self.packages:
            for point in np.flatnonzero(shape.leader[package]) if package in shape.leader else ():
                if not shape.is_twin(package, int(point)):
                    for rep in range(self.replications):
                        yield self._plan(package, int(point), rep)
        for package in self.packages:
            for point in range(self.points):
                if shape.is_leader(package, point) or shape.is_twin(package, point):
                    continue
                for rep in range(self.replications):
                    yield self._plan(package, point, rep)
        for package in self.packages:
            for point in range(self.points):
                if shape.is_twin(package, point):
                    for rep in range(self.replications):
                        yield self._plan(package, point, rep)

    def __contains__(self, run_id: object) -> bool:
        """Whether ``run_id`` names a run of this plan (exactly as :meth:`run_id` spells it)."""
        if not isinstance(run_id, str) or "-p" not in run_id or "-r" not in run_id:
            return False
        rest, _, rep = run_id.rpartition("-r")
        package, _, point = rest.rpartition("-p")
        if package not in self._package_set or not point.isdigit() or not rep.isdigit():
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
    if task.error is not None:
        return {"run_id": plan.run_id, "status": "failed", "error": task.error, "traceback": "", "seconds": 0.0}
    if plan.twin_of is not None:
        return copy_twin(task)
    try:
        if task.engine and engine_fingerprint() != task.engine:
            raise RuntimeError(
                f"this worker runs other lifecircle code (engine {engine_fingerprint()}) than the batch was "
                f"planned with (engine {task.engine}): it was started before the code changed. Restart the "
                f"workers (a Dask cluster's too) and resume the batch")
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


def copy_twin(task: RunTask) -> dict[str, Any]:
    """Write a twin run's file: its original's rows with the twin's own identifiers, parameter
    values and scenario hash (and its resolved scenario and accounts beside them)."""
    plan = task.plan
    started = time.perf_counter()
    try:
        out = Path(task.out)
        source = store.run_path(out, plan.twin_of)
        if not source.is_file():
            raise RuntimeError(f"its original run {plan.twin_of} has no result (failed or not run)")
        original = pd.read_parquet(source)
        scenario_hash = task.scenario.content_hash()
        resolved = out / "scenarios" / f"{plan.package}-{scenario_hash}.toml"
        if not resolved.exists():
            extra = {"seed": plan.seed, "lifecircle_version": __version__, "scenario_hash": scenario_hash}
            atomic_write_bytes(resolved, task.scenario.to_toml(extra=extra).encode())
        accounts = out / store.ACCOUNTS / f"{plan.twin_of}.csv"
        if accounts.is_file():
            atomic_write_bytes(out / store.ACCOUNTS / f"{plan.run_id}.csv", accounts.read_bytes())
        frame = tidy_frame(original, plan, task.parameters, scenario_hash)
        written = store.write_run_frame(out, plan.run_id, frame)
    except Exception as err:  # noqa: BLE001 - a failed copy is a failed run, like any other
        return {"run_id": plan.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=8), "seconds": time.perf_counter() - started}
    return {"run_id": plan.run_id, "status": "done", "rows": len(frame), "scenario_hash": scenario_hash,
            "twin_of": plan.twin_of, "warmup": "none", "seconds": time.perf_counter() - started, **written}


def _column(value: Any, n: int) -> pd.Series:
    """A parameter's column: int64, float64, bool, or text (a list or table as JSON)."""
    if isinstance(value, bool):
        return pd.Series([value] * n, dtype="bool")
    if isinstance(value, int):
        return pd.Series([value] * n, dtype="int64")
    if isinstance(value, float):
        return pd.Series([value] * n, dtype="float64")
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return pd.Series([text] * n, dtype="object")


def tidy_frame(timeseries: pd.DataFrame, plan: RunPlan, parameters: dict[str, Any],
               scenario_hash: str) -> pd.DataFrame:
    """One run's rows: identifiers, parameters (the run's value of every design variable,
    uncertainties and levers), seed and provenance, then day, month, indicator, value."""
    n = len(timeseries)
    columns: dict[str, Any] = {
        "run_id": [plan.run_id] * n,
        "package": [plan.package] * n,
        "point": pd.Series([plan.point] * n, dtype="int64"),
    }
    for name, value in parameters.items():
        columns[name] = _column(value, n)
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
    from sim.io.outdir import writable_dir

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


@dataclass
class Planned:
    """A batch's plan before anything is written: its design, its runs and what they read."""

    design: Design
    plans: RunPlans
    inputs: dict[str, dict[str, str]]
    """Each package's input files' SHA-256 (a lever mix reads what its base package reads)."""
    scenarios: dict[str, Scenario | None]
    """Each package's scenario before design points are applied (None: it cannot be built)."""
    errors: dict[str, str]
    """Package -> why its scenario cannot be built (an infeasible lever mix), naming file and mix."""


def plan_batch(spec: BatchSpec) -> Planned:
    """Sample the design, build every package's scenario, find twins and warm-up groups; writes nothing."""
    design = build_design(spec)
    inputs: dict[str, dict[str, str]] = {}
    scenarios: dict[str, Scenario | None] = {}
    errors: dict[str, str] = {}
    for package in spec.packages:
        scenarios[package] = spec.package_scenario(package)
        inputs[package] = input_digests(scenarios[package])
    for package in spec.mix_names():
        inputs[package] = inputs[spec.lever_base_package]
        try:
            scenarios[package] = spec.package_scenario(package)
        except ScenarioError as err:
            scenarios[package] = None
            errors[package] = f"infeasible lever mix: {err}"
    shape = plan_shape(spec.package_names(), scenarios, design)
    return Planned(design=design, plans=RunPlans(spec, design, shape), inputs=inputs, scenarios=scenarios,
                   errors=errors)


def prepare(spec: BatchSpec, out: str | Path) -> tuple[Design, RunPlans, dict[str, dict[str, str]]]:
    """Check ``out`` belongs to this batch (or is new); write the batch's description, provenance
    and design. Returns the design, the plan and each package's input digests."""
    planned = prepare_planned(spec, out)
    return planned.design, planned.plans, planned.inputs


def prepare_planned(spec: BatchSpec, out: str | Path) -> Planned:
    """:func:`prepare`, returning the whole :class:`Planned`."""
    out = Path(out)
    planned = plan_batch(spec)
    design = planned.design
    fingerprint = spec.fingerprint()
    described: dict[str, dict[str, dict[str, str]]] = {}
    for package in spec.packages:
        files = planned.scenarios[package].input_files()
        described[package] = {k: {"path": str(files[k]), "sha256": v} for k, v in planned.inputs[package].items()}
    info_path = out / store.BATCH_INFO
    if info_path.exists():
        old = store.read_batch_info(out)
        if old["fingerprint"] != fingerprint:
            changed = _changed_inputs(old.get("inputs", {}), described)
            if old.get("engine") not in (None, engine_fingerprint()):
                changed.append(f"the engine's code changed since its runs (engine {old['engine']}, now "
                               f"{engine_fingerprint()}: lifecircle was updated)")
            why = ("; ".join(changed) + "; ") if changed else ""
            raise ScenarioError(
                f"{out}: holds results of a different batch (fingerprint {old['fingerprint']}, this batch file "
                f"gives {fingerprint}); {why}resume only with the same batch file and input files, or choose "
                f"a new --out folder")
    seeds_listed = spec.replications <= 10_000
    levers = spec.lever_design_cached() if spec.levers else None
    info = {
        "name": spec.name, "description": spec.description, "fingerprint": fingerprint, "engine": engine_fingerprint(),
        "source": spec.source, "packages": spec.package_names(), "declared_packages": list(spec.packages),
        "baseline": spec.baseline_package,
        "design": design.method, "problem": design.problem, "design_options": design.options,
        "categories": design.categories,
        "levers": None if levers is None else {
            "problem": levers.problem, "method": levers.method, "categories": levers.categories,
            "base": spec.lever_base_package,
            "mixes": {name: levers.point_values(i) for i, name in enumerate(spec.mix_names())}},
        "labels": {key: rng.label for key, rng in {**spec.parameters, **spec.levers}.items() if rng.label},
        "outcomes": {name: o.model_dump(mode="json") for name, o in spec.outcomes.items()},
        "robust": spec.robust.model_dump(mode="json") if spec.robust is not None else None,
        "infeasible": planned.errors,
        "replications": spec.replications, "master_seed": spec.master_seed,
        "replicate_seeds": spec.replicate_seeds() if seeds_listed else
        "SeedSequence(master_seed).spawn(replications)[r].generate_state(1)[0] (not listed: > 10,000)",
        "years": spec.years, "indicators": spec.indicators, "overrides": spec.flat_overrides(),
        "inputs": described,
    }
    store.write_json(info_path, info)
    if spec.source != "<dict>" and Path(spec.source).is_file():
        atomic_write_bytes(out / "batch.toml", Path(spec.source).read_bytes())
    store.write_design(out, design.problem["names"], design.run_matrix(), design.X)
    prov_path = out / "provenance.json"
    history = []
    if prov_path.exists():
        try:
            history = json.loads(prov_path.read_bytes().decode("utf-8")).get("invocations", [])
        except (ValueError, AttributeError):
            history = []
    history.append({**store.provenance(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    store.write_json(prov_path, {"invocations": history})
    return planned


def dotted_value(scenario: Scenario, key: str) -> Any:
    """The value of a dotted key in a scenario (``levers.platform.commission`` -> 0.15)."""
    node: Any = scenario
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _tasks(spec: BatchSpec, planned: Planned, out: Path, skip: set[str], checkpoints: str | bool,
           twins: bool) -> Iterator[RunTask]:
    """Build tasks lazily (one scenario object at a time), in plan order, leaving out ``skip``;
    ``twins``: only the twins (copies), else only the runs that are simulated."""
    design = planned.design
    engine = engine_fingerprint()  # the planner's code: every task carries it, a worker running other code refuses
    # the run's value of every design variable: the uncertainties' (ranges or posterior keys) and levers'
    variables = [*design.problem["names"], *spec.levers]
    for plan in planned.plans:
        if plan.run_id in skip or (plan.twin_of is not None) != twins:
            continue
        base = planned.scenarios.get(plan.package)
        params = design.point_values(plan.point)
        error = planned.errors.get(plan.package)
        scenario = None
        if base is not None:
            try:
                scenario = base.with_updates(params) if params else base
            except ScenarioError as err:
                shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
                error = (f"{spec.source}: design point {plan.point} ({shown}), package '{plan.package}': infeasible: "
                         + str(err).split(": invalid scenario", 1)[-1].strip())
        values = {key: dotted_value(scenario, key) for key in variables} if scenario is not None else {}
        yield RunTask(plan=plan, scenario=scenario, parameters=values, out=str(out),
                      inputs=planned.inputs[plan.package], checkpoints=checkpoints, error=error,
                      engine=engine)


def _default_workers(spec: BatchSpec, planned: Planned) -> int:
    """One worker per core unless the batch is too small for workers to pay off (:mod:`sim.batch.workers`)."""
    from sim.batch.plan import describe
    from sim.batch.workers import default_workers, estimated_serial_seconds

    base = planned.scenarios[spec.baseline_package]
    names = list(planned.design.problem["names"])
    residents = base.population.residents
    if "population.residents" in names and planned.design.n_points:
        residents = int(np.mean(planned.design.X[:, names.index("population.residents")]))
    counts = describe(planned.plans.shape, spec.replications) if planned.plans.shape is not None else {"twins": 0}
    runs = planned.plans.total - counts["twins"]
    warmups = counts.get("warmups", runs) if base.warmup_years > 0 else 0
    serial = estimated_serial_seconds(runs=runs, residents=residents, days=spec.years * 365.25, warmups=warmups,
                                      warmup_days=base.warmup_years * 365.25)
    return default_workers(serial, runs=runs)


def run_batch(spec: BatchSpec, out: str | Path, *, workers: int | None = None, client: Any = None,
              progress: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None,
              check_memory: bool = True, worker_timeout: float | None = None, checkpoints: bool = True,
              checkpoint_dir: str | Path | None = None) -> BatchSummary:
    """Run (or resume) a batch, writing every run to ``out/runs/<run_id>.parquet``.

    Args:
        spec: The validated batch (:func:`sim.batch.load_batch`).
        out: The output folder; rerunning into the same folder skips verified runs, recomputes
            damaged ones and retries failed ones.
        workers: Local worker processes (1: serial in this process; None: up to one per CPU core,
            fewer -- down to serial -- when the batch is too small for workers to pay off,
            :mod:`sim.batch.workers`). Ignored when ``client`` is given.
        client: A ``dask.distributed.Client``; runs are submitted to its cluster (workers must
            see ``out`` on a shared file system).
        progress: Show a tqdm bar with done / failed / remaining and ETA.
        on_result: Called in this process with each run's status dict as it arrives.
        worker_timeout: Dask only: seconds to wait for a cluster that has no workers before the
            batch stops with :class:`~sim.batch.executors.BatchStopped` (default
            :data:`~sim.batch.executors.WORKER_TIMEOUT`).
        check_memory: Refuse, before any run, a local batch whose runs (one per worker) would not
            fit in this machine's free memory (:mod:`sim.io.memory`).
        checkpoints: Runs of the same seed (and district, people, economy) start from one settled
            state, warmed up once and kept in ``out/checkpoints`` (:mod:`sim.io.checkpoint`); False:
            every run warms up on its own (same results, more time).
        checkpoint_dir: Where the settled starts are kept (default ``out/checkpoints``); batches
            sharing it share their warm-ups (the robust search's generations do).

    Returns:
        A :class:`BatchSummary`; ``summary.failed`` counts runs that raised.

    Raises:
        ScenarioError: bad ``out`` (unwritable, another batch's, in use by another batch), runs that
            do not fit in memory.
        BatchStopped: the Dask cluster lost every worker or its scheduler; rerun to resume.
    """
    from tqdm.auto import tqdm

    from sim.batch.executors import WORKER_TIMEOUT, run_dask, run_processes, run_serial

    # Absolute before anything is handed to a worker: a Dask worker's working directory is not ours.
    out = batch_dir(Path(out).expanduser().resolve())
    with store.BatchLock(out):
        planned = prepare_planned(spec, out)
        design, plans = planned.design, planned.plans
        n_workers = 1 if client is not None else max(1, workers or _default_workers(spec, planned))
        if check_memory and client is None:
            from sim.io.memory import check_batch_fits

            check_batch_fits(spec, design, workers=min(n_workers, plans.total))
        store.remove_stale_temp_files(out)
        verified = store.verify_runs(out, store.done_digests(out), plans.__contains__)
        summary = BatchSummary(out=out, total=plans.total, skipped=len(verified.done),
                               recomputed=len(verified.moved) - len(verified.foreign), foreign=len(verified.foreign))
        pending = plans.total - summary.skipped
        with store.Manifest(out) as manifest:
            # A worker may have renamed its file into place just before a kill, before the manifest line.
            for run_id, digest in sorted(verified.recovered.items()):
                manifest.record({"run_id": run_id, "status": "done", "recovered": True, **digest})
            for run_id, reason in sorted(verified.moved.items()):
                status = "foreign" if run_id in verified.foreign else "damaged"
                manifest.record({"run_id": run_id, "status": status, "error": reason})
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

            if checkpoints:
                folder = Path(checkpoint_dir).expanduser().resolve() if checkpoint_dir else out / CHECKPOINTS
                shared: str | bool = str(folder)
            else:
                shared = False
            tasks = _tasks(spec, planned, out, verified.done, shared, twins=False)
            try:
                if client is not None:
                    run_dask(tasks, client, handle, worker_timeout=worker_timeout or WORKER_TIMEOUT)
                elif n_workers <= 1:
                    run_serial(tasks, handle)
                else:
                    run_processes(tasks, n_workers, handle)
                # Twins copy a finished run's file, here: no simulation, no worker.
                run_serial(_tasks(spec, planned, out, verified.done, shared, twins=True), handle)
            finally:
                bar.close()
    return summary
