"""Benchmark: the fast array model against the per-agent Mesa reference, phases and scaling.

Run from the repository root (one core is used; the figures go to stdout):

    .venv/bin/python benchmarks/bench_model.py                 # everything (about 4 min)
    .venv/bin/python benchmarks/bench_model.py --quick         # 20k residents, 1 year

Printed: resident-days per second of each model and their ratio on the same scenario, peak
memory, time per phase of the fast model (needs, choice, spending, monthly accounts, indicators,
entry and levers), the scaling curve (10k, 100k, 1M residents; the fast model only; a few
simulated months each) and model construction time for 100,000 residents. Every point runs in a
fresh subprocess so that its peak memory (max RSS) is its own. Wall and CPU (process) time are
both shown: on a machine shared with other work the CPU time is the steadier figure.

Scenarios: ``scenarios/baseline.toml`` with the grid scaled to keep ~7,800 residents per km2
(100 m blocks, ~78 residents per block), e.g. 100,000 residents on 36 x 36 blocks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESIDENTS_PER_BLOCK = 78.0  # baseline: 20,000 residents on 16 x 16 blocks of 100 m


def grid_updates(residents: int, years: float) -> dict[str, object]:
    """Scenario overrides for ``residents`` at the baseline density, running ``years`` with no warm-up:
    what is timed is the daily rules, and a build is the model's construction alone (the warm-up's
    cost is measured on its own: README, "A settled start")."""
    blocks = max(3, round(math.sqrt(residents / RESIDENTS_PER_BLOCK)))
    return {"population.residents": residents, "city.blocks_x": blocks, "city.blocks_y": blocks, "years": years,
            "warmup_years": 0.0}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fast(residents: int, years: float, days: int | None) -> dict[str, object]:
    """Build and run the fast model; returns timings (seconds) and counts."""
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario
    from sim.timing import PhaseTimer

    # Load the compiled kernels (numba's on-disk cache; compiled once per install) before timing.
    warm = load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(2000, 0.2))
    LifeCircleModel(scenario=warm, create_agents=False).run_for(35)
    scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(residents, years))
    t0, c0 = time.perf_counter(), time.process_time()
    model = LifeCircleModel(scenario=scenario, create_agents=False)
    build_s = time.perf_counter() - t0
    model.phase_timer = PhaseTimer()
    steps = model.days_total if days is None else min(days, model.days_total)
    t1, c1 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    return {
        "model": "fast", "residents": residents, "days": steps, "outlets": int(model.merchants.open.sum()),
        "nodes": int(model.city.graph.shape[0]), "build_s": build_s, "wall_s": wall, "cpu_s": cpu,
        "phases": dict(model.phase_timer.seconds), "peak_mb": _peak_mb(), "build_cpu_s": c1 - c0,
    }


def run_reference(residents: int, days: int) -> dict[str, object]:
    """Build and run the per-agent reference for ``days`` days."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.reference_model import ReferenceModel, Resident
    from sim.scenario import load_scenario

    scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(residents, 1.0))
    t0 = time.perf_counter()
    model = ReferenceModel(scenario=scenario)
    build_s = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    model.run_for(days)  # Mesa's clock: one unit of model.time is one day
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    return {"model": "reference", "residents": len(model.agents_by_type[Resident]), "days": model.day,
            "outlets": len(model.merchant_by_id), "build_s": build_s, "wall_s": wall, "cpu_s": cpu,
            "peak_mb": _peak_mb()}


def run_construction(residents: int) -> dict[str, object]:
    """Construction time of a 100,000-resident model on Helsinki if that scenario exists, else the grid."""
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario

    helsinki = ROOT / "scenarios/helsinki.toml"
    if helsinki.exists():
        scenario = load_scenario(helsinki, updates={"population.residents": residents, "warmup_years": 0.0})
        where = "helsinki"
    else:
        scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(residents, 1.0))
        where = "grid"
    t0 = time.perf_counter()
    from sim.city.grid import build_city  # city loading counted separately (a cached district is reused)
    from sim.streams import Streams

    city = build_city(scenario, Streams(scenario.seed)["city"])
    city_s = time.perf_counter() - t0
    LifeCircleModel(scenario=load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(2000, 0.1)),
                    create_agents=False)  # load the compiled kernels (numba's on-disk cache) first
    t1 = time.perf_counter()
    model = LifeCircleModel(scenario=scenario, city=city)
    agents = len(model.agents)  # every Mesa agent view, made at this first use
    model_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    LifeCircleModel(scenario=scenario, city=city, create_agents=False)
    arrays_s = time.perf_counter() - t2
    return {"model": "construction", "where": where, "residents": model.population.n,
            "nodes": int(model.city.graph.shape[0]), "outlets": int(model.merchants.open.sum()),
            "city_s": city_s, "model_s": model_s, "arrays_s": arrays_s, "agents": agents, "peak_mb": _peak_mb()}


def _child(kind: str, **kw: object) -> dict[str, object]:
    """Run one measurement in a fresh interpreter (own peak memory; single-threaded NumPy)."""
    cmd = [sys.executable, __file__, "--child", json.dumps({"kind": kind, **kw})]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "LIFECIRCLE_THREADS": "1",  # one core: the threaded daily passes are bench_threads.py's
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dispatch(spec: dict[str, object]) -> dict[str, object]:
    kind = spec.pop("kind")
    if kind == "fast":
        return run_fast(**spec)
    if kind == "reference":
        return run_reference(**spec)
    if kind == "construction":
        return run_construction(**spec)
    raise ValueError(f"unknown measurement {kind!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--reference-days", type=int, default=7,
                        help="days the per-agent reference runs (extrapolated per resident-day)")
    parser.add_argument("--scaling-days", type=int, default=61, help="days per point of the scaling curve")
    parser.add_argument("--quick", action="store_true", help="20k residents, 1 year, small scaling curve")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_dispatch(json.loads(args.child))))
        return
    if args.quick:
        args.residents, args.years, args.reference_days, args.scaling_days = 20_000, 1.0, 7, 31
    scale = [10_000, 100_000, 1_000_000] if not args.quick else [10_000, 20_000, 40_000]

    fast = _child("fast", residents=args.residents, years=args.years, days=None)
    ref = _child("reference", residents=args.residents, days=args.reference_days)
    fast_rate = fast["residents"] * fast["days"] / fast["wall_s"]
    fast_rate_cpu = fast["residents"] * fast["days"] / fast["cpu_s"]
    ref_rate = ref["residents"] * ref["days"] / ref["wall_s"]
    ref_rate_cpu = ref["residents"] * ref["days"] / ref["cpu_s"]
    print(f"== Same scenario: {fast['residents']:,} residents, {fast['outlets']:,} outlets at start, "
          f"{fast['nodes']:,} street nodes, indicators monthly")
    print(f"fast model : {fast['days']:,} days in {fast['wall_s']:.1f} s wall ({fast['cpu_s']:.1f} s CPU) -> "
          f"{fast_rate / 1e6:.2f} M resident-days/s wall ({fast_rate_cpu / 1e6:.2f} M CPU); "
          f"{fast['wall_s'] / fast['days'] * 1e3:.2f} ms per day; build {fast['build_s']:.2f} s; peak {fast['peak_mb']:.0f} MB")
    print(f"reference  : {ref['days']:,} days measured in {ref['wall_s']:.1f} s wall ({ref['cpu_s']:.1f} s CPU) -> "
          f"{ref_rate / 1e6:.3f} M resident-days/s wall ({ref_rate_cpu / 1e6:.3f} M CPU); "
          f"{fast['days']:,} days would take ~{fast['residents'] * fast['days'] / ref_rate / 3600:.1f} h; "
          f"build {ref['build_s']:.1f} s; peak {ref['peak_mb']:.0f} MB")
    print(f"ratio      : fast / reference = {fast_rate / ref_rate:.0f}x (wall), {fast_rate_cpu / ref_rate_cpu:.0f}x (CPU)")
    print("== Fast model, time per phase (wall)")
    total = sum(fast["phases"].values())
    for phase, seconds in sorted(fast["phases"].items(), key=lambda kv: -kv[1]):
        print(f"  {phase:18s} {seconds:8.2f} s  {seconds / fast['days'] * 1e3:7.3f} ms/day  {seconds / total:6.1%}")
    print(f"== Scaling (fast model, {args.scaling_days} days from 1 January, monthly indicators)")
    for n in scale:
        point = _child("fast", residents=n, years=1.0, days=args.scaling_days)
        per_day = point["wall_s"] / point["days"] * 1e3
        print(f"  {n:>9,} residents, {point['outlets']:>6,} outlets: {per_day:8.2f} ms/day wall "
              f"({point['cpu_s'] / point['days'] * 1e3:.2f} CPU), {per_day / n * 1e6:6.1f} ns per resident-day, "
              f"build {point['build_s']:.1f} s, peak {point['peak_mb']:.0f} MB")
    build = _child("construction", residents=args.residents)
    print(f"== Construction, {build['residents']:,} residents on {build['where']} ({build['nodes']:,} nodes, "
          f"{build['outlets']:,} outlets): city {build['city_s']:.2f} s + model {build['model_s']:.2f} s "
          f"with all {build['agents']:,} Mesa agents ({build['arrays_s']:.2f} s without them); peak {build['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
