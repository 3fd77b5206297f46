"""``lifecircle batch``, ``compare``, ``sensitivity``, ``discover`` and ``robust`` (registered into
:func:`sim.cli.build_parser`). Bad input raises :class:`~sim.scenario.ScenarioError` (exit 2);
a batch in which some run failed exits with status 1; a batch stopped because its Dask cluster lost
every worker (or its scheduler) exits with status 3 and resumes when run again."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from sim.errors import ScenarioError


def _share(text: str) -> float:
    """A share from 0 to 1 (``--density``, ``--mass-min``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # nan too
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a number from 0 to 1")
    return value


def _finite(text: str) -> float:
    """A finite number (``--threshold``: every comparison with nan is false, so no case would pass)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a finite number (not nan or inf)")
    return value


def _open_share(text: str) -> float:
    """A share strictly between 0 and 1 (``--peel-alpha``: PRIM peels that share, and keeps the rest)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a number between 0 and 1 (both excluded)")
    return value


def _checkpoint_dir(args: argparse.Namespace) -> Path | None:
    """``--checkpoint-dir``, checked: not with ``--no-checkpoints``, and a folder (or none yet)."""
    if args.checkpoint_dir is None:
        return None
    if args.no_checkpoints:
        raise ScenarioError(f"--checkpoint-dir {args.checkpoint_dir}: not allowed with --no-checkpoints "
                            "(every run warms up on its own: no settled starts are kept)")
    folder = Path(args.checkpoint_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ScenarioError(f"--checkpoint-dir {args.checkpoint_dir}: a file, not a folder; allowed: a folder "
                            "(made if missing) for the settled starts")
    return folder


PERIODS = ("year 1", "year 3", "during support", "after support", "end")
"""The periods of a lever timeline that effects are given for (:func:`sim.metrics.effects.periods`)."""


def cmd_batch(args: argparse.Namespace) -> int:
    """Run or resume a batch into ``--out``."""
    from sim.batch.executors import BatchStopped
    from sim.batch.runner import run_batch
    from sim.batch.spec import load_batch

    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers {args.workers}: allowed: an integer >= 1")
    if args.worker_timeout is not None and not args.worker_timeout > 0:
        raise ScenarioError(f"--worker-timeout {args.worker_timeout}: allowed: seconds > 0")
    checkpoint_dir = _checkpoint_dir(args)
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
                                    worker_timeout=args.worker_timeout, checkpoints=not args.no_checkpoints,
                                    checkpoint_dir=checkpoint_dir)
        else:
            summary = run_batch(spec, args.out, workers=args.workers, progress=progress,
                                checkpoints=not args.no_checkpoints, checkpoint_dir=checkpoint_dir)
    except BatchStopped as err:
        print(f"lifecircle: batch stopped: {err}", file=sys.stderr)
        return 3
    damaged = f", {summary.recomputed} damaged file(s) moved to corrupt/ and computed again" if summary.recomputed else ""
    if summary.foreign:
        damaged += f", {summary.foreign} file(s) of no run of this batch moved to corrupt/"
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

    if args.by == "point":
        return _compare_by_point(args)

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


def _compare_by_point(args: argparse.Namespace) -> int:
    """``compare --by point``: effects per design point, Bonferroni-corrected intervals."""
    from sim.io.atomic import atomic_write_bytes
    from sim.batch.compare import batch_info, point_effects

    out = Path(args.dir)
    info = batch_info(out)
    baseline = args.baseline or info["baseline"]
    if baseline not in info["packages"]:
        raise ScenarioError(f"--baseline {baseline!r}: not a package of this batch; packages: {', '.join(info['packages'])}")
    table, correction = point_effects(out, baseline)
    if table.empty:
        raise ScenarioError(f"{out}: no package has runs paired with the baseline '{baseline}'")
    period = args.period
    periods = list(dict.fromkeys(table["period"]))  # in the timeline's order
    if period not in periods:  # e.g. "year 3" of a two-year batch, "after support" of support never ending
        raise ScenarioError(f"--period {period!r}: not a period of this batch's timelines; allowed: {', '.join(periods)}")
    path = out / "compare_points.csv"
    atomic_write_bytes(path, table.to_csv(index=False).encode())
    m, each = correction["comparisons"], correction["confidence_each"]
    print(f"Effects per design point against '{baseline}': paired differences over each point's replicates, per "
          f"period of each package's lever timeline.\nMultiple comparisons: {m} (package, point, period, indicator) "
          f"comparisons; Bonferroni: each interval at {each:.5%} confidence, so all hold together at 95 % "
          f"(family-wise).")
    shown = table[table["period"] == period]
    significant = shown[shown["significant"]].sort_values(["indicator", "package", "point"])
    print(f"{len(significant)} of {len(shown)} effects in period '{period}' exclude zero after the correction"
          + (":" if len(significant) else "."))
    for row in significant.head(args.limit).itertuples():
        print(f"  {row.package[:14]:14s} point {row.point:4d}  {row.indicator[:26]:26s} {row.effect:+.4g} "
              f"[{row.ci_low:+.4g}, {row.ci_high:+.4g}]  n = {row.n}")
    if len(significant) > args.limit:
        print(f"  ... {len(significant) - args.limit} more in {path}")
    print(f"\nwrote {path}")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    """PRIM and CART boxes, feature scores, envelopes and pairs plot (EMA Workbench)."""
    from sim.batch.discover import _label, discover, format_box
    from sim.batch.store import read_batch_info

    found = discover(args.dir, args.outcome, args.threshold, below=args.below, density=args.density,
                     peel_alpha=args.peel_alpha, mass_min=args.mass_min, figures=not args.no_figures)
    info = read_batch_info(args.dir)
    labels, outcomes = info.get("labels") or {}, info.get("outcomes") or {}
    names = {n: _label(n, labels, outcomes) for n in found.box.limits.index}
    print(format_box(found.box, title=f"PRIM: {found.caption}", names=names))
    if not found.scores.empty:
        print("\nFeature scores (extra trees; share of each outcome's explained variation):")
        top = found.scores[args.outcome].sort_values(ascending=False) if args.outcome in found.scores else \
            found.scores.mean(axis=1).sort_values(ascending=False)
        for name, value in top.head(8).items():
            print(f"  {_label(name, labels, outcomes):52s} {value:.3f}")
    print("\nwrote " + ", ".join(str(p) for p in found.paths.values()))
    return 0


def cmd_robust(args: argparse.Namespace) -> int:
    """The many-objective robust search over lever mixes (EMA Workbench, epsilon-NSGA-II)."""
    from sim.batch.robust import format_pareto, robust_search
    from sim.batch.spec import load_batch

    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers {args.workers}: allowed: an integer >= 1")
    if args.nfe is not None and args.nfe < 1:
        raise ScenarioError(f"--nfe {args.nfe}: allowed: an integer >= 1")
    spec = load_batch(args.batch)
    client = None
    if args.scheduler:
        from sim.batch.cluster import check_address, connect_client

        check_address(args.scheduler)
        client = connect_client(args.scheduler)
    try:
        result = robust_search(spec, args.out, workers=args.workers, client=client, nfe=args.nfe,
                               progress=not args.quiet and sys.stderr.isatty())
    finally:
        if client is not None:
            client.close()
    print(format_pareto(spec, result))
    print("\nwrote " + ", ".join(str(p) for p in result.paths.values()))
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
    """Add the batch, compare, sensitivity, discover and robust subcommands to the ``lifecircle`` parser."""
    from sim.batch.defaults import DEFAULT_LAST_MONTHS
    from sim.cli import _non_negative_int, _path

    batch = sub.add_parser("batch", help="run or resume a batch of scenario runs (designs, replications)")
    batch.add_argument("batch", help="batch TOML file (see docs/batches.md)")
    batch.add_argument("--out", type=_path, help="output folder; rerun with the same folder to resume (required unless --dry-run)")
    batch.add_argument("--workers", type=int, help="local worker processes (1: serial; default: one per idle core, "
                                                    "or serial when the batch is too small for workers to pay off)")
    batch.add_argument("--dry-run", action="store_true", help="check the batch and list its runs (seeds, design "
                       "values, twins, infeasible points) without running anything")
    batch.add_argument("--dry-run-limit", type=_non_negative_int, default=1000, metavar="N", help="--dry-run lists at most N runs")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786")
    batch.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                       help="with --scheduler: stop (exit 3, resumable) when the cluster has had no workers this "
                            "long (default 120)")
    batch.add_argument("--progress", action="store_true", help="progress bar even when not on a terminal")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.add_argument("--no-checkpoints", action="store_true",
                       help="every run warms up on its own instead of starting from its seed's settled state in "
                            "DIR/checkpoints (same results, more time)")
    batch.add_argument("--checkpoint-dir", metavar="FOLDER",
                       help="keep the settled starts here instead of DIR/checkpoints: batches given the same folder "
                            "share their warm-ups (same district, people, economy and seed; same results)")
    batch.set_defaults(func=cmd_batch)

    comp = sub.add_parser("compare", help="each package's effect on each indicator vs the baseline (paired, 95%% CI)",
                          description="Writes DIR/compare.csv and compare.png, the effects per period of each "
                                      "package's timeline, and, when the batch kept the life-circle indicators "
                                      "(e.g. scenarios/batches/city_budget.toml), DIR/evaluators_report.md: one "
                                      "section per package with the smallest difference the batch can detect.")
    comp.add_argument("dir", help="a batch output folder")
    comp.add_argument("--last-months", type=int, default=DEFAULT_LAST_MONTHS,
                      help=f"a run's outcome is the mean over its last N months (default {DEFAULT_LAST_MONTHS})")
    comp.add_argument("--baseline", help="package to compare with (default: the batch's baseline)")
    comp.add_argument("--no-figure", action="store_true", help="skip compare.png")
    comp.add_argument("--by", choices=["package", "point"], default="package",
                      help="package: pooled over design points (default); point: each design point on its own, "
                           "Bonferroni-corrected intervals (compare_points.csv)")
    comp.add_argument("--period", default="end", choices=PERIODS, help="with --by point: the period printed (year 1, year 3, during "
                      "support, after support, end; default end); the CSV has them all")
    comp.add_argument("--limit", type=_non_negative_int, default=20, help="with --by point: effects printed at most (default 20)")
    comp.set_defaults(func=cmd_compare)

    disc = sub.add_parser("discover", help="scenario discovery (EMA Workbench): PRIM and CART boxes where an outcome "
                                           "passes a threshold, feature scores, envelopes over time, pairs plot")
    disc.add_argument("dir", help="a batch output folder")
    disc.add_argument("--outcome", required=True, help="an outcome of the batch's [outcomes] (or, without them, an "
                                                       "indicator's end value)")
    disc.add_argument("--threshold", type=_finite, required=True, help="cases of interest: outcome >= threshold")
    disc.add_argument("--below", action="store_true", help="cases of interest: outcome <= threshold")
    disc.add_argument("--density", type=_share, default=0.8, help="the box reported is the one of highest coverage "
                      "whose density reaches this (default 0.8)")
    disc.add_argument("--peel-alpha", type=_open_share, default=0.05, help="share of points PRIM peels per step, "
                      "between 0 and 1 (default 0.05)")
    disc.add_argument("--mass-min", type=_share, default=0.05, help="smallest box, share of experiments, 0 to 1 "
                      "(default 0.05)")
    disc.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    disc.set_defaults(func=cmd_discover)

    rob = sub.add_parser("robust", help="many-objective robust search over lever mixes (EMA Workbench, "
                                        "epsilon-NSGA-II): the Pareto set under the batch's [robust] table")
    rob.add_argument("batch", help="batch TOML file with [levers], [outcomes] and [robust]")
    rob.add_argument("--out", type=_path, required=True, help="output folder (each generation a resumable batch in it)")
    rob.add_argument("--nfe", type=int, help="evaluations (overrides robust.nfe)")
    rob.add_argument("--workers", type=int, help="local worker processes per generation (default as `batch`)")
    rob.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786")
    rob.add_argument("--quiet", action="store_true", help="no progress bar")
    rob.set_defaults(func=cmd_robust)

    sens = sub.add_parser("sensitivity", help="Sobol or Morris indices per indicator (SALib)")
    sens.add_argument("dir", help="a batch output folder with a sobol or morris design")
    sens.add_argument("--package", help="package to analyse (default: the baseline)")
    sens.add_argument("--last-months", type=int, default=DEFAULT_LAST_MONTHS,
                      help=f"a run's outcome is the mean over its last N months (default {DEFAULT_LAST_MONTHS})")
    sens.add_argument("--no-figure", action="store_true", help="skip sensitivity.png")
    sens.set_defaults(func=cmd_sensitivity)
