"""``lifecircle batch``, ``lifecircle compare`` and ``lifecircle sensitivity`` (registered into
:func:`sim.cli.build_parser`). Bad input raises :class:`~sim.scenario.ScenarioError` (exit 2);
a batch in which some run failed exits with status 1; a batch stopped because its Dask cluster lost
every worker (or its scheduler) exits with status 3 and resumes when run again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.scenario import ScenarioError


def cmd_batch(args: argparse.Namespace) -> int:
    """Run or resume a batch into ``--out``."""
    from sim.batch.executors import BatchStopped
    from sim.batch.runner import run_batch
    from sim.batch.spec import load_batch

    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers {args.workers}: allowed: an integer >= 1")
    if args.worker_timeout is not None and not args.worker_timeout > 0:
        raise ScenarioError(f"--worker-timeout {args.worker_timeout}: allowed: seconds > 0")
    client = None
    if args.scheduler:
        from sim.batch.cluster import check_address

        check_address(args.scheduler)  # a malformed address is exit 2 before anything is read
    spec = load_batch(args.batch)
    if args.dry_run:
        from sim.batch.dryrun import check_batch, run_lines, summary_lines

        check = check_batch(spec)
        print("\n".join(summary_lines(spec, check)))
        print("runs, in the order they would be computed (warm-up leaders first, twins last):")
        for line in run_lines(spec, check, limit=args.dry_run_limit):
            print(f"  {line}")
        return 0
    if not args.out:
        raise ScenarioError("--out is required (except with --dry-run)")
    progress = not args.quiet and (sys.stderr.isatty() or args.progress)
    try:
        if args.scheduler:
            from sim.batch.cluster import connect_client

            client = connect_client(args.scheduler)
            with client:
                summary = run_batch(spec, args.out, client=client, progress=progress,
                                    worker_timeout=args.worker_timeout, checkpoints=not args.no_checkpoints)
        else:
            summary = run_batch(spec, args.out, workers=args.workers, progress=progress,
                                checkpoints=not args.no_checkpoints)
    except BatchStopped as err:
        print(f"lifecircle: batch stopped: {err}", file=sys.stderr)
        return 3
    damaged = f", {summary.recomputed} damaged file(s) moved to corrupt/ and computed again" if summary.recomputed else ""
    print(f"{spec.name}: {summary.total} runs: {summary.skipped} already done, {summary.done} done now, "
          f"{summary.failed} failed{damaged} -> {Path(args.out) / 'runs'}")
    for run_id, error in list(summary.failures.items())[:10]:
        print(f"  failed {run_id}: {error}")
    if summary.failed > 10:
        print(f"  ... {summary.failed - 10} more in {Path(args.out) / 'manifest.jsonl'}")
    return 1 if summary.failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print and write each package's paired effect against the baseline."""
    from sim.batch.compare import compare, format_effects

    effects, paths = compare(args.dir, last_months=args.last_months, baseline=args.baseline,
                             figure=not args.no_figure)
    title = (f"Effects against the baseline: paired mean difference over replicates, mean of the last "
             f"{args.last_months} month(s) of each run")
    print(format_effects(effects, title=title))
    if "persistence" in paths:
        import pandas as pd

        share = pd.read_csv(paths["persistence"])
        print("\nWhat persists after support ends (effect after / effect during, 95 % bootstrap interval over pairs):")
        for row in share.itertuples():
            print(f"  {row.package[:16]:16s} {row.indicator[:28]:28s} during {row.effect_during:+.4g}, after "
                  f"{row.effect_after:+.4g}: {row.share:.0%} [{row.share_low:.0%}, {row.share_high:.0%}]")
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Print and write Sobol' or Morris indices per indicator."""
    from sim.batch.compare import batch_info
    from sim.batch.sensitivity import analyze, format_indices

    table, paths = analyze(args.dir, package=args.package, last_months=args.last_months,
                           figure=not args.no_figure)
    method = batch_info(args.dir)["design"]
    print(format_indices(table, method, title=f"{method} sensitivity indices ({args.dir})"))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the batch, compare and sensitivity subcommands to the ``lifecircle`` parser."""
    from sim.batch.compare import DEFAULT_LAST_MONTHS

    batch = sub.add_parser("batch", help="run or resume a batch of scenario runs (designs, replications)")
    batch.add_argument("batch", help="batch TOML file (see docs/batches.md)")
    batch.add_argument("--out", help="output folder; rerun with the same folder to resume (required unless --dry-run)")
    batch.add_argument("--workers", type=int, help="local worker processes (1: serial; default: one per idle core, "
                                                    "or serial when the batch is too small for workers to pay off)")
    batch.add_argument("--dry-run", action="store_true", help="check the batch and list its runs (seeds, design "
                       "values, twins, infeasible points) without running anything")
    batch.add_argument("--dry-run-limit", type=int, default=1000, metavar="N", help="--dry-run lists at most N runs")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786")
    batch.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                       help="with --scheduler: stop (exit 3, resumable) when the cluster has had no workers this "
                            "long (default 120)")
    batch.add_argument("--progress", action="store_true", help="progress bar even when not on a terminal")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.add_argument("--no-checkpoints", action="store_true",
                       help="every run warms up on its own instead of starting from its seed's settled state in "
                            "DIR/checkpoints (same results, more time)")
    batch.set_defaults(func=cmd_batch)

    comp = sub.add_parser("compare", help="each package's effect on each indicator vs the baseline (paired, 95%% CI)")
    comp.add_argument("dir", help="a batch output folder")
    comp.add_argument("--last-months", type=int, default=DEFAULT_LAST_MONTHS,
                      help=f"a run's outcome is the mean over its last N months (default {DEFAULT_LAST_MONTHS})")
    comp.add_argument("--baseline", help="package to compare with (default: the batch's baseline)")
    comp.add_argument("--no-figure", action="store_true", help="skip compare.png")
    comp.set_defaults(func=cmd_compare)

    sens = sub.add_parser("sensitivity", help="Sobol or Morris indices per indicator (SALib)")
    sens.add_argument("dir", help="a batch output folder with a sobol or morris design")
    sens.add_argument("--package", help="package to analyse (default: the baseline)")
    sens.add_argument("--last-months", type=int, default=DEFAULT_LAST_MONTHS,
                      help=f"a run's outcome is the mean over its last N months (default {DEFAULT_LAST_MONTHS})")
    sens.add_argument("--no-figure", action="store_true", help="skip sensitivity.png")
    sens.set_defaults(func=cmd_sensitivity)
