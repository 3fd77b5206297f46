"""Benchmark of the shipped calibration (prints figures; not a timed test).

Runs ``lifecircle calibrate scenarios/calibration/grid_behaviour.toml`` on a LocalCluster of
``--workers`` processes into a new folder, as the command line does, and prints: wall time (start
of the cluster to the last file written: settled starts, generations, predictive check), each
generation's threshold, particles, simulations and minutes, the seconds one particle takes from a
settled start (a few extra runs at the priors' medians, one at a time, after the calibration) and
one settled start's warm-up, the posterior summary and the predictive check. Also the machine's
load average before and after, since the development machine is shared.

    .venv/bin/python benchmarks/bench_calibration.py [--workers 2] [--out DIR] [--file FILE]

The settled starts go to ``DIR/checkpoints`` of the calibration folder (a new folder: they are
computed, and timed, as part of the run).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def particle_seconds(spec, store: Path, runs: int = 3) -> tuple[list[float], float]:
    """Seconds of one particle at the priors' medians from a settled start in ``store``, run in this
    process (after a first run that loads the compiled kernels and the checkpoint), and of one
    settled start's warm-up."""
    from sim.calibration.priors import frozen, scenario_values
    from sim.calibration.simulate import settle, simulate, start_seeds

    integer = spec.integer_keys()
    middle = scenario_values(spec, {k: float(frozen(p, integer=k in integer).median()) for k, p in spec.parameters.items()})
    base = spec.base_scenario()
    starts = start_seeds(spec.seed, spec.simulation.settled_seeds)
    simulate(base, middle, starts[0], 0, spec.targets, spec.simulation, store=store)
    times = []
    for run in range(1, runs + 1):
        started = time.perf_counter()
        simulate(base, middle, starts[run % len(starts)], run, spec.targets, spec.simulation, store=store)
        times.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        settle(base, starts[0], scratch)
        warm = time.perf_counter() - started
    return times, warm


def main() -> None:
    import pandas as pd

    from sim.batch.cluster import local_client
    from sim.calibration import calibrate, load_calibration

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", help="calibration folder (default: a new temporary folder)")
    parser.add_argument("--file", default=str(REPO / "scenarios" / "calibration" / "grid_behaviour.toml"))
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-calibration-"))
    spec = load_calibration(args.file)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with local_client(args.workers) as client:
        result = calibrate(spec, out, client=client, progress=False,
                           log=lambda line: print(f"  [{time.perf_counter() - started:7.1f} s] {line}", flush=True))
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    gens = result.generations.copy()
    ends = pd.to_datetime(gens["end_time"])
    gens["minutes"] = ends.diff().dt.total_seconds().div(60).round(2)
    print(f"\n{spec.name}: {len(gens)} generation(s) of {spec.abc.population_size} particles on {args.workers} "
          f"worker(s), stopped by {result.stopped}, into {out}")
    print(f"wall time {wall / 60:.1f} min (cluster start to last file, predictive check of "
          f"{spec.predictive.draws} draws included); {int(gens['simulations'].sum())} simulations submitted")
    print(gens[["t", "epsilon", "particles", "simulations", "acceptance_rate", "minutes"]].to_string(index=False))
    times, warm = particle_seconds(spec, out / "checkpoints")
    print(f"one particle from a settled start, one process: {', '.join(f'{t:.2f}' for t in times)} s "
          f"(one settled start's warm-up of {spec.simulation.warmup_years:g} years: {warm:.2f} s)")
    print(f"machine load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} on {os.cpu_count()} cores")
    summary = pd.read_csv(out / "posterior_summary.csv")
    print("\nposterior (last generation, weighted):")
    print(summary[["parameter", "mean", "median", "q05", "q95", "prior_low", "prior_high", "interval_share_of_prior"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if (out / "predictive.csv").is_file():
        pred = pd.read_csv(out / "predictive.csv")
        print(f"\nposterior predictive check ({spec.predictive.draws} draws, fresh seeds):")
        print(pred[["target", "observed", "tolerance", "simulated_median", "interval_low", "interval_high",
                    "observed_in_interval", "share_within_tolerance"]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
