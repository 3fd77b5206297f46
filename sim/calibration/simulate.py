"""One particle's simulation: parameter values -> a fresh, seeded run -> summary statistics.

:class:`ParticleModel` is the model pyabc calls (on a Dask worker): it turns the sampled values
into scenario values (:func:`sim.calibration.priors.scenario_values`), draws the run's seed from
the job's seeded NumPy generator (:mod:`sim.calibration.sampler`), warms the district up from its
synthetic first day and measures it (:func:`simulate`). Nothing is read from or written to a
checkpoint store: every particle has its own economy, so its warm-up is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calibration.priors import scenario_values
from sim.calibration.spec import CalibrationSpec, SimulationConfig, TargetSpec
from sim.calibration.statistics import summary_statistics
from sim.scenario import Scenario

SEED_LIMIT = 2**31 - 1
"""Run seeds are drawn from [0, SEED_LIMIT)."""


def simulate(base: Scenario, values: dict[str, int | float], seed: int, targets: dict[str, TargetSpec],
             simulation: SimulationConfig) -> dict[str, float]:
    """Run ``base`` with ``values`` applied (warm-up, then the measured years, every lever as the
    scenario has it) with ``seed``; return each target's statistic.

    Args:
        base: The calibration's scenario (:meth:`CalibrationSpec.base_scenario`).
        values: Scenario updates (dotted keys), already rounded and within their priors.
        seed: The run's master seed.
        targets: What to measure.
        simulation: Warm-up, measured years and the survival cohort.
    """
    from sim.model import LifeCircleModel

    scenario = base.with_updates(values, source="calibration particle") if values else base
    model = LifeCircleModel(scenario=scenario, seed=seed, create_agents=False, checkpoints=False)
    model.run_for(model.days_total)
    return summary_statistics(model, targets, simulation)


@dataclass(frozen=True)
class ParticleModel:
    """The model pyabc calls: sampled parameters -> summary statistics of one simulation.

    Small and picklable (the scenario and the target definitions), so that pyabc's Dask sampler
    ships it to workers with every job.
    """

    spec: CalibrationSpec
    base: Scenario

    @classmethod
    def of(cls, spec: CalibrationSpec) -> ParticleModel:
        """The particle model of a calibration."""
        return cls(spec=spec, base=spec.base_scenario())

    def __call__(self, parameters: Any) -> dict[str, float]:
        # The job's generator was seeded from (master seed, generation, job id) just before pyabc
        # drew this particle's parameters from it, so this draw is reproducible too.
        seed = int(np.random.randint(0, SEED_LIMIT))
        sampled = {key: float(parameters[key]) for key in self.spec.parameters}
        return simulate(self.base, scenario_values(self.spec, sampled), seed, self.spec.targets, self.spec.simulation)
