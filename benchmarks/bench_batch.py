"""Benchmark of batch runs (prints figures; not a timed test).

1. 100 small runs on 1 vs 2 local worker processes: wall time and speed-up.
2. Peak memory of the coordinating process for 50 vs 100 runs (2 workers): tracemalloc peak of
   Python allocations and the process's maximum resident set (``getrusage(RUSAGE_SELF)``, which
   excludes the workers). Each configuration runs in a fresh interpreter so peaks do not mix; the
   timed runs of part 1 are not traced (tracemalloc slows every allocation).

    .venv/bin/python benchmarks/bench_batch.py [--runs 100] [--residents 10000] [--years 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    from sim.batch import load_batch, run_batch
    batch, out, workers, trace = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "trace"
    spec = load_batch(batch)
    if trace:  # tracing slows Python allocations, so timed runs go untraced
        tracemalloc.start()
    started = time.perf_counter()
    summary = run_batch(spec, out, workers=workers, progress=False)
    seconds = time.perf_counter() - started
    from sim.batch.store import read_manifest
    run_seconds = [e["seconds"] for e in read_manifest(out) if e.get("status") == "done"]
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"runs": summary.done, "failed": summary.failed, "seconds": seconds,
                      "mean_run_seconds": sum(run_seconds) / max(1, len(run_seconds)),
                      "tracemalloc_peak_mb": peak / 2**20,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def batch_file(folder: Path, runs: int, residents: int, years: float) -> Path:
    path = folder / f"bench_{runs}.toml"
    path.write_text(textwrap.dedent(f"""
        name = "bench"
        master_seed = 1
        replications = {runs}
        years = {years}
        indicators = ["needs_met_share", "employment_rate", "merchants_open", "income_mean"]
        [packages]
        baseline = "{(REPO / 'scenarios' / 'baseline.toml').as_posix()}"
        [overrides]
        "population.residents" = {residents}
        "city.blocks_x" = 4
        "city.blocks_y" = 4
    """), encoding="utf-8")
    return path


def measure(batch: Path, out: Path, workers: int, *, trace: bool = False) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(batch), str(out), str(workers),
                           "trace" if trace else "time"],
                          capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    # Runs must outlast the fixed start-up of a worker process (interpreter, imports, loading the
    # compiled kernels: about 2 s) for the speed-up to measure the parallel runs rather than it.
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--years", type=float, default=1.0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = batch_file(tmp, args.runs, args.residents, args.years)
        half = batch_file(tmp, args.runs // 2, args.residents, args.years)
        serial = measure(full, tmp / "serial", 1)
        parallel = measure(full, tmp / "parallel", 2)
        small = measure(half, tmp / "half", 2, trace=True)
        large = measure(full, tmp / "full", 2, trace=True)
    print(f"{args.runs} runs ({args.residents} residents, {args.years:g} years each)")
    print(f"  1 worker : {serial['seconds']:7.1f} s  (one run takes {serial['mean_run_seconds']:.2f} s inside its worker)")
    print(f"  2 workers: {parallel['seconds']:7.1f} s  (one run takes {parallel['mean_run_seconds']:.2f} s inside its worker)"
          f"  speed-up {serial['seconds'] / parallel['seconds']:.2f}x")
    # On a shared machine the other processes' load slows each run; say so next to the figure.
    print(f"  machine load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}"
          f" on {os.cpu_count()} cores")
    print("coordinator peak memory, 2 workers:")
    for label, res in ((f"{args.runs // 2} runs", small), (f"{args.runs} runs", large)):
        print(f"  {label:9s}: tracemalloc peak {res['tracemalloc_peak_mb']:6.2f} MB, max RSS {res['maxrss_mb']:6.1f} MB")


if __name__ == "__main__":
    main()
