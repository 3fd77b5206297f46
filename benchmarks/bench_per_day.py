"""Benchmark: CPU nanoseconds per resident-day of the simulated days alone (prints figures; not a
timed test).

A grid district of ``--residents`` residents (about 78 per block, as the baseline) is built with
no warm-up and no Mesa agents, steps 3 unmeasured days (compiled kernels loaded, first month's
buffers allocated), then ``--days`` measured days, month ends included. Run it in two checkouts
to compare rules, e.g. households against the commit before them, in turn with ``farm-bench``::

    farm-bench -n 5 --vs "sh -c 'cd ../before && .venv/bin/python benchmarks/bench_per_day.py'" \\
        -- .venv/bin/python benchmarks/bench_per_day.py
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario

    blocks = max(3, round(math.sqrt(args.residents / 78.0)))
    scenario = load_scenario(REPO / "scenarios" / "baseline.toml", updates={
        "population.residents": args.residents, "city.blocks_x": blocks, "city.blocks_y": blocks,
        "years": 1.0, "warmup_years": 0.0})
    model = LifeCircleModel(scenario=scenario, seed=args.seed, create_agents=False)
    for _ in range(3):
        model.step()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.days):
        model.step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    per = args.days * args.residents
    print(f"{args.residents:,} residents, {blocks} x {blocks} blocks, {args.days} days: "
          f"{cpu / per * 1e9:.1f} ns CPU and {wall / per * 1e9:.1f} ns wall per resident-day")


if __name__ == "__main__":
    main()
