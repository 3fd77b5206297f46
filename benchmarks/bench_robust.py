"""Wall time of the robust.toml walk-through (issue 14's "done when": under 10 minutes on 2 cores).

Runs, as a user would, each as its own process, into a fresh folder:

    lifecircle batch scenarios/batches/robust.toml --out DIR/robust
    lifecircle compare DIR/robust --by point
    lifecircle discover DIR/robust --outcome coverage_after --threshold 0.9
    lifecircle robust scenarios/batches/robust.toml --out DIR/robust-search

and prints each step's wall time, the total, the cores and the load average before and after.
``--keep DIR`` keeps the outputs there (docs/batches.md's figures come from such a run; ``--figures
docs/figures/robust`` copies them).

    .venv/bin/python benchmarks/bench_robust.py [--keep results/robust-walkthrough] [--figures docs/figures/robust]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BATCH = REPO / "scenarios" / "batches" / "robust.toml"


def steps(folder: Path) -> list[tuple[str, list[str]]]:
    """The walk-through's commands."""
    run = [sys.executable, "-m", "sim.cli"]
    return [
        ("batch", [*run, "batch", str(BATCH), "--out", str(folder / "robust"), "--quiet"]),
        ("compare --by point", [*run, "compare", str(folder / "robust"), "--by", "point"]),
        ("discover", [*run, "discover", str(folder / "robust"), "--outcome", "coverage_after", "--threshold", "0.9"]),
        ("robust", [*run, "robust", str(BATCH), "--out", str(folder / "robust-search"), "--quiet"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="keep the outputs in this folder (it must not exist)")
    parser.add_argument("--figures", help="copy the walk-through's figures into this folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        total = 0.0
        for name, command in steps(folder):
            started = time.perf_counter()
            proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            total += seconds
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
            print(f"{name:20s} {seconds:7.1f} s")
            if name != "batch":
                print("    " + "\n    ".join(proc.stdout.strip().splitlines()[:12]))
        print(f"{'total':20s} {total:7.1f} s  ({total / 60:.1f} min) on {os.cpu_count()} cores; load average "
              f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
        if args.figures:
            target = Path(args.figures)
            target.mkdir(parents=True, exist_ok=True)
            for png in [*(folder / "robust" / "discover").glob("*.png"), folder / "robust-search" / "pareto.png"]:
                shutil.copy(png, target / png.name)
            print(f"figures copied to {target}")


if __name__ == "__main__":
    main()
