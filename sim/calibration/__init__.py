"""Calibration of behavioural parameters against observed patterns: ABC-SMC with pyabc on Dask.

From Python or Jupyter::

    from sim.batch.cluster import local_client
    from sim.calibration import calibrate, load_calibration
    spec = load_calibration("scenarios/calibration/grid_behaviour.toml")
    with local_client(2) as client:
        result = calibrate(spec, "results/calibration", client=client)
    result.posterior            # the last generation: parameters, weights, distances, statistics

Modules: :mod:`~sim.calibration.spec` (the calibration file), :mod:`~sim.calibration.priors`,
:mod:`~sim.calibration.statistics` (targets' summary statistics), :mod:`~sim.calibration.simulate`
(one particle), :mod:`~sim.calibration.sampler` (pyabc's Dask sampler, seeded),
:mod:`~sim.calibration.runner` (run and resume), :mod:`~sim.calibration.outputs`,
:mod:`~sim.calibration.predictive`, :mod:`~sim.calibration.posterior` (drawing from a posterior,
for batches) and :mod:`~sim.calibration.cli`. See ``docs/calibration.md``.
"""

import importlib
from typing import Any

__all__ = ["CalibrationSpec", "calibrate", "calibration_from_dict", "load_calibration"]


def calibrate(*args, **kwargs):  # noqa: ANN002, ANN003 - see sim.calibration.runner.calibrate
    """:func:`sim.calibration.runner.calibrate` (imported on first use: pyabc is slow to import)."""
    from sim.calibration.runner import calibrate as run

    return run(*args, **kwargs)


def __getattr__(name: str) -> Any:
    # The file's schema is loaded on first use, so that the command line's parser stays light.
    if name in {"CalibrationSpec", "calibration_from_dict", "load_calibration"}:
        return getattr(importlib.import_module("sim.calibration.spec"), name)
    raise AttributeError(f"module 'sim.calibration' has no attribute {name!r}")
