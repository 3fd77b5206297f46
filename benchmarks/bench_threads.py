"""Benchmark: a day of 1,000,000 residents on one thread and on two, and that both give the same results.

Run from the repository root (each measurement in a fresh subprocess; figures to stdout):

    .venv/bin/python benchmarks/bench_threads.py                    # 1,000,000 residents, 61 days, 1 and 2 threads
    .venv/bin/python benchmarks/bench_threads.py --repeats 3        # alternate 1, 2, 1, 2, ...; best and medians
    .venv/bin/python benchmarks/bench_threads.py --residents 200000 --threads 1 2 4

The scenario is ``bench_model.py``'s scaling point: ``scenarios/baseline.toml`` with the grid scaled
to ~7,800 residents per km2, no warm-up, 61 days from 1 January (two month ends); with ``--settled
STORE``, from the settled city instead (the scenario's 20-year warm-up, made once into the
checkpoint folder STORE and loaded by every run). The thread count is
set with ``LIFECIRCLE_THREADS`` (:mod:`sim.services.blocks`). Printed per thread count: wall ms per
simulated day (and process CPU ms: with two threads CPU exceeds wall), the same for the days without
a month end (the daily rules) and seconds per month end (accounts, jobs, entry, indicators: mostly
serial), ms per day of each phase (``sim.timing.PhaseTimer``), the ratio of each to the one-thread time, and whether every run gave
bit-identical indicator records and final state (a digest of them). The machine's load average is
printed before and after: on a shared machine other work steals the second core and the ratio with it.
So is a probe of the machine itself (:func:`machine_probe`: a compute loop, a random gather and a
stream on one thread and on two, in a fresh interpreter): on a shared virtual machine the second
core's share of the memory bandwidth comes and goes, and with it any memory-bound pass's ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_LIBRARY_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""NumPy's linear-algebra libraries on one thread in the child processes: only numba's threads vary."""


def run_child(residents: int, days: int, settled: str | None = None) -> dict[str, object]:
    """Build and run the scenario in this process; timings, phases and a digest of the results."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_model import grid_updates

    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario
    from sim.services import blocks
    from sim.timing import PhaseTimer

    # Load every compiled kernel (numba's on-disk cache) before timing: a small model run in small
    # blocks uses the blocked kernels too.
    block = blocks.RESIDENT_BLOCK
    blocks.RESIDENT_BLOCK = 512
    warm = load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(2000, 0.2))
    LifeCircleModel(scenario=warm, create_agents=False).run_for(35)
    blocks.RESIDENT_BLOCK = block

    threads = blocks.use_threads()
    updates = grid_updates(residents, 1.0)
    if settled:  # the scenario's own warm-up, kept in (or loaded from) the checkpoint store ``settled``
        del updates["warmup_years"]
    scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates=updates)
    t0 = time.perf_counter()
    model = LifeCircleModel(scenario=scenario, create_agents=False, checkpoints=settled or None)
    build_s = time.perf_counter() - t0
    model.phase_timer = PhaseTimer()
    scenario_month = model.month
    ordinary, month_end = 0.0, 0.0  # wall seconds of days without and with a month end
    t1, c1 = time.perf_counter(), time.process_time()
    for _ in range(days):
        month, t = model.month, time.perf_counter()
        model.step()
        if model.month == month:
            ordinary += time.perf_counter() - t
        else:
            month_end += time.perf_counter() - t
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    month_ends = model.month - scenario_month
    digest = hashlib.sha256(model.timeseries().to_csv().encode())
    for array in (model.ledger.resident_cash, model.ledger.merchant_cash, model.population.knows,
                  model.merchants.open, model.merchants.visits_month, model.merchants.revenue_month,
                  model.unmet_this_month, model.day_buffers.chosen, model.day_buffers.outcome):
        digest.update(array.tobytes())
    return {"threads": threads, "residents": model.population.n, "blocks": model.day_buffers.n_blocks,
            "days": days, "build_s": build_s, "wall_s": wall, "cpu_s": cpu, "ordinary_s": ordinary,
            "month_end_s": month_end, "month_ends": month_ends,
            "phases": dict(model.phase_timer.seconds), "digest": digest.hexdigest()}


def machine_probe(repeats: int = 7) -> dict[str, float]:
    """The machine's own scaling to two threads, whatever the model does: three compiled loops over
    arrays of the day's size (a compute loop, a random gather, a stream), each the best of ``repeats``
    calls on one thread and on two; returns each loop's two-thread time as a share of its one-thread
    time. A shared virtual machine's second core and memory bandwidth come and go: a probe before and
    after the runs tells the machine's variation from the code's."""
    import numba
    import numpy as np
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def compute(n):  # pragma: no cover - compiled
        out = np.zeros(16)
        for b in prange(16):
            x = 0.0
            for i in range(n):
                x += np.sqrt(i * 1.0 + b)
            out[b] = x
        return out.sum()

    @njit(parallel=True, cache=False)
    def gather(a, idx, out):  # pragma: no cover - compiled
        for i in prange(idx.shape[0]):
            out[i] = a[idx[i]] * 2.0

    rng = np.random.default_rng(0)
    a = rng.random(8_000_000)
    idx, out = rng.integers(0, len(a), 4_000_000), np.empty(4_000_000)
    loops = {"compute": (compute, (1_500_000,)), "random gather": (gather, (a, idx, out)),
             "stream": (gather, (a, np.arange(len(idx)) * 2, out))}
    shares = {}
    for name, (fn, fn_args) in loops.items():
        best = {}
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            fn(*fn_args)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn(*fn_args)
                times.append(time.perf_counter() - start)
            best[threads] = min(times)
        shares[name] = best[2] / best[1]
    return shares


def probe_line(label: str) -> str:
    """One line of :func:`machine_probe`'s shares, measured in a fresh interpreter."""
    env = {**os.environ, **ONE_LIBRARY_THREAD}
    out = subprocess.run([sys.executable, __file__, "--probe"], check=True, capture_output=True, text=True, env=env)
    shares = json.loads(out.stdout.strip().splitlines()[-1])
    return (f"machine probe {label} (two threads against one, the best of 7 calls each; ~50 % is a free second "
            f"core): " + ", ".join(f"{name} {share:.1%}" for name, share in shares.items()))


def measure(residents: int, days: int, threads: int, settled: str | None = None) -> dict[str, object]:
    """One run in a fresh interpreter with ``LIFECIRCLE_THREADS=threads`` (NumPy single-threaded)."""
    env = {**os.environ, **ONE_LIBRARY_THREAD, "LIFECIRCLE_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    env.pop("LIFECIRCLE_BLOCK_RESIDENTS", None)
    spec = json.dumps({"residents": residents, "days": days, "settled": settled})
    out = subprocess.run([sys.executable, __file__, "--child", spec], check=True, capture_output=True, text=True,
                         cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=61, help="days from 1 January (61: two month ends)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (the first is the reference)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each thread count, in turn; the best is kept (and from three runs the "
                             "medians are printed too)")
    parser.add_argument("--settled", metavar="STORE",
                        help="start from the settled city (the scenario's 20-year warm-up, computed once into the "
                             "checkpoint folder STORE and loaded by every measured run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(**json.loads(args.child))))
        return
    if args.probe:
        print(json.dumps(machine_probe()))
        return

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(probe_line("before"))
    if args.settled:  # warm up once (on the most threads: same state on any count), not timed
        start = time.perf_counter()
        measure(args.residents, 1, max(args.threads), args.settled)
        print(f"settled start ready in {args.settled} ({time.perf_counter() - start:.0f} s)")
    runs: dict[int, list[dict[str, object]]] = {t: [] for t in args.threads}
    for _ in range(args.repeats):
        for t in args.threads:
            runs[t].append(measure(args.residents, args.days, t, args.settled))
    best = {t: min(rs, key=lambda r: r["wall_s"]) for t, rs in runs.items()}
    first = best[args.threads[0]]
    print(f"== {first['residents']:,} residents ({first['blocks']} blocks), {args.days} days from 1 January, "
          f"best of {args.repeats}")
    ref = first["wall_s"] / first["days"] * 1e3
    for t in args.threads:
        r = best[t]
        per_day = r["wall_s"] / r["days"] * 1e3
        print(f"  {r['threads']} thread(s): {per_day:7.2f} ms per day wall ({r['cpu_s'] / r['days'] * 1e3:7.2f} CPU), "
              f"{per_day / ref:6.1%} of the {first['threads']}-thread time; build {r['build_s']:.1f} s; "
              f"all runs: {', '.join(f'{x['wall_s'] / x['days'] * 1e3:.1f}' for x in runs[t])} ms per day")
    if args.repeats > 2:  # on a noisy machine the medians of runs taken in turn say more than the best
        print(f"== medians of the {args.repeats} runs of each thread count (taken in turn)")
        med = {t: statistics.median(r["wall_s"] / r["days"] * 1e3 for r in runs[t]) for t in args.threads}
        ordinary = {t: statistics.median(r["ordinary_s"] / max(r["days"] - r["month_ends"], 1) * 1e3 for r in runs[t])
                    for t in args.threads}
        month_end = {t: statistics.median(r["month_end_s"] / max(r["month_ends"], 1) for r in runs[t])
                     for t in args.threads}
        base = args.threads[0]
        for t in args.threads:
            print(f"  {t} thread(s): {med[t]:7.2f} ms per day ({med[t] / med[base]:6.1%}); "
                  f"{ordinary[t]:7.2f} ms per ordinary day ({ordinary[t] / ordinary[base]:6.1%}); "
                  f"{month_end[t]:5.2f} s per month end")
    print("== days without a month end (the daily rules alone), and month ends")
    for t in args.threads:
        r = best[t]
        n_ordinary = r["days"] - r["month_ends"]
        ordinary = r["ordinary_s"] / max(n_ordinary, 1) * 1e3
        base = first["ordinary_s"] / max(n_ordinary, 1) * 1e3
        month_end = r["month_end_s"] / max(r["month_ends"], 1)
        print(f"  {r['threads']} thread(s): {ordinary:7.2f} ms per ordinary day ({ordinary / base:6.1%}); "
              f"{month_end:5.2f} s per month end ({r['month_ends']}), "
              f"{r['month_end_s'] / r['wall_s']:.0%} of the run")
    print("== phases, ms per day (ratio to the first thread count)")
    phases = sorted(first["phases"], key=lambda p: -first["phases"][p])
    print("  " + f"{'phase':20s}" + "".join(f"{str(t) + ' thr':>18s}" for t in args.threads))
    for phase in phases:
        cells = []
        for t in args.threads:
            ms = best[t]["phases"].get(phase, 0.0) / best[t]["days"] * 1e3
            base = first["phases"][phase] / first["days"] * 1e3
            cells.append(f"{ms:9.2f} ({ms / base:5.0%})" if base > 0 else f"{ms:9.2f}")
        print(f"  {phase:20s}" + "".join(f"{c:>18s}" for c in cells))
    digests = {r["digest"] for rs in runs.values() for r in rs}
    print(f"== results identical on every thread count and run: {'yes' if len(digests) == 1 else 'NO'} "
          f"({len(digests)} distinct digest{'s' if len(digests) > 1 else ''})")
    print(probe_line("after"))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if len(digests) != 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
