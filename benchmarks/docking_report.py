"""Docking report: the engine against the per-agent reference (benchmarks/reference), every part,
paired by seed; with --mutations, each change of the test's list applied to the engine alone.

Run from the repository root:

    .venv/bin/python benchmarks/docking_report.py                # the comparison, every statistic
    .venv/bin/python benchmarks/docking_report.py --mutations    # and how far each change fails it

Prints one line per statistic: engine and reference means, the mean paired difference, the
tolerance, t, and the smallest difference the part detects four times in five.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.reference.docking import MUTATIONS, PARTS, compare, process_pool, run_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", action="store_true", help="also apply each change to the engine alone")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 2)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    tasks = [(which, part, seed, None) for part in PARTS for which in ("reference", "engine") for seed in part.seeds]
    pool = process_pool(args.workers)
    results = iter(run_all(tasks, pool))
    reference, engine = {}, {}
    for part in PARTS:
        reference[part.name] = [next(results) for _ in part.seeds]
        engine[part.name] = [next(results) for _ in part.seeds]
    print(f"== Docking, unchanged engine ({time.perf_counter() - t0:.0f} s)")
    for part in PARTS:
        for agreement in compare(part, engine[part.name], reference[part.name]):
            print(agreement.line())
    if not args.mutations:
        return
    for label, changes in MUTATIONS.items():
        t1 = time.perf_counter()
        tasks = [("engine", part, seed, changes) for part in PARTS for seed in part.seeds]
        results = iter(run_all(tasks, pool))
        failed = []
        for part in PARTS:
            changed = [next(results) for _ in part.seeds]
            failed += [a for a in compare(part, changed, reference[part.name]) if not a.passes]
        print(f"== {label}: {len(failed)} statistics fail ({time.perf_counter() - t1:.0f} s)")
        for agreement in sorted(failed, key=lambda a: -abs(a.mean_difference / a.tolerance))[:6]:
            print("   ", agreement.line())
    if pool is not None:
        pool.shutdown()


if __name__ == "__main__":
    main()
