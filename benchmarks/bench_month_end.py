"""Benchmark: where a month end's time goes (1,000,000 residents, January's month end).

Run from the repository root (figures to stdout):

    .venv/bin/python benchmarks/bench_month_end.py                        # 1,000,000 residents, 1 thread
    LIFECIRCLE_THREADS=2 .venv/bin/python benchmarks/bench_month_end.py   # two threads
    .venv/bin/python benchmarks/bench_month_end.py --residents 200000
    .venv/bin/python benchmarks/bench_month_end.py --settled /tmp/settled1m --months 3   # the settled city

The scenario is ``bench_model.py``'s scaling point (``scenarios/baseline.toml``, no warm-up). The
model runs 30 days, then day 31 (the last of January: the daily rules, then the month end and the
first collection) is timed, whole and by part: accounts (``pay_month``), labour market, word of
mouth, entry (``month_entry``, with its reach searches and its ``expected_visits_*`` kernel calls
inside it), indicators (``collect``) and the day's own rules (``serve_day``). The parts are timed by
wrapping the model's functions for this run only. The first month end pays for the reach searches
of the shop nodes the entrants look at (kept for the run; later month ends reuse most of them).
With ``--settled STORE`` the model starts from the settled city instead (the scenario's 20-year
warm-up, kept in the checkpoint folder STORE: ``bench_threads.py --settled STORE`` makes it) and
``--months N`` month ends are timed, each part's mean per month end printed, with what the parts
leave ("other"). The machine's load average is printed before and after. A function missing from the model (an
older version, for a before/after comparison) is simply not timed.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--settled", metavar="STORE", help="start from the settled city in this checkpoint folder")
    parser.add_argument("--months", type=int, default=1, help="month ends to time (the mean of each part is printed)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_model import grid_updates

    import sim.model as model_module
    from sim.model import LifeCircleModel
    from sim.scenario import load_scenario
    from sim.services import blocks, kernels

    seconds: dict[str, float] = collections.defaultdict(float)

    def timed(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name, None)
        if inner is None:  # an older version of the model, for a before/after comparison
            return

        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                seconds[label] += time.perf_counter() - start

        setattr(owner, name, wrapper)

    # Load every compiled kernel (numba's on-disk cache) before timing: a small model in small blocks.
    block, blocks.RESIDENT_BLOCK = blocks.RESIDENT_BLOCK, 512
    LifeCircleModel(scenario=load_scenario(ROOT / "scenarios/baseline.toml", updates=grid_updates(2000, 0.2)),
                    create_agents=False).run_for(35)
    blocks.RESIDENT_BLOCK = block

    updates = grid_updates(args.residents, 0.3 + args.months)
    if args.settled:
        del updates["warmup_years"]
    scenario = load_scenario(ROOT / "scenarios/baseline.toml", updates=updates)
    model = LifeCircleModel(scenario=scenario, create_agents=False, checkpoints=args.settled or False)
    model.run_for(30)
    timed(model_module.accounts, "pay_month", "accounts (pay_month)")
    timed(model_module.labour, "month_labour", "labour market")
    timed(LifeCircleModel, "_learn_by_word_of_mouth", "word of mouth")
    timed(model_module.entry, "month_entry", "entry (month_entry)")
    timed(model_module, "reach_of", "  entry: reach searches")
    timed(kernels, "expected_visits", "  entry: expected_visits kernels")  # one call per site (older versions)
    timed(kernels, "expected_visits_ranked", "  entry: expected_visits kernels")
    timed(kernels, "expected_visits_sites", "  entry: expected_visits kernels")
    timed(LifeCircleModel, "collect", "indicators (collect)")
    timed(model_module.demand, "serve_day", "the day's rules (serve_day)")
    timed(LifeCircleModel, "mark_low_income", "low-income marking")
    timed(model_module, "renew_graduates", "graduates")
    timed(model_module, "newcomers", "newcomers")
    timed(LifeCircleModel, "roll_unmet", "unmet needs rolled")
    timed(model.levers, "month_start", "levers (month_start)")
    timed(LifeCircleModel, "_refresh_volunteering", "volunteers")
    timed(LifeCircleModel, "_start_month", "takings reset")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores), "
          f"{blocks.use_threads()} thread(s)")
    total = 0.0
    for month in range(args.months):
        start = time.perf_counter()
        model.step()
        total += time.perf_counter() - start
        if month + 1 < args.months:  # the next month's ordinary days, untimed
            day = model.day
            while not model._month_ends(day):
                day += 1
            seconds_before = dict(seconds)
            model.run_for(day - model.day)
            seconds.clear()
            seconds.update(seconds_before)
    per = 1 / args.months
    start_label = "settled city" if args.settled else "no warm-up"
    print(f"== {model.population.n:,} residents ({start_label}): a month end's day, mean of {args.months}: "
          f"{total * per:.3f} s")
    parts = sum(v for k, v in seconds.items() if not k.startswith(" "))
    for label, value in sorted(seconds.items(), key=lambda kv: (kv[0].startswith(" "), -kv[1])):
        print(f"  {label:36s} {value * per:7.3f} s")
    print(f"  {'other (not in the parts above)':36s} {(total - parts) * per:7.3f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
