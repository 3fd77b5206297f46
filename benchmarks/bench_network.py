"""Benchmark: a real street network of 100,000+ nodes, built and run for years (issue 18, "Scale").

Run from the repository root with the path of an OpenStreetMap extract (benchmarks/README.md says
where to get the one measured there: Porto, 299,793 walking nodes, 3.2 MB):

    .venv/bin/python benchmarks/bench_network.py --pbf /tmp/porto_portugal.osm.pbf
    .venv/bin/python benchmarks/bench_network.py --pbf FILE --residents 300000 --years 1 --warmup-years 0

Printed, in order: the network (nodes, edges, area, mapped shops, where residents live) and the
time to read it (pyrosm, largest component, projection, POIs and homes snapped to nodes); the
model's build (population arrays, day one's outlets with their walking reach and choice tables
for every node and category, every Mesa agent unless ``--no-agents``); the warm-up (every lever off,
``--warmup-years``); the simulated years, one line per year with its wall and CPU time, ms per simulated day and the
outlets open;
the total and, when fewer than 10 years were run, the 10-year time extrapolated linearly from the
measured years (said so on the line); peak resident memory (``ru_maxrss``) after each stage.
``uptime``'s load average is printed at the start and the end: the machine may be shared.

The scenario is ``scenarios/baseline.toml`` with ``[city] kind = "osm"`` on the file; the residents
default to 1,000,000 (Porto's extract spans the Porto metropolitan area, ~1.7 million people over
~2,000 km2; its 1,368 km2 hull holds roughly a million). Indicators are collected monthly. A file
that maps fewer than one shop per 10,000 residents (a street-only extract: Porto's maps 4) would
leave those few as the whole supply of their categories, so the benchmark drops them and every
category's day-one outlets are placed at the catalogue's densities, as for a file with no shops
(``--keep-mapped-shops`` keeps them).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pbf", required=True, help="an .osm.pbf (or .osm, .graphml) file")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--years", type=float, default=10.0, help="simulated (measured) years")
    parser.add_argument("--warmup-years", type=float, default=1.0,
                        help="warm-up years before the measured ones (the scenario default is 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-agents", action="store_true", help="no Mesa agent views (arrays only)")
    parser.add_argument("--phases", action="store_true", help="print CPU time per phase of the day")
    parser.add_argument("--keep-mapped-shops", action="store_true",
                        help="keep a file's mapped shops even when it maps under one per 10,000 residents")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from sim.city.osm import OsmCity
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario
    from sim.streams import Streams

    print(f"== {Path(args.pbf).name}: {args.residents:,} residents, {args.years:g} years after "
          f"{args.warmup_years:g} warm-up years, seed {args.seed}; {_load()}", flush=True)

    # The compiled kernels come from numba's on-disk cache; load them before anything is timed.
    warm = load_scenario(ROOT / "scenarios/baseline.toml",
                         updates={"population.residents": 2000, "years": 0.1, "warmup_years": 0.0})
    LifeCircleModel(scenario=warm, create_agents=False, checkpoints=False).run_for(35)

    scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates={
        "city.kind": "osm", "city.path": str(Path(args.pbf).resolve()), "population.residents": args.residents,
        "years": args.years, "warmup_years": args.warmup_years, "seed": args.seed,
    })
    t0 = time.perf_counter()
    city = OsmCity.from_scenario(scenario, Streams(args.seed)["city"])
    city_s = time.perf_counter() - t0
    n_nodes, n_edges = city.graph.shape[0], len(city.edges)
    print(f"network    : {n_nodes:,} nodes, {n_edges:,} edges, {city.area_km2:,.0f} km2, "
          f"{len(city.poi_node):,} mapped shops, residential floor area {city.floor_area_m2 / 1e6:.1f} km2; "
          f"read in {city_s:.1f} s; peak {_peak_mb():,.0f} MB", flush=True)
    mapped = len(city.poi_node)
    if mapped < args.residents / 10_000 and not args.keep_mapped_shops:
        # A street-only extract (Porto's maps 4 shops over 1,368 km2): the model would keep those few
        # as the whole supply of their categories. Treat it as a file with no shops: every category's
        # day-one outlets at the catalogue's per_10k densities on shop-space nodes (docs/osm.md).
        city.poi_node = city.poi_node[:0]
        city.poi_category = city.poi_category[:0]
        city.poi_xy = city.poi_xy[:0]
        city.poi_source = city.poi_source[:0]
        print(f"outlets    : the file maps {mapped} shops, under one per 10,000 residents: day-one outlets "
              "of every category synthesised at the catalogue's densities (--keep-mapped-shops: keep them)")

    stages: dict[str, float] = {}

    class TimedModel(LifeCircleModel):
        """The model, with its day one and warm-up timed apart from the rest of its construction."""

        def _open_day_one(self) -> None:
            t = time.perf_counter()
            super()._open_day_one()
            stages["day_one"] = time.perf_counter() - t

        def _warm_up(self) -> None:
            t = time.perf_counter()
            super()._warm_up()
            stages["warmup"] = time.perf_counter() - t - stages["day_one"]

    t1 = time.perf_counter()
    model = TimedModel(scenario=scenario, city=city, create_agents=not args.no_agents, checkpoints=False)
    construct_s = time.perf_counter() - t1
    build_s = construct_s - stages["warmup"]
    outlets = int(model.merchants.open.sum())
    print(f"model build: {build_s:.1f} s ({stages['day_one']:.1f} s of it day one's {outlets:,} outlets "
          f"with their reach and choice tables; {len(model.agents):,} Mesa agents); peak {_peak_mb():,.0f} MB",
          flush=True)
    warm_days = model.warmup_days
    print(f"warm-up    : {warm_days:,} days in {stages['warmup']:.1f} s "
          f"({stages['warmup'] / max(warm_days, 1) * 1e3:.1f} ms per day); peak {_peak_mb():,.0f} MB", flush=True)

    days_total = model.days_total
    if args.phases:
        from sim.timing import PhaseTimer

        model.phase_timer = PhaseTimer(time.process_time)
    t2, c2 = time.perf_counter(), time.process_time()
    day_of_year, year_start, year_cpu, year = 0, t2, c2, 1
    for _ in range(days_total):
        model.step()
        day_of_year += 1
        if day_of_year == 365 or model.day >= days_total:
            now, cpu = time.perf_counter(), time.process_time()
            label = f"year {year:>2}" if day_of_year == 365 else "the rest"
            print(f"  {label}: {day_of_year} days in {now - year_start:6.1f} s wall, {cpu - year_cpu:6.1f} s CPU "
                  f"({(now - year_start) / day_of_year * 1e3:6.1f} ms per day), {int(model.merchants.open.sum()):,} "
                  f"outlets open; peak {_peak_mb():,.0f} MB; {_load()}", flush=True)
            day_of_year, year_start, year_cpu, year = 0, now, cpu, year + 1
    run_s, run_cpu = time.perf_counter() - t2, time.process_time() - c2
    years = days_total / 365.25
    per_day_ms = run_s / max(days_total, 1) * 1e3
    print(f"simulated  : {days_total:,} days ({years:.2f} years) in {run_s:.1f} s wall ({run_cpu:.1f} s CPU), "
          f"{per_day_ms:.1f} ms per day, "
          f"{args.residents * days_total / run_s / 1e6:.2f} M resident-days/s; peak {_peak_mb():,.0f} MB")
    if args.phases:
        print("phases     : CPU seconds of the simulated days, by phase of the day (sim.timing)")
        seconds = dict(model.phase_timer.seconds)
        for phase, spent in sorted(seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {phase:18s} {spent:8.1f} s  {spent / max(days_total, 1) * 1e3:7.1f} ms per day  "
                  f"{spent / max(sum(seconds.values()), 1e-9):6.1%}")
    total = city_s + build_s + stages["warmup"] + run_s
    print(f"total      : {total:.1f} s = read {city_s:.1f} + build {build_s:.1f} + warm-up {stages['warmup']:.1f} "
          f"+ simulated {run_s:.1f}")
    if years < 9.99:
        ten = city_s + build_s + 3653 * per_day_ms / 1e3
        print(f"10 years   : ESTIMATED, not run: {ten / 60:.1f} min = read + build + 3,653 days at the "
              f"measured {per_day_ms:.1f} ms per day (linear extrapolation of {years:.2f} measured years)")
    print(f"peak RSS   : {_peak_mb():,.0f} MB; {_load()}")


if __name__ == "__main__":
    main()
