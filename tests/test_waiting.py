"""How the compiled passes' threads wait between parallel loops (sim.services.blocks): a short spin
in a run of its own, asleep in a batch's or a calibration's workers, the user's OpenMP settings
kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sim.batch.executors import local_pool
from sim.services import blocks
from tests.conftest import ROOT

_WAITING = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

_CHILD = """
import json, os
import numpy as np
from numba import njit, prange
from sim.services import blocks
out = {"imported": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}}
if {asleep}:
    out["asleep"] = blocks.wait_asleep()
    out["after"] = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

@njit(parallel=True)
def total(x):
    s = 0.0
    for i in prange(x.shape[0]):
        s += x[i]
    return s

total(np.ones(1000))
out["once_started"] = blocks.wait_asleep()  # OpenMP has read its settings: too late to change them
print(json.dumps(out))
"""


def _child(asleep: bool = False, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in _WAITING}
    out = subprocess.run([sys.executable, "-c", _CHILD.replace("{asleep}", str(asleep))], check=True,
                         capture_output=True, text=True, cwd=ROOT, env={**clean, **env, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_run_of_its_own_spins_briefly_unless_the_user_set_openmp_waiting():
    assert _child()["imported"] == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": str(blocks.SHORT_SPIN)}
    assert _child(OMP_WAIT_POLICY="passive")["imported"] == {"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": None}
    assert _child(GOMP_SPINCOUNT="7")["imported"] == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "7"}


def test_a_worker_waits_asleep_if_it_asks_before_its_first_parallel_loop():
    out = _child(asleep=True)
    assert out["asleep"] is True
    assert out["after"] == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None}  # the inherited spin is gone
    assert out["once_started"] is False
    # A worker whose user asked for a policy keeps it.
    kept = _child(asleep=True, OMP_WAIT_POLICY="active")
    assert kept["after"] == {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": None}


def test_default_waiting_leaves_a_set_spin_alone():
    environ = {"GOMP_SPINCOUNT": "10000"}
    blocks.default_waiting(environ)
    assert environ == {"GOMP_SPINCOUNT": "10000"}
    environ = {}
    blocks.default_waiting(environ)
    assert environ == {"GOMP_SPINCOUNT": str(blocks.SHORT_SPIN)}


def test_local_batch_workers_wait_asleep():
    """A batch's local workers start from a coordinator that spins by default; they do not."""
    with local_pool(1) as pool:
        got = [pool.submit(os.getenv, k).result() for k in _WAITING]
    if "OMP_WAIT_POLICY" in os.environ:  # the user's policy is theirs to keep
        assert got[0] == os.environ["OMP_WAIT_POLICY"]
    else:
        assert got == ["PASSIVE", None]


def test_dask_workers_wait_asleep():
    """A batch sent to a Dask cluster registers the plugin (run_dask, here with no runs) before its
    first task; a worker started from this spinning process then waits asleep."""
    from sim.batch.cluster import local_client
    from sim.batch.executors import run_dask

    with local_client(1) as client:
        run_dask([], client, lambda result: None)
        got = [client.submit(os.getenv, k, pure=False).result() for k in _WAITING]
    if "OMP_WAIT_POLICY" in os.environ:
        assert got[0] == os.environ["OMP_WAIT_POLICY"]
    else:
        assert got == ["PASSIVE", None]
