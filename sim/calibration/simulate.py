"""One particle's simulation: parameter values -> a run from a settled start -> summary statistics.

A calibration does not warm a district up for every particle. It settles the district once per
*start seed* -- a small pool of seeds (``simulation.settled_seeds``) derived from the calibration's
seed -- with the scenario's own values of the calibrated parameters and every lever off, for
``simulation.warmup_years`` (by default the scenario's 20 years), and keeps each settled state as a
checkpoint in ``DIR/checkpoints`` (:mod:`sim.io.checkpoint`, the same store batches use;
:func:`settle_starts` computes them on the cluster before the first generation). A particle then

1. picks one of the start seeds and a fresh run seed, both from its job's seeded generator
   (:mod:`sim.calibration.sampler`);
2. builds the model of its own scenario (the calibrated values applied) on that seed's settled
   checkpoint -- the same district, households, outlets, cash and knowledge;
3. puts every named random stream at a fresh position derived from the run seed, so that particles
   sharing a start differ in their own noise as independent runs would;
4. simulates ``simulation.adjust_years`` under its own values (not measured: the district moves
   from the scenario's settled state towards the particle's) and then ``measure_years``, which the
   statistics read.

What the particle's values do before its start is the scenario's, not the particle's: a parameter
that acts only while a district is built (a spread of wages drawn on day one) can only act on what
happens afterwards. That is why only ``economy.*`` keys can be calibrated (:mod:`sim.calibration.spec`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibration.priors import scenario_values
from sim.calibration.spec import CalibrationSpec, SimulationConfig, TargetSpec
from sim.calibration.statistics import summary_statistics
from sim.io.checkpoint import Checkpoint, CheckpointStore, warmup_key
from sim.scenario import Scenario

SEED_LIMIT = 2**31 - 1
"""Run seeds are drawn from [0, SEED_LIMIT)."""

CHECKPOINTS = "checkpoints"
"""Sub-folder of a calibration folder holding its settled starts (one per start seed)."""

START_STREAM = 0x5E7
"""Spawn key of the start seeds under the calibration's seed."""


def start_seeds(seed: int, count: int) -> list[int]:
    """The ``count`` start seeds of a calibration with master ``seed`` (31-bit ints, distinct, fixed)."""
    words = np.random.SeedSequence([int(seed), START_STREAM]).generate_state(4 * count + 8, dtype=np.uint32)
    out: list[int] = []
    for word in words:
        value = int(word) & SEED_LIMIT
        if value not in out:
            out.append(value)
        if len(out) == count:
            return out
    raise RuntimeError("could not derive distinct start seeds")  # 2**-31 per pair: never in practice


class _SettledStart(CheckpointStore):
    """A store that hands one settled checkpoint to whatever model asks, whatever its warm-up key:
    the particle's scenario differs from the settled one only in the calibrated ``economy.*`` values,
    which the warm-up key counts but the settled arrays do not depend on."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__(".")
        self.checkpoint = checkpoint

    def load(self, key: str) -> Checkpoint:
        return self.checkpoint

    def save(self, key: str, checkpoint: Checkpoint) -> None:  # pragma: no cover - load never misses
        raise RuntimeError("a particle's settled start is read-only")


def settle(base: Scenario, seed: int, store: str | Path) -> str:
    """Make sure ``store`` holds the settled start of ``base`` with ``seed`` (computing and saving it
    if not; a lock per key lets one process compute it while others wait). Returns ``computed`` or
    ``checkpoint``."""
    from sim.model import LifeCircleModel

    only_start = base.with_updates({"years": 0.01})  # the measured years do not change the settled start
    model = LifeCircleModel(scenario=only_start, seed=int(seed), create_agents=False,
                            checkpoints=CheckpointStore(store))
    return model.warmup_source


@functools.lru_cache(maxsize=32)
def _load_start(store: str, key: str) -> Checkpoint | None:
    """A worker keeps the settled starts it has read (restoring copies every array it changes)."""
    return CheckpointStore(store).load(key)


def settled_checkpoint(base: Scenario, seed: int, store: str | Path) -> Checkpoint:
    """The settled start of ``base`` with ``seed`` from ``store`` (settled first if missing)."""
    key = warmup_key(base, int(seed))
    checkpoint = _load_start(str(store), key)
    if checkpoint is None:
        _load_start.cache_clear()
        settle(base, seed, store)
        checkpoint = _load_start(str(store), key)
    if checkpoint is None:  # pragma: no cover - settle() saves it
        raise RuntimeError(f"no settled start {key} in {store}")
    return checkpoint


def fresh_streams(model: Any, run_seed: int) -> None:
    """Put every named stream of ``model`` where a model seeded with ``run_seed`` would start it,
    and derive streams not used yet from ``run_seed`` too."""
    from sim.streams import Streams

    fresh = Streams(int(run_seed))
    for name in model.streams.used():
        model.streams[name].bit_generator.state = fresh[name].bit_generator.state
    model.streams.seed = int(run_seed)


def simulate(base: Scenario, values: dict[str, int | float], start_seed: int, run_seed: int,
             targets: dict[str, TargetSpec], simulation: SimulationConfig, *,
             store: str | Path | None) -> dict[str, float]:
    """Run ``base`` with ``values`` applied from the settled start of ``start_seed`` (fresh noise
    from ``run_seed``) through ``adjust_years`` and ``measure_years``; return each target's statistic.

    Args:
        base: The calibration's scenario (:meth:`CalibrationSpec.base_scenario`).
        values: Scenario updates (dotted ``economy.*`` keys), already rounded and within their priors.
        start_seed: The seed whose settled start the run begins from (one of :func:`start_seeds`).
        run_seed: Seed of the run's own random draws after its start.
        targets: What to measure.
        simulation: Adjustment and measured years, when survival is observed from.
        store: The folder of settled starts (``DIR/checkpoints``); None: warm up this run on its
            own, with ``values`` applied from the synthetic first day (no checkpoint read or written).
    """
    from sim.model import LifeCircleModel

    scenario = base.with_updates(values, source="calibration particle") if values else base
    if store is None or scenario.warmup_years == 0:
        model = LifeCircleModel(scenario=scenario, seed=int(start_seed), create_agents=False, checkpoints=False)
    else:
        start = settled_checkpoint(base, start_seed, store)
        model = LifeCircleModel(scenario=scenario, seed=int(start_seed), create_agents=False,
                                checkpoints=_SettledStart(start))
    fresh_streams(model, run_seed)
    model.run_for(model.days_total)
    return summary_statistics(model, targets, simulation)


@dataclass(frozen=True)
class ParticleModel:
    """The model pyabc calls: sampled parameters -> summary statistics of one simulation.

    Small and picklable (the scenario, the target definitions and the folder of settled starts), so
    that pyabc's Dask sampler ships it to workers with every job.
    """

    spec: CalibrationSpec
    base: Scenario
    store: str | None
    starts: tuple[int, ...]
    engine: str = ""
    """The engine fingerprint the calibration runs with: a worker running other code refuses its jobs."""

    @classmethod
    def of(cls, spec: CalibrationSpec, store: str | Path | None) -> ParticleModel:
        """The particle model of a calibration whose settled starts are in ``store``."""
        from sim.io.checkpoint import engine_fingerprint

        return cls(spec=spec, base=spec.base_scenario(), store=None if store is None else str(store),
                   starts=tuple(start_seeds(spec.seed, spec.simulation.settled_seeds)), engine=engine_fingerprint())

    def __call__(self, parameters: Any) -> dict[str, float]:
        from sim.io.checkpoint import engine_fingerprint

        if self.engine and engine_fingerprint() != self.engine:
            raise RuntimeError(f"this worker runs other lifecircle code (engine {engine_fingerprint()}) than the "
                               f"calibration (engine {self.engine}): restart the Dask workers and resume")
        # The job's generator was seeded from (master seed, generation, job id) just before pyabc
        # drew this particle's parameters from it, so these draws are reproducible too.
        start = self.starts[int(np.random.randint(0, len(self.starts)))]
        run_seed = int(np.random.randint(0, SEED_LIMIT))
        sampled = {key: float(parameters[key]) for key in self.spec.parameters}
        return simulate(self.base, scenario_values(self.spec, sampled), start, run_seed, self.spec.targets,
                        self.spec.simulation, store=self.store)


def settle_starts(spec: CalibrationSpec, store: str | Path, client: Any) -> dict[int, str]:
    """Settle every start seed of ``spec`` into ``store`` on ``client``'s cluster (one task per
    seed), before the first generation; returns each seed's ``computed`` or ``checkpoint``."""
    base = spec.base_scenario()
    seeds = start_seeds(spec.seed, spec.simulation.settled_seeds)
    if base.warmup_years == 0:
        return {s: "none" for s in seeds}
    Path(store).mkdir(parents=True, exist_ok=True)
    futures = [client.submit(settle, base, s, str(store), pure=False) for s in seeds]
    return dict(zip(seeds, client.gather(futures)))
