"""Where a simulated day's time goes: phases, compiled kernels, and (optionally) a pyinstrument profile.

Run from the repository root:

    .venv/bin/python benchmarks/profile_model.py                       # 100,000 residents, 120 days
    .venv/bin/python benchmarks/profile_model.py --residents 1000000 --days 61
    .venv/bin/python benchmarks/profile_model.py --scenario full_plan --warm 400  # every lever on
    .venv/bin/python benchmarks/profile_model.py --pyinstrument        # also a call-tree profile
                                                                       # (.venv/bin/pip install -e '.[profile]')

Threads: numba's default (every core) for a population of more than 65,536 residents; set
``LIFECIRCLE_THREADS=1`` for one.

Printed: milliseconds per simulated day for each phase of the model (``sim.timing.PhaseTimer``)
and for each compiled kernel of the daily demand (``sim.services.kernels``, timed by wrapping them), with
nanoseconds per need. The first ``--warm`` days run untimed (kernels load from numba's cache,
knowledge settles).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_model import grid_updates  # noqa: E402

from sim.services import kernels  # noqa: E402
from sim.model import LifeCircleModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.timing import PhaseTimer  # noqa: E402

KERNELS = ("count_needs", "fill_needs", "intercept_automated", "rank_attraction", "choose_outlets",
           "route_orders", "want_visits", "settle_visits", "settle_orders", "count_waiting", "close_day",
           # blocked passes (populations of more than one block, sim.services.blocks)
           "count_needs_blocks", "fill_needs_blocks", "rank_attraction_blocks", "choose_outlets_blocks",
           "want_visits_blocks", "settle_visits_blocks", "count_waiting_blocks", "close_day_blocks")


def _timed(seconds: dict[str, float], name: str):
    kernel = getattr(kernels, name)

    @functools.wraps(kernel)
    def run(*args, **kwargs):
        t = time.perf_counter()
        result = kernel(*args, **kwargs)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t
        if name == "count_needs":  # returns the day's number of needs
            seconds["needs drawn"] = seconds.get("needs drawn", 0) + result
        elif name == "count_needs_blocks":  # writes each block's number of needs
            seconds["needs drawn"] = seconds.get("needs drawn", 0) + int(args[-1].sum())
        return result

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline", help="a scenario of scenarios/ (e.g. full_plan: every lever)")
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--warm", type=int, default=30, help="untimed days first")
    parser.add_argument("--pyinstrument", action="store_true", help="also print a pyinstrument call tree")
    args = parser.parse_args()

    scenario = load_scenario(ROOT / "scenarios" / f"{args.scenario}.toml", updates=grid_updates(args.residents, 10.0))
    model = LifeCircleModel(scenario=scenario, create_agents=False)
    model.run_for(args.warm)
    seconds: dict[str, float] = {}
    for name in KERNELS:
        setattr(kernels, name, _timed(seconds, name))
    model.phase_timer = PhaseTimer()
    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    t0 = time.perf_counter()
    model.run_for(args.days)
    wall = time.perf_counter() - t0
    if profiler is not None:
        profiler.stop()
    per_day_needs = seconds.pop("needs drawn") / args.days

    print(f"{args.scenario}, {args.residents:,} residents, days {args.warm}-{args.warm + args.days}: "
          f"{wall / args.days * 1e3:.2f} ms per day, about {per_day_needs:,.0f} needs a day")
    print("phases (ms per day):")
    for phase, s in sorted(model.phase_timer.seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {phase:20s} {s / args.days * 1e3:8.3f}")
    print("compiled kernels (ms per day, ns per need):")
    for name, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {name:20s} {s / args.days * 1e3:8.3f} {s / args.days / per_day_needs * 1e9:8.1f}")
    if profiler is not None:
        print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
