"""Running a calibration: pyabc's ABC-SMC on a Dask cluster, its history in ``DIR/abc.db``,
resumed after a kill by running the same command again.

The coordinating process takes the folder's lock, checks that the folder is new or holds this very
calibration (same fingerprint: priors, targets, simulation, ABC settings, scenario and input
contents; the stopping rule and the predictive check may change), and then either starts pyabc's
history (``ABCSMC.new``) or loads it (``ABCSMC.load``) and runs the generations still missing.
pyabc writes each generation to its SQLite database in one transaction when the generation is
complete, so a calibration killed mid-generation loses that generation's simulations and nothing
else; the rerun starts that generation again, with the same seeded jobs
(:mod:`sim.calibration.sampler`), and ends with the posterior an uninterrupted run would give.

Before the first generation the start seeds' settled districts are computed on the cluster, one
task per seed, into ``DIR/checkpoints`` (:func:`sim.calibration.simulate.settle_starts`); a rerun
finds them there. Workers of a ``--scheduler`` cluster must see ``DIR`` (a shared file system), as
batches' workers must see theirs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sim.calibration.simulate import CHECKPOINTS, settle_starts
from sim.calibration.spec import CalibrationSpec
from sim.scenario import ScenarioError

DB = "abc.db"
"""pyabc's history database in the calibration folder."""
INFO = "calibration.json"
"""The calibration's description: fingerprint, priors, targets, seed, provenance of each invocation."""
LOCK = ".lock"


@dataclass
class CalibrationResult:
    """What a call of :func:`calibrate` did and wrote."""

    out: Path
    generations: pd.DataFrame
    """One row per generation: t, epsilon, particles, simulations, acceptance_rate, end_time."""
    posterior: pd.DataFrame
    """The last generation: one row per particle (parameters, weight, distance, statistics)."""
    resumed_at: int
    """Generations already in the database when this call began (0: a new calibration)."""
    ran: int
    """Generations this call ran."""
    stopped: str
    """Why the calibration stopped: ``max_generations``, ``min_epsilon`` or ``max_walltime``."""
    paths: dict[str, Path] = field(default_factory=dict)
    """Files written, by kind."""


def db_url(out: Path) -> str:
    """The SQLAlchemy address of the history database in ``out``."""
    return f"sqlite:///{Path(out).resolve() / DB}"


def calibration_dir(out: str | Path, spec: CalibrationSpec) -> Path:
    """Create and check a calibration's ``--out`` folder.

    Raises:
        ScenarioError: the folder cannot be written; it holds another calibration (another
            fingerprint); or it holds files but no ``calibration.json``.
    """
    from sim.io.outdir import writable_dir

    out = writable_dir(out, option="--out")
    info = out / INFO
    if info.exists():
        old = read_info(out)
        if old.get("fingerprint") != spec.fingerprint():
            raise ScenarioError(
                f"--out {out}: holds another calibration (fingerprint {old.get('fingerprint')}, this file gives "
                f"{spec.fingerprint()}: priors, targets, simulation, ABC settings, the scenario, its input files "
                f"or the engine's code differ); resume only with the same calibration file (its [stop] and [predictive] may change), "
                f"or choose a new --out folder")
        return out
    others = sorted(p.name for p in out.iterdir() if p.name != LOCK)
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ScenarioError(f"--out {out}: the folder holds files ({shown}) but no {INFO}; allowed: a new or empty "
                            f"folder, or the folder of this same calibration")
    return out


def read_info(out: str | Path) -> dict[str, Any]:
    """``DIR/calibration.json``; a missing or damaged one is a clear error."""
    path = Path(out) / INFO
    if not path.is_file():
        raise ScenarioError(f"{out}: not a calibration folder (no {INFO}); run `lifecircle calibrate` first")
    try:
        info = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ScenarioError(f"{path}: damaged ({type(err).__name__}: {err})") from None
    if not isinstance(info, dict) or "fingerprint" not in info:
        raise ScenarioError(f"{path}: damaged (no fingerprint)")
    return info


class CalibrationLock:
    """An exclusive lock on a calibration folder while a calibration writes into it; the operating
    system drops a killed process's lock, so a killed calibration never blocks its own resume."""

    def __init__(self, out: Path) -> None:
        from filelock import FileLock

        self.out = Path(out)
        self._lock = FileLock(str(self.out / LOCK), timeout=0)

    def __enter__(self) -> CalibrationLock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise ScenarioError(f"--out {self.out}: another lifecircle calibration is writing into this folder "
                                f"(it holds {self.out / LOCK}); wait for it to finish, or choose another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _write_info(out: Path, spec: CalibrationSpec) -> None:
    from sim.batch.store import provenance, write_json

    path = out / INFO
    history = read_info(out).get("invocations", []) if path.exists() else []
    history.append({**provenance(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    write_json(path, {
        "name": spec.name, "description": spec.description, "fingerprint": spec.fingerprint(),
        "source": spec.source, "seed": spec.seed, "scenario": str(spec.scenario_path),
        "scenario_hash": spec.base_scenario().content_hash(), "overrides": spec.flat_overrides(),
        "simulation": spec.simulation.model_dump(mode="json"),
        "parameter_keys": list(spec.parameters),  # in the file's order (the tables below are sorted)
        "parameters": {k: {**p.model_dump(mode="json"), "integer": k in spec.integer_keys()}
                       for k, p in spec.parameters.items()},
        "targets": {k: t.model_dump(mode="json") for k, t in spec.targets.items()},
        "abc": spec.abc.model_dump(mode="json"), "stop": spec.stop.model_dump(mode="json"),
        "invocations": history,
    })
    if spec.source != "<dict>" and Path(spec.source).is_file():
        from sim.io.atomic import atomic_write_bytes

        atomic_write_bytes(out / "calibration.toml", Path(spec.source).read_bytes())


def build_abc(spec: CalibrationSpec, client: Any, *, store: str | Path | None, resume: bool = False) -> Any:
    """The ``pyabc.ABCSMC`` of a calibration on ``client``'s cluster whose particles start from the
    settled starts in ``store`` (``resume``: to continue a history that has generations already)."""
    import pyabc

    from sim.calibration.priors import pyabc_prior
    from sim.calibration.sampler import SeededDaskSampler
    from sim.calibration.simulate import ParticleModel

    if spec.abc.distance == "pnorm":
        weights = {name: 1.0 / t.tolerance for name, t in spec.targets.items()}
        distance = pyabc.PNormDistance(p=spec.abc.p, fixed_weights=weights)
    else:
        distance = pyabc.AdaptivePNormDistance(p=spec.abc.p)
    # The first generation accepts every prior draw (no separate calibration sample is simulated);
    # each later threshold is a quantile of the previous generation's distances. pyabc gives a
    # numeric initial epsilon to whichever generation a run() starts with, so a resumed run asks
    # for the threshold "from the sample" instead: the quantile of the last stored generation's
    # distances, as the uninterrupted run computed it.
    initial = "from_sample" if resume else np.inf
    eps = pyabc.QuantileEpsilon(initial_epsilon=initial, alpha=spec.abc.epsilon_quantile)
    return pyabc.ABCSMC(models=ParticleModel.of(spec, store), parameter_priors=pyabc_prior(spec),
                        distance_function=distance, population_size=pyabc.ConstantPopulationSize(spec.abc.population_size),
                        eps=eps, sampler=SeededDaskSampler(client, spec.seed))


def _has_history(out: Path) -> bool:
    if not (out / DB).is_file():
        return False
    import pyabc

    return pyabc.History(db_url(out), create=False).id is not None


def calibrate(spec: CalibrationSpec, out: str | Path, *, client: Any, progress: bool = True,
              log: Callable[[str], None] | None = None) -> CalibrationResult:
    """Run (or resume) a calibration into ``out`` and write its posterior, figures and predictive check.

    Args:
        spec: The validated calibration (:func:`sim.calibration.load_calibration`).
        out: The output folder; rerunning into it continues from the last complete generation.
        client: A ``distributed.Client`` (:func:`sim.batch.cluster.local_client` or a scheduler's).
        progress: Report each generation (pyabc's log lines) on stderr.
        log: Called with a line of news now and then (default: nothing).

    Returns:
        A :class:`CalibrationResult`.

    Raises:
        ScenarioError: bad ``out`` (unwritable, another calibration's, in use).
    """
    from sim.calibration.outputs import write_outputs
    from sim.calibration.predictive import predictive_check

    from sim.batch import worker_plugin

    say = log or (lambda _line: None)
    out = calibration_dir(out, spec)
    worker_plugin.register(client)  # the workers' threads wait asleep: settling, particles, checks
    with CalibrationLock(out), _pyabc_log(progress):
        _write_info(out, spec)
        resume = _has_history(out) and _stored_generations(out) > 0
        store = out.resolve() / CHECKPOINTS  # absolute: workers may run in another folder
        settled = settle_starts(spec, store, client)
        made = sum(v == "computed" for v in settled.values())
        if made:
            say(f"settled {made} start(s) of {spec.simulation.warmup_years:g} years in {store}")
        abc = build_abc(spec, client, store=store, resume=resume)
        if _has_history(out):
            history = abc.load(db_url(out), abc_id=_history_id(out))
        else:
            history = abc.new(db_url(out), spec.observed(), meta_info={"calibration": spec.name, "seed": spec.seed,
                                                                       "fingerprint": spec.fingerprint()})
        done = history.max_t + 1
        remaining = spec.stop.max_generations - done
        reached = done > 0 and _last_epsilon(history) <= spec.stop.min_epsilon
        if done:
            say(f"{done} generation(s) already done in {out / DB}; continuing from generation {done}")
        ran = 0
        if remaining > 0 and not reached:
            # pyabc draws nothing in this process that decides a particle (jobs are seeded on the
            # workers), but seed it anyway so nothing here depends on the clock.
            np.random.seed(np.random.SeedSequence([spec.seed, 0xC0]).generate_state(4))
            walltime = (timedelta(minutes=spec.stop.max_walltime_minutes)
                        if spec.stop.max_walltime_minutes is not None else None)
            # pyabc's stopping check subtracts the first generation's threshold (inf) from the one
            # before it (none: inf); the NaN it gets is harmless (min_eps_diff is 0), not a warning.
            with np.errstate(invalid="ignore"):
                abc.run(minimum_epsilon=spec.stop.min_epsilon, max_nr_populations=remaining, max_walltime=walltime)
            history = abc.history
            ran = history.max_t + 1 - done
        total = history.max_t + 1
        if total >= spec.stop.max_generations:
            stopped = "max_generations"
        elif total and _last_epsilon(history) <= spec.stop.min_epsilon:
            stopped = "min_epsilon"
        else:
            stopped = "max_walltime"
        paths, generations, posterior = write_outputs(spec, history, out)
        if spec.predictive.draws:
            say(f"posterior predictive check: {spec.predictive.draws} simulations")
            paths.update(predictive_check(spec, posterior, out, client=client, store=store))
    return CalibrationResult(out=out, generations=generations, posterior=posterior, resumed_at=done, ran=ran,
                             stopped=stopped, paths=paths)


def _stored_generations(out: Path) -> int:
    import pyabc

    return int(pyabc.History(db_url(out), create=False).max_t + 1)


def _history_id(out: Path) -> int:
    import pyabc

    return int(pyabc.History(db_url(out), create=False).id)


def _last_epsilon(history: Any) -> float:
    populations = history.get_all_populations()
    populations = populations[populations["t"] >= 0]
    return float(populations.sort_values("t")["epsilon"].iloc[-1]) if len(populations) else float("inf")


class _pyabc_log:
    """pyabc's "ABC" logger at INFO (its per-generation lines) while ``progress``, else WARNING."""

    def __init__(self, progress: bool) -> None:
        self.level = logging.INFO if progress else logging.WARNING
        self.logger = logging.getLogger("ABC")

    def __enter__(self) -> None:
        import pyabc  # noqa: F401 - importing pyabc sets the logger's level; set ours after it

        self.before = self.logger.level
        self.logger.setLevel(self.level)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.before)
