"""Benchmark: time to the first answer of the command line (prints figures; not a timed test).

Each command runs as its own process, ``--runs`` times; the median and the fastest wall time are
printed. ``lifecircle --help`` imports nothing numerical (``tests/test_cli.py`` checks which modules
it loads); ``validate`` reads and checks the baseline scenario and its input files. Target (issue
18): ``lifecircle --help`` within 0.5 s.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELP_TARGET_S = 0.5


def _lifecircle() -> list[str]:
    script = Path(sys.executable).with_name("lifecircle")
    if script.exists():
        return [str(script)]
    found = shutil.which("lifecircle")
    return [found] if found else [sys.executable, "-m", "sim.cli"]


def _time(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = _lifecircle()
    for label, extra in (("lifecircle --help", ["--help"]),
                         ("lifecircle batch --help", ["batch", "--help"]),
                         ("lifecircle validate scenarios/baseline.toml", ["validate", "scenarios/baseline.toml"])):
        times = _time(base + extra, args.runs)
        print(f"{label:<46} median {statistics.median(times):.2f} s, fastest {min(times):.2f} s ({args.runs} runs)")
        if extra == ["--help"]:
            verdict = "meets" if statistics.median(times) <= HELP_TARGET_S else "misses"
            print(f"{'':<46} {verdict} the {HELP_TARGET_S} s target")


if __name__ == "__main__":
    main()
