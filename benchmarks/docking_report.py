"""Docking report: the engine against the per-agent reference (benchmarks/reference), every part,
paired by seed; with --mutations, each change of the mutation list applied to the engine alone.

Run from the repository root:

    .venv/bin/python benchmarks/docking_report.py                # the comparison, every statistic
    .venv/bin/python benchmarks/docking_report.py --mutations    # and how far each change fails it
    .venv/bin/python benchmarks/docking_report.py --mutations --markdown   # docs/ODD.md section 9's tables

Prints one line per statistic: engine and reference means, the mean paired difference, the
tolerance, t, and the smallest difference the part detects with 80 % power. ``--cache FILE`` keeps
the runs (a pickle keyed by each part's definition) so that a second report reuses them.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.reference.docking import (BEYOND_POWER, CHEAPEST_FIRST, MUTATIONS, PARTS, Agreement, Part,  # noqa: E402
                                          compare, process_pool, run_all, verdict)


class Runs:
    """Runs of the docking's parts, computed on demand (in a pool) and optionally kept in a file."""

    def __init__(self, pool, cache: Path | None) -> None:  # noqa: ANN001 - ProcessPoolExecutor | None
        self.pool = pool
        self.cache = cache
        self.store: dict = pickle.loads(cache.read_bytes()) if cache is not None and cache.exists() else {}

    def get(self, which: str, parts: tuple[Part, ...], changes: dict | None = None) -> dict[str, list[dict[str, float]]]:
        """{part name: results seed by seed} of ``which`` ("engine" or "reference")."""
        keys = {part.name: (which, part.runs_key, tuple(sorted((changes or {}).items()))) for part in parts}
        todo = [part for part in parts if keys[part.name] not in self.store]
        tasks = [(which, part, seed, changes) for part in todo for seed in part.seeds]
        results = iter(run_all(tasks, self.pool))
        for part in todo:
            self.store[keys[part.name]] = [next(results) for _ in part.seeds]
        if todo and self.cache is not None:
            self.cache.write_bytes(pickle.dumps(self.store))
        return {part.name: self.store[keys[part.name]] for part in parts}


def _g(x: float) -> str:
    return f"{x:.4g}"


def markdown_agreements(agreements: list[Agreement]) -> str:
    """The unchanged docking as a Markdown table."""
    lines = ["| part | statistic | engine | reference | difference (95 % CI) | tolerance | detectable (80 % power) | t |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for a in agreements:
        lo, hi = a.interval95
        lines.append(f"| {a.part} (n={a.n}) | `{a.statistic}` | {_g(a.engine_mean)} | {_g(a.reference_mean)} | "
                     f"{a.mean_difference:+.3g} ({lo:+.3g} to {hi:+.3g}) | {_g(a.tolerance)} | {_g(a.detectable)} | "
                     f"{a.t:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", action="store_true", help="also apply each change to the engine alone")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (docs/ODD.md, section 9)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 2)")
    parser.add_argument("--cache", type=Path, default=None, help="pickle file to keep and reuse runs in")
    args = parser.parse_args()
    t0 = time.perf_counter()
    pool = process_pool(args.workers)
    runs = Runs(pool, args.cache)
    try:
        reference = runs.get("reference", PARTS)
        engine = runs.get("engine", PARTS)
        agreements = [a for part in PARTS for a in compare(part, engine[part.name], reference[part.name])]
        print(f"== Docking, unchanged engine: {verdict(agreements)} ({time.perf_counter() - t0:.0f} s)")
        print(markdown_agreements(agreements) if args.markdown else "\n".join(a.line() for a in agreements))
        if not args.mutations:
            return
        rows = []
        for label, changes in {**MUTATIONS, **{f"{k} (beyond the docking's power; not tested)": v
                                               for k, v in BEYOND_POWER.items()}}.items():
            t1 = time.perf_counter()
            changed = runs.get("engine", PARTS, changes)
            failed = {part.name: [a for a in compare(part, changed[part.name], reference[part.name]) if not a.passes]
                      for part in PARTS}
            deciding = next((part.name for part in CHEAPEST_FIRST if failed[part.name]), None)
            everything = sorted((a for part in PARTS for a in failed[part.name]),
                                key=lambda a: -abs(a.mean_difference) / a.tolerance if a.tolerance > 0 else -math.inf)
            rows.append((label, changes, "differ" if deciding else "agree", deciding, everything))
            if not args.markdown:
                print(f"== {label} {changes}: {'differ' if deciding else 'agree'}, {len(everything)} statistics fail, "
                      f"first in part {deciding} ({time.perf_counter() - t1:.0f} s)")
                for agreement in everything[:6]:
                    print("   ", agreement.line())
        if args.markdown:
            print("\n| change to the engine alone | scenario change | verdict | part that decides | statistics outside "
                  "their tolerance (difference / tolerance; the largest first) | failing |")
            print("|---|---|---|---|---|---:|")
            for label, changes, word, deciding, everything in rows:
                top = "; ".join(f"{a.part}: `{a.statistic}` {a.mean_difference / a.tolerance:+.1f}" for a in everything[:3])
                change = ", ".join(f"`{k.split('.')[-1]}` = {v}" for k, v in changes.items())
                print(f"| {label} | {change} | **{word}** | {deciding or '-'} | {top or '-'} | {len(everything)} |")
        print(f"\n({time.perf_counter() - t0:.0f} s in all)")
    finally:
        if pool is not None:
            pool.shutdown()


if __name__ == "__main__":
    main()
