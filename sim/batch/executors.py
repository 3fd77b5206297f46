"""Where a batch's runs execute: in this process, on local worker processes, or on a Dask cluster.

Each executor takes the coordinator's lazy stream of tasks and a ``handle`` callback for each run's
status dict, and keeps only a small window of runs in flight (two per worker), so memory does not
grow with the number of runs.

Faults:

* **A local worker process dies** (killed, out of memory, a crash in compiled code): Python's
  process pool then fails every run in flight and refuses new ones (``BrokenProcessPool``). The
  pool is started afresh and the runs that were in flight are run again *one at a time*: a run that
  kills its worker even when alone is recorded as failed (it would kill every retry), the others
  complete, and the batch goes on.
* **The coordinator is killed** (SIGKILL, the out-of-memory killer, a scheduler's time limit: no
  chance to stop its pool): each local worker notices within :data:`WATCH_SECONDS` and exits
  (:func:`exit_with`), instead of finishing its run for nobody and then waiting for work forever
  beside the batch that resumes.
* **A Dask cluster loses every worker**: runs wait on the scheduler for workers to come back for up
  to ``worker_timeout`` seconds, then the batch stops with :class:`BatchStopped` (exit status 3)
  saying so; the runs done so far are kept and rerunning the command resumes. Losing contact with
  the scheduler stops the batch the same way. A worker lost while others remain is Dask's business:
  the scheduler reruns its tasks elsewhere.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

Handle = Callable[[dict[str, Any]], None]

WORKER_TIMEOUT = 120.0
"""Seconds a Dask batch waits for a cluster with no workers before it stops (:class:`BatchStopped`)."""
POLL_SECONDS = 2.0
"""How often a waiting Dask coordinator looks at the cluster's workers."""


class BatchStopped(RuntimeError):
    """The batch cannot go on (its cluster lost every worker, or its scheduler); what is done is kept."""


PRELOAD = ("sim.batch.runner", "sim.run")
"""Modules a fork server imports once for every local worker it starts."""


def worker_context() -> Any:
    """How local workers start: from a fork server that has imported lifecircle once (``forkserver``
    with :data:`PRELOAD`), so each worker starts in milliseconds instead of importing everything
    again (4-7 s each on the development machine, which made a small batch slower on two workers
    than on one); where there is no fork server (Windows), ``spawn``. Either way a worker inherits
    nothing from the coordinating process."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


WATCH_SECONDS = 1.0
"""How often a local worker looks whether the process that started its pool is still there."""
ORPHANED = 75
"""Exit status of a local worker that ended because its coordinator had ended (:func:`exit_with`)."""


def local_pool(workers: int, context: Any = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` local processes (``context``: default :func:`worker_context`) that end
    when this process ends, however it ends (:func:`exit_with`), and whose compiled passes' threads
    wait asleep (:func:`start_worker`)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=context or worker_context(),
                               initializer=start_worker, initargs=(os.getpid(),))


def start_worker(coordinator: int) -> None:
    """A local worker's start: its threads wait asleep between parallel loops, not spinning
    (:func:`sim.services.blocks.wait_asleep`: the workers share the machine's cores), and it ends
    with ``coordinator`` (:func:`exit_with`)."""
    from sim.services.blocks import wait_asleep

    wait_asleep()
    exit_with(coordinator)


def exit_with(coordinator: int) -> None:
    """In a worker process: end it (exit status :data:`ORPHANED`) once ``coordinator`` has ended.

    A process pool's workers wait on a queue the coordinator feeds; if the coordinator is killed
    outright, nothing tells them, and each would finish the run in hand and then wait forever. A
    daemon thread looks every :data:`WATCH_SECONDS`. Not on Windows, where ``os.kill`` cannot ask
    whether a process exists (it would end it)."""
    if os.name == "nt":
        return

    def watch() -> None:
        while _alive(coordinator):
            time.sleep(WATCH_SECONDS)
        os._exit(ORPHANED)

    threading.Thread(target=watch, name=f"exit with {coordinator}", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (not ended, nor ended and waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the number now belongs to another user's process
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # Z: a zombie, ended
    except OSError:  # no /proc (macOS): kill's answer stands
        return True


def _failure(task: Any, err: BaseException) -> dict[str, Any]:
    return {"run_id": task.plan.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
            "traceback": "".join(traceback.format_exception(err, limit=8))}


def _default_run() -> Callable[[Any], dict[str, Any]]:
    from sim.batch.runner import execute_run

    return execute_run


def run_serial(tasks: Iterable[Any], handle: Handle, run: Callable[[Any], dict[str, Any]] | None = None) -> None:
    """Every run in this process, one after the other."""
    run = run or _default_run()
    for task in tasks:
        handle(run(task))


def run_processes(tasks: Iterable[Any], workers: int, handle: Handle,
                  run: Callable[[Any], dict[str, Any]] | None = None) -> None:
    """Local worker processes (:func:`worker_context`: no state inherited from the coordinator), bounded window;
    a dead worker's runs are run again (see the module docstring).

    Args:
        tasks: The runs, made lazily.
        workers: Worker processes.
        handle: Called with each run's status dict.
        run: The function a worker applies to a task (module level, picklable; default
            :func:`sim.batch.runner.execute_run`).
    """
    run = run or _default_run()
    context = worker_context()
    window = 2 * workers
    stream: Iterator[Any] = iter(tasks)
    suspects: deque[Any] = deque()  # in flight when a worker died: each is run again, alone
    pool = local_pool(workers, context)
    try:
        while True:
            if suspects:
                task = suspects.popleft()
                future = pool.submit(run, task)
                try:
                    handle(future.result())
                except BrokenProcessPool:
                    handle({"run_id": task.plan.run_id, "status": "failed",
                            "error": "WorkerDied: the worker process running it died (killed, out of memory or "
                                     "crashed), also when it ran alone", "traceback": ""})
                    pool = _restart(pool, workers, context)
                except Exception as err:  # noqa: BLE001 - a failed submission is a failed run
                    handle(_failure(task, err))
                continue
            in_flight: dict[Future, Any] = {}
            lost: list[Any] = []
            for task in stream:
                try:
                    future = pool.submit(run, task)
                except BrokenProcessPool:  # a worker died while the window was being filled
                    lost = [task, *_salvage(in_flight, handle)]
                    break
                in_flight[future] = task
                if len(in_flight) >= window:
                    lost = _drain(in_flight, handle)
                    if lost:
                        break
            else:
                while in_flight and not lost:
                    lost = _drain(in_flight, handle)
            if not lost:
                return
            warnings.warn(f"a batch worker process died; the {len(lost)} run(s) it and the other workers had "
                          f"in flight are run again, one at a time", stacklevel=2)
            suspects.extend(lost)
            pool = _restart(pool, workers, context)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _drain(in_flight: dict[Future, Any], handle: Handle) -> list[Any]:
    """Wait for a run to finish and handle what finished; when the pool broke, return every run
    that was in flight (emptying ``in_flight``) for a retry."""
    done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
    broken = False
    for future in done:
        task = in_flight.pop(future)
        err = future.exception()
        if isinstance(err, BrokenProcessPool):
            in_flight[future] = task  # retried below with the rest
            broken = True
        elif err is not None:
            handle(_failure(task, err))
        else:
            handle(future.result())
    return _salvage(in_flight, handle) if broken else []


def _salvage(in_flight: dict[Future, Any], handle: Handle) -> list[Any]:
    """After the pool broke: handle the runs that finished before it did; return (and forget) the rest."""
    lost = []
    for future, task in list(in_flight.items()):
        if future.done() and not future.cancelled() and future.exception() is None:
            handle(future.result())
        else:
            lost.append(task)
    in_flight.clear()
    return lost


def _restart(pool: ProcessPoolExecutor, workers: int, context: Any) -> ProcessPoolExecutor:
    pool.shutdown(wait=True, cancel_futures=True)
    return local_pool(workers, context)


# ----------------------------------------------------------------------------- Dask

def run_dask(tasks: Iterable[Any], client: Any, handle: Handle, *, worker_timeout: float = WORKER_TIMEOUT,
             run: Callable[[Any], dict[str, Any]] | None = None) -> None:
    """Submit to a dask.distributed cluster, keeping about two runs per worker thread in flight.

    Raises:
        BatchStopped: no worker for ``worker_timeout`` seconds, or the scheduler is gone.
    """
    from distributed import wait as dask_wait

    from sim.batch import worker_plugin

    worker_plugin.register(client)  # the workers' threads wait asleep between parallel loops
    run = run or _default_run()
    stream: Iterator[Any] = iter(tasks)
    futures: dict[Any, Any] = {}
    exhausted = False
    no_workers_since: float | None = None
    while True:
        threads = _threads(client)
        if threads:
            no_workers_since = None
        window = 2 * max(threads, 1)
        while not exhausted and len(futures) < window:
            task = next(stream, None)
            if task is None:
                exhausted = True
                break
            key = f"lifecircle-run-{task.plan.run_id}-{time.time_ns()}"
            futures[client.submit(run, task, pure=False, key=key)] = task
        if not futures:
            return
        try:
            done, _ = dask_wait(list(futures), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        if not done:
            if threads == 0:
                no_workers_since = no_workers_since or time.monotonic()
                if time.monotonic() - no_workers_since >= worker_timeout:
                    raise BatchStopped(
                        f"the Dask cluster at {client.scheduler.address} has had no workers for "
                        f"{worker_timeout:g} s with {len(futures)} run(s) waiting; the runs done so far are "
                        f"kept: rerun the same command to resume when the cluster has workers again")
            continue
        for future in done:
            task = futures.pop(future)
            if future.status == "error":
                handle(_failure(task, future.exception()))
            elif future.status == "finished":
                handle(future.result())
            else:
                raise BatchStopped(f"the Dask scheduler {client.scheduler.address} lost run {task.plan.run_id} "
                                   f"({future.status}); the runs done so far are kept: rerun the same command to "
                                   f"resume")
            future.release()


def _threads(client: Any) -> int:
    """Worker threads the cluster has now (asks the scheduler)."""
    try:
        return int(sum(client.nthreads().values()))
    except Exception as err:  # noqa: BLE001 - every way of losing the scheduler ends the same
        raise BatchStopped(f"lost contact with the Dask scheduler ({type(err).__name__}: {err}); the runs done "
                           f"so far are kept: rerun the same command to resume") from None
