"""The Dask worker plugin of lifecircle's batches and calibrations: threads that wait asleep.

Several Dask workers share a machine's cores, so their compiled passes' threads wait asleep between
parallel loops instead of spinning (:func:`sim.services.blocks.wait_asleep`). The plugin runs on
every worker of the client's cluster, those that join later included, before the worker's first
task. Registered where models are sent to Dask workers: :func:`sim.batch.executors.run_dask`
(batches) and :func:`sim.calibration.runner.calibrate`. Imported only there (it needs
``distributed``).
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

NAME = "lifecircle-wait-asleep"


class WaitAsleep(WorkerPlugin):
    """Sets ``OMP_WAIT_POLICY=PASSIVE`` in a worker (unless ``OMP_WAIT_POLICY`` is set there)."""

    def setup(self, worker: Any) -> None:
        from sim.services.blocks import wait_asleep

        wait_asleep()


def register(client: Any) -> Any:
    """Register :class:`WaitAsleep` on ``client``'s workers (once per client: the same name
    replaces it); returns the client."""
    client.register_plugin(WaitAsleep(), name=NAME)
    return client
