"""``lifecircle calibrate`` (registered into :func:`sim.cli.build_parser`). Bad input raises
:class:`~sim.scenario.ScenarioError` (exit 2) before any cluster starts; a calibration that
finishes (its stopping rule met) exits 0 and prints where its results are."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sim.errors import ScenarioError


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run or resume a calibration into ``--out``."""
    from sim.calibration.spec import load_calibration

    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers {args.workers}: allowed: an integer >= 1")
    if args.workers is not None and args.scheduler:
        raise ScenarioError("--workers and --scheduler: give one (local worker processes, or a Dask scheduler's address)")
    if args.scheduler:
        from sim.batch.cluster import check_address

        check_address(args.scheduler)  # a malformed address is exit 2 before anything is read
    spec = load_calibration(args.calibration)
    from sim.calibration.runner import calibrate, calibration_dir

    out = calibration_dir(args.out, spec)  # an unusable --out is exit 2 before a cluster starts
    progress = not args.quiet

    def say(line: str) -> None:
        if progress:
            print(f"lifecircle calibrate: {line}", file=sys.stderr, flush=True)

    if args.scheduler:
        from sim.batch.cluster import connect_client

        with connect_client(args.scheduler) as client:
            result = calibrate(spec, out, client=client, progress=progress, log=say)
    else:
        from sim.batch.cluster import local_client

        workers = args.workers or os.cpu_count() or 1
        say(f"starting a local Dask cluster of {workers} worker process(es)")
        with local_client(workers) as client:
            result = calibrate(spec, out, client=client, progress=progress, log=say)
    last = result.generations.iloc[-1]
    print(f"{spec.name}: {len(result.generations)} generation(s) ({result.resumed_at} before this run, {result.ran} now), "
          f"stopped by {result.stopped}; last epsilon {last['epsilon']:.4g}, {int(last['particles'])} particles "
          f"-> {Path(out)}")
    summary = Path(out) / "posterior_summary.csv"
    if summary.is_file():
        import pandas as pd

        table = pd.read_csv(summary)
        print(f"  {'parameter':40s} {'median':>10s} {'90 % credible interval':>26s}  prior")
        for row in table.itertuples():
            print(f"  {row.parameter:40s} {row.median:10.4g}   [{row.q05:10.4g}, {row.q95:10.4g}]  "
                  f"{row.prior} [{row.prior_low:g}, {row.prior_high:g}]")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the calibrate subcommand to the ``lifecircle`` parser."""
    from sim.cli import _path

    cal = sub.add_parser("calibrate", help="calibrate behavioural parameters against observed patterns "
                                           "(ABC-SMC, pyabc, on Dask; resumable)")
    cal.add_argument("calibration", help="calibration TOML file (see docs/calibration.md)")
    cal.add_argument("--out", type=_path, required=True, help="output folder; rerun with the same folder to continue "
                                                  "from the last complete generation")
    cal.add_argument("--workers", type=int, help="local Dask worker processes (default: one per core)")
    cal.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786 "
                                                            "(its workers must import lifecircle)")
    cal.add_argument("--quiet", action="store_true", help="no per-generation lines on stderr")
    cal.set_defaults(func=cmd_calibrate)
