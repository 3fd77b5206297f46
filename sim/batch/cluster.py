"""Connecting to a Dask scheduler: the address checked, the other end asked who it is, a time limit.

``lifecircle batch --scheduler ADDRESS`` must fail fast and clearly on a malformed address, on one
nobody listens at, and on one where something other than a Dask scheduler answers (a web server,
a worker): each is a :class:`~sim.scenario.ScenarioError` (exit status 2) naming the address and
what is allowed, after at most ``timeout`` seconds -- never a hang or a traceback. ``lifecircle
calibrate`` connects the same way, and starts a ``LocalCluster`` of its own for ``--workers``
(:func:`local_client`).
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Any, Iterator

from sim.scenario import ScenarioError

SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
"""Dask transports that reach a scheduler in another process (``inproc://`` does not)."""
CONNECT_TIMEOUT = 20.0
"""Seconds to reach the scheduler and hear it answer."""

_ALLOWED = "allowed: a Dask scheduler address such as tcp://host:8786 (schemes: " + ", ".join(SCHEMES) + ")"


def check_address(address: str) -> str:
    """``address`` if it is well formed (``scheme://host:port``); otherwise a ScenarioError."""
    from distributed.comm.addressing import parse_address, parse_host_port

    where = f"--scheduler {address!r}"
    try:
        scheme, location = parse_address(address, strict=True)
    except ValueError:
        raise ScenarioError(f"{where}: not an address (no scheme://); {_ALLOWED}") from None
    if scheme not in SCHEMES:
        raise ScenarioError(f"{where}: scheme {scheme!r} cannot reach a scheduler in another process; {_ALLOWED}")
    try:
        host, port = parse_host_port(location)
    except ValueError as err:
        raise ScenarioError(f"{where}: {err}; {_ALLOWED}") from None
    if not host or not 0 < int(port) < 65536:
        raise ScenarioError(f"{where}: needs a host and a port from 1 to 65535; {_ALLOWED}")
    return address


async def _identity(address: str, timeout: float) -> dict[str, Any]:
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity"})
        return await comm.read()
    finally:
        comm.abort()


def probe(address: str, *, timeout: float = CONNECT_TIMEOUT) -> dict[str, Any]:
    """Ask the process at ``address`` who it is, within ``timeout`` seconds; it must be a Dask scheduler.

    Raises:
        ScenarioError: nobody answers, something else answers, or it does not answer in time.
    """
    check_address(address)
    where = f"--scheduler {address!r}"
    try:
        identity = asyncio.run(asyncio.wait_for(_identity(address, timeout), timeout + 5))
    except (TimeoutError, asyncio.TimeoutError):
        raise ScenarioError(f"{where}: no Dask answer within {timeout:g} s (is it a Dask scheduler's address?); "
                            f"{_ALLOWED}") from None
    except Exception as err:  # noqa: BLE001 - refused, unreachable, closed, not Dask's protocol ...
        raise ScenarioError(f"{where}: cannot reach a Dask scheduler ({type(err).__name__}: {err})") from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        kind = identity.get("type") if isinstance(identity, dict) else type(identity).__name__
        raise ScenarioError(f"{where}: answered as {kind!r}, not as a Dask scheduler; {_ALLOWED}")
    return identity


def connect_client(address: str, *, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, checked first with :func:`probe`."""
    try:
        from distributed import Client
    except ImportError:
        raise ScenarioError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
    probe(address, timeout=timeout)
    try:
        return Client(address, timeout=f"{timeout:g}s")
    except (OSError, TimeoutError) as err:
        raise ScenarioError(f"--scheduler {address!r}: cannot connect ({err})") from None


@contextmanager
def local_client(workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` of a new ``LocalCluster`` of ``workers`` single-threaded worker
    processes on this machine (no dashboard), closed with the cluster on leaving the block.

    Batches run their local workers in a process pool (:func:`sim.batch.executors.run_processes`);
    calibrations use pyabc's Dask sampler, which needs a Dask client even on one machine.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError("--workers needs dask.distributed (pip install 'dask[distributed]')") from None
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client
