"""Benchmark: a whole city of life circles (``scenarios/city.toml``: 2,000,000 residents in 25
circles, city budget by need), its warm-up and 10 measured years, on this machine (prints figures;
not a timed test).

Runs the scenario the way ``lifecircle run`` builds it, in this process, and prints: the city's
size (nodes, circles, residents), the build, the warm-up (simulated with every lever off, then
saved as a checkpoint in a temporary store), the measured years with their ms per day and the
time spent collecting the city's and the circles' indicators, the outputs, and the peak memory
(max RSS). ``--residents`` and ``--years`` scale it down for a quick look (the grid grows with the
residents at the scenario's density); ``--warmup-years`` overrides the warm-up (the default is the
scenario's); ``--threads`` sets the compiled passes' thread count where the engine supports it.

    .venv/bin/python benchmarks/bench_city.py [--residents 2000000] [--years 10] [--warmup-years Y]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=2_000_000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--warmup-years", type=float, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the run's outputs here (timed)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from sim.io.checkpoint import CheckpointStore
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario

    base = load_scenario(REPO / "scenarios" / "city.toml")
    side = max(1, round(base.city.blocks_x * (args.residents / base.population.residents) ** 0.5))
    updates = {"population.residents": args.residents, "city.blocks_x": side, "city.blocks_y": side,
               "years": args.years}
    if args.warmup_years is not None:
        updates["warmup_years"] = args.warmup_years
    scenario = base.with_updates(updates)
    imports = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as home:
        store = CheckpointStore(home)
        t1 = time.perf_counter()
        model = LifeCircleModel(scenario=scenario, checkpoints=store, create_agents=False)
        built = time.perf_counter() - t1  # the build and the warm-up (and saving its checkpoint)
        collect = {"s": 0.0}
        original = model.collect

        def timed_collect():
            c0 = time.perf_counter()
            values = original()
            collect["s"] += time.perf_counter() - c0
            return values

        model.collect = timed_collect
        t2 = time.perf_counter()
        model.run_for(model.days_total)
        measured = time.perf_counter() - t2
        written = 0.0
        if args.out is not None:
            from sim.run import RunResult, write_outputs

            t3 = time.perf_counter()
            result = RunResult(scenario=scenario, seed=scenario.seed, timeseries=model.timeseries(), model=model,
                               warmup=model.warmup_timeseries())
            write_outputs(result, args.out, figures=True, force=True)
            written = time.perf_counter() - t3
    n_nodes = model.city.graph.shape[0]
    print(f"== City: {args.residents:,} residents on {side} x {side} blocks ({n_nodes:,} street nodes) in "
          f"{model.circles.k} life circles; {scenario.warmup_years:g}-year warm-up, {args.years:g} measured years; "
          f"{os.cpu_count()} cores, NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}")
    print(f"imports {imports:.1f} s; build + warm-up ({model.warmup_days:,} days) + checkpoint {built:.1f} s "
          f"({built / 60:.1f} min)")
    print(f"measured: {model.days_total:,} days in {measured:.1f} s ({measured / 60:.1f} min), "
          f"{measured / model.days_total * 1e3:.1f} ms per day; of which collecting indicators (city and "
          f"{model.circles.k} circles, {len(model.indicator_names)} indicators) {collect['s']:.1f} s")
    if args.out is not None:
        print(f"outputs written to {args.out} in {written:.1f} s")
    total = imports + built + measured + written
    print(f"total {total:.1f} s ({total / 60:.1f} min); peak memory {_peak_mb():,.0f} MB")
    ev = model.circle_evaluations
    if ev:
        last = max(row["period"] for row in ev)
        rows = [row for row in ev if row["period"] == last]
        print(f"last evaluation (month {rows[0]['month']}): {sum(r['passed'] for r in rows)} of {len(rows)} circles pass; "
              f"sites built in all {sum(r['sites_built'] for r in ev)}")


if __name__ == "__main__":
    main()
