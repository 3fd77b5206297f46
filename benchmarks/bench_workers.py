"""The default local worker count against serial on the demo batch (issue 14).

Runs ``lifecircle batch scenarios/batches/demo.toml`` into fresh folders, alternating ``--workers 1``
and the default (no ``--workers``), ``--repeats`` times each, as separate processes timed from the
outside (imports included, as a user waits for them), and prints each wall time and the minimum of
each (the minimum is the least disturbed by other load on a shared machine).

    .venv/bin/python benchmarks/bench_workers.py [--repeats 3] [--batch scenarios/batches/demo.toml]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall_seconds(batch: Path, out: Path, workers: int | None) -> float:
    """Wall time of one ``lifecircle batch`` process (checkpoints in its own fresh folder)."""
    command = [sys.executable, "-m", "sim.cli", "batch", str(batch), "--out", str(out), "--quiet"]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    return time.perf_counter() - started


def measure(batch: Path, repeats: int) -> dict[str, list[float]]:
    """``{"serial": [...], "default": [...]}`` wall seconds, alternating."""
    times: dict[str, list[float]] = {"serial": [], "default": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for name, workers in (("serial", 1), ("default", None)):
                times[name].append(wall_seconds(batch, Path(tmp) / f"{name}-{i}", workers))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", default=str(REPO / "scenarios" / "batches" / "demo.toml"))
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    times = measure(Path(args.batch), args.repeats)
    print(f"{Path(args.batch).name}: {os.cpu_count()} cores, load average {load:.1f} at the start")
    for name, values in times.items():
        print(f"  {name:8s} " + ", ".join(f"{v:.1f} s" for v in values) + f"   (min {min(values):.1f} s)")
    print(f"  default / serial (min): {min(times['default']) / min(times['serial']):.2f}")


if __name__ == "__main__":
    main()
