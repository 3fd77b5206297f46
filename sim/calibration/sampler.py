"""pyabc's Dask sampler with seeded jobs, so that the same calibration file and seed give the same
posterior on any number of workers.

pyabc's :class:`pyabc.sampler.DaskDistributedSampler` draws parameters and runs simulations in
jobs on the Dask workers; each job first reseeds NumPy's global generator *from the operating
system* (``np.random.seed()``), so two runs of one calibration differ. Its bookkeeping is otherwise
deterministic: jobs are numbered, and a generation keeps exactly the jobs up to the one that
brought the ``n``-th acceptance *in job order*, whatever order they finished in.

:class:`SeededDaskSampler` keeps pyabc's sampler and its loop, and only changes what each job
seeds with: the job function pyabc submits is swapped, on the way to the Dask client, for
:func:`seeded_job`, which seeds NumPy's (and Python's) global generator from
``SeedSequence([seed, generation, job id])`` and then does what pyabc's own job function does. A
job's particle -- parameters drawn, simulation seed, statistics -- then depends only on the seed,
the generation and the job id, so the accepted population does not depend on the number of
workers, on their speed, or on a kill and resume between generations.

NumPy's and Python's global generators are one per process: a Dask worker with several threads (a
``--scheduler`` cluster's default: one per core) would run several jobs at once, each reseeding and
drawing from the same generators, and a particle would depend on the threads' timing. Each job
therefore holds a process-wide lock (:data:`GLOBAL_GENERATORS`) from its seeding to its last draw:
a worker process runs its jobs one at a time, whatever its thread count.

What stays unreproducible is pyabc's count of evaluations: it counts every job it submitted,
including those it cancelled once enough particles were accepted, so the acceptance rates in the
history vary with the timing (the particles, weights, distances and thresholds do not).
"""

from __future__ import annotations

import random
import threading
from typing import Any

import numpy as np
from pyabc.sampler import DaskDistributedSampler
from pyabc.sampler.eps_mixin import _global_full_submit_function_pickle


def job_seed(seed: int, generation: int, job_id: int) -> np.ndarray:
    """The 32-bit words that seed job ``job_id`` of ``generation`` (-1: pyabc's prior calibration sample)."""
    return np.random.SeedSequence([int(seed), int(generation) + 1, int(job_id)]).generate_state(4)


GLOBAL_GENERATORS = threading.Lock()
"""Held by a job from seeding NumPy's and Python's global generators to its last draw from them."""


def seeded_job(simulate_one_pickle: bytes, batch_size: int, job_id: list[int], seed: int, generation: int) -> list:
    """pyabc's job (``_global_full_submit_function_pickle``) with the global generators seeded from
    (seed, generation, first job id) instead of from the operating system, and to itself while it
    runs (:data:`GLOBAL_GENERATORS`: the jobs of a worker with several threads take turns)."""
    import cloudpickle

    simulate_one = cloudpickle.loads(simulate_one_pickle)
    words = job_seed(seed, generation, job_id[0])
    with GLOBAL_GENERATORS:
        random.seed(int.from_bytes(words.tobytes(), "little"))
        np.random.seed(words)
        batch = []
        for j in range(batch_size):
            result = simulate_one()
            batch.append((result, result.accepted, job_id[j]))
    return batch


class _SeedingClient:
    """A Dask client as pyabc's sampler sees it: ``submit`` swaps pyabc's job function for
    :func:`seeded_job`; everything else goes to the real client."""

    def __init__(self, client: Any, sampler: SeededDaskSampler) -> None:
        self._client = client
        self._sampler = sampler

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is not _global_full_submit_function_pickle:
            raise RuntimeError("pyabc submitted a job function SeededDaskSampler does not know; the pyabc version "
                               "differs from the one this module was written for (0.13)")
        simulate_one_pickle, batch_size, job_id = args
        return self._client.submit(seeded_job, simulate_one_pickle, batch_size, job_id, self._sampler.seed,
                                   self._sampler.generation, pure=False, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class SeededDaskSampler(DaskDistributedSampler):
    """:class:`pyabc.sampler.DaskDistributedSampler` whose jobs are seeded from ``seed`` (see the
    module docstring).

    Args:
        client: A ``distributed.Client`` (of a ``LocalCluster`` or a scheduler address).
        seed: The calibration's master seed.
        batch_size: Particles per Dask job (1: a particle of this model takes seconds).
    """

    def __init__(self, client: Any, seed: int, *, batch_size: int = 1) -> None:
        self.seed = int(seed)
        self.generation = -1
        super().__init__(dask_client=_SeedingClient(client, self), default_pickle=True, batch_size=batch_size)

    def sample_until_n_accepted(self, n: int, simulate_one: Any, t: int, **kwargs: Any) -> Any:
        """pyabc's sampling loop, with the generation ``t`` known to the seeding client."""
        self.generation = int(t)
        return super().sample_until_n_accepted(n, simulate_one, t, **kwargs)
