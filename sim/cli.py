"""The ``lifecircle`` command line.

Bad input (a scenario, batch or OSM file) is reported as one clear message on stderr with exit
status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from pathlib import Path

from sim import __version__
from sim.errors import EngineChangedError, ScenarioError


class UsageError(Exception):
    """Bad input from the user (exit status 2)."""


DEFAULT_REPLICATES = 4
"""Paired seeds a lever scenario is run for by ``lifecircle run`` (both arms)."""


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: allowed: a whole number >= 0")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: allowed: a whole number >= 1")
    return value


def _path(text: str) -> str:
    """A file or folder path given on the command line (``--out`` ...): not empty (``--out ""`` must not
    quietly mean the default folder or the working directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a path (not empty)")
    return text


def _scenario_from_args(args: argparse.Namespace):
    from sim.scenario import load_scenario, parse_set_option

    updates, labels = {}, {}  # labels: a bad value is the option's, not the scenario file's
    for item in args.set or []:
        key, updates[key] = parse_set_option(item)
        labels[key] = f"--set {item}"
    if getattr(args, "years", None) is not None:
        updates["years"], labels["years"] = float(args.years), f"--years {args.years:g}"
    if getattr(args, "seed", None) is not None:
        updates["seed"], labels["seed"] = int(args.seed), f"--seed {args.seed}"
    return load_scenario(args.scenario, updates=updates, labels=labels)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario; print the scorecard; write outputs."""
    if args.own_process:
        gc.disable()  # the imports below make ~450,000 objects that live as long as the process: no collections
    from sim.io.inputs import check_inputs
    from sim.io.memory import check_fits
    from sim.metrics.indicators import UnknownIndicatorError, resolve
    from sim.io.outdir import claim_run_dir, default_run_dir
    from sim.run import format_scorecard, run_scenario, write_outputs
    from sim.timing import RunTimings

    if args.threads is not None:  # read by sim.services.blocks; inherited by any worker process
        os.environ["LIFECIRCLE_THREADS"] = str(args.threads)
    if args.own_process:
        # ... and later collections need not scan them again: with them frozen, a 100,000-resident
        # run (its build makes 10^5 Mesa agents) spent 0.1-0.25 s collecting instead of ~0.65 s.
        gc.freeze()
        gc.enable()
    timings = RunTimings(origin=args.started)  # start-up: from the process's start to here (imports)
    scenario = _scenario_from_args(args)
    # Everything that can be known to fail is found before the simulation: indicators, input files,
    # memory, --out.
    try:
        resolve(scenario.output.indicators)
    except UnknownIndicatorError as err:
        raise ScenarioError(f"{args.scenario}: output.indicators: {err}") from None
    check_inputs(scenario, source=str(args.scenario))
    check_fits(scenario, source=str(args.scenario))
    out = Path(args.out) if args.out else default_run_dir(scenario.name)
    claim_run_dir(out, force=args.force, scenario=scenario.name)
    try:
        result = run_scenario(scenario, progress=not args.quiet and sys.stderr.isatty() or args.progress,
                              replicates=args.replicates, timings=timings)
    except UnknownIndicatorError as err:
        raise ScenarioError(f"{args.scenario}: output.indicators: {err}") from None
    timings.lap("build")  # reading and checking the scenario, its inputs and --out
    paths = write_outputs(result, out, figures=not args.no_figures, force=args.force)
    model = result.model
    title = f"lifecircle scorecard: {scenario.name} on {model.city.name}, {scenario.years:g} years, seed {result.seed}"
    print(format_scorecard(result.scorecard, title=title, attribution=model.city.attribution))
    print(f"\nwrote {out}/: " + ", ".join(sorted(p.name for p in paths.values())))
    return 0


def _file_kind(path: str) -> str:
    """What a TOML file is: ``batch`` (it lists [packages]), ``calibration`` (it has [targets] or names
    its ``scenario``), ``empty`` or else ``scenario``."""
    from sim.scenario import read_toml_file

    try:
        data = read_toml_file(Path(path).expanduser().resolve())
    except ScenarioError:
        return "scenario"  # the scenario path reports it
    if not data:
        return "empty"
    if isinstance(data.get("packages"), dict):
        return "batch"
    if isinstance(data.get("targets"), dict) or isinstance(data.get("scenario"), str):
        return "calibration"
    return "scenario"


def cmd_validate(args: argparse.Namespace) -> int:
    """Check a scenario or batch file without running it."""
    from sim.io.inputs import check_inputs
    from sim.metrics.indicators import resolve

    kind = _file_kind(args.scenario)
    if kind == "empty":  # which kind it was meant to be, the file cannot say: what each needs
        raise ScenarioError(f"{args.scenario}: empty file (no keys); a scenario sets at least one key, e.g. "
                            f"extends = \"baseline.toml\" and name = \"...\"; a batch file names at least its "
                            f"[packages] (NAME = \"scenario.toml\"; docs/batches.md)")
    if kind == "calibration":
        raise ScenarioError(f"{args.scenario}: a calibration file ([targets], scenario = ...), not a scenario or "
                            f"batch file; `lifecircle validate` checks those; a calibration is checked and run by "
                            f"`lifecircle calibrate {args.scenario} --out DIR` (docs/calibration.md)")
    if kind == "batch":
        if args.set:
            raise UsageError("--set applies to scenario files; a batch file sets keys in its [overrides]")
        from sim.batch.dryrun import check_batch, summary_lines
        from sim.batch.spec import load_batch

        spec = load_batch(args.scenario)
        print("\n".join(summary_lines(spec, check_batch(spec))))
        return 0
    scenario = _scenario_from_args(args)
    try:
        resolve(scenario.output.indicators)
    except KeyError as err:
        raise ScenarioError(f"{args.scenario}: output.indicators: {err}") from None
    catalogue = check_inputs(scenario, source=str(args.scenario))
    from sim.io.input_check import check_tables
    from sim.io.memory import available_bytes, estimate, gb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the summary lines below say the same
        summary = check_tables(scenario, catalogue)
    need = estimate(scenario)
    print(f"{args.scenario}: valid scenario '{scenario.name}' (hash {scenario.content_hash()}); "
          f"a run needs {need.describe()}")
    for line in summary:
        print(f"  {line}")
    if need.total > available_bytes():
        print(f"lifecircle: warning: {args.scenario}: this machine has only {gb(available_bytes())} of memory "
              f"free: `lifecircle run` will refuse it here", file=sys.stderr)
    return 0


def cmd_levers(args: argparse.Namespace) -> int:
    """List every lever: scenario keys, units and ranges, mechanism, indicator."""
    from sim.levers import LEVERS, claim_text
    from sim.scenario import LeversConfig, field_docs

    for cls in LEVERS:
        config_cls = LeversConfig.model_fields[cls.name].annotation
        print(f"[levers.{cls.name}]  -- {cls.measure}")
        print(f"  mechanism: {cls.mechanism}")
        print(f"  moves:     {cls.indicator}")
        print(f"  claimed:   {claim_text(cls)}  (at its defaults, on the settled baseline; docs/lever_effects.md)")
        for key, default, doc in field_docs(config_cls, f"levers.{cls.name}."):
            info = _range_of(config_cls, key.rsplit(".", 1)[1])
            print(f"    {key} = {default}{info}\n        {doc}")
        print()
    return 0


def _range_of(model_cls, name: str) -> str:
    info = model_cls.model_fields[name]
    bounds = []
    for meta in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sym} {value}")
    return f"  ({', '.join(bounds)})" if bounds else ""


def cmd_settle(args: argparse.Namespace) -> int:
    """Check that a scenario's district is settled after its warm-up (exit 1 if not)."""
    from sim.metrics.settle import format_settling, settling

    scenario = _scenario_from_args(args)
    seeds = [scenario.seed + i for i in range(args.seeds)]
    result = settling(scenario, seeds)
    title = (f"settling check: {scenario.name}, warm-up {scenario.warmup_years:g} years, then "
             f"{scenario.years:g} measured years, every lever off, seeds {', '.join(map(str, seeds))}")
    print(format_settling(result, title))
    return 0 if result.settled else 1


def cmd_indicators(args: argparse.Namespace) -> int:
    """List every indicator with its group, unit and meaning."""
    from sim.metrics.indicators import REGISTRY

    for ind in REGISTRY.values():
        family = " (family: name.<suffix>)" if ind.family else ""
        print(f"{ind.name:32s} [{ind.group}, {ind.unit}]{family}\n    {ind.doc}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print every scenario key with its default and documentation."""
    from sim.scenario import field_docs

    for key, default, doc in field_docs():
        print(f"{key} = {default}\n    {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands run, validate, levers, indicators, schema, batch ...)."""
    parser = argparse.ArgumentParser(prog="lifecircle", description="Simulate 15-minute convenient life circles and the policies that build them.")
    parser.add_argument("--version", action="version", version=f"lifecircle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one scenario, print the scorecard, write outputs")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--out", type=_path, help="output folder (default results/<scenario name>, the name made safe); created "
                     "and checked before the simulation; a folder of another run's outputs is replaced")
    run.add_argument("--force", action="store_true", help="write into --out even if it holds files that are not a "
                     "lifecircle run's (earlier lifecircle outputs there are replaced, other files kept)")
    run.add_argument("--years", type=float, help="measured years after the warm-up (overrides the scenario)")
    run.add_argument("--seed", type=int, help="master seed (overrides the scenario)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key, e.g. economy.rent_multiplier=2.0 (repeatable)")
    run.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    run.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--replicates", type=_non_negative_int, default=DEFAULT_REPLICATES, metavar="N",
                     help="when levers are on, also run the counterfactual (every lever off) and report each "
                          f"effect as the paired difference over N seeds, the run's own first (default {DEFAULT_REPLICATES}; "
                          "0: no counterfactual)")
    run.add_argument("--threads", type=_positive_int, metavar="N",
                     help="threads of the compiled daily rules of a population of more than 65,536 residents "
                          "(default: $LIFECIRCLE_THREADS, else every core, one below 131,073 residents); "
                          "results do not depend on it")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a scenario or batch file without running it (a batch: its runs, "
                                          "twins, warm-ups and infeasible design points)")
    val.add_argument("scenario", help="scenario or batch TOML file")
    val.add_argument("--set", action="append", metavar="KEY=VALUE")
    val.set_defaults(func=cmd_validate)

    settle = sub.add_parser("settle", help="check that a district is settled after its warm-up: coverage and outlets over the "
                                           "measured years at the level the warm-up ended at, no mass-closure month (exit 1 if not)")
    settle.add_argument("scenario")
    settle.add_argument("--seeds", type=_positive_int, default=5, help="seeds to check (default 5)")
    settle.add_argument("--years", type=float, default=10.0, help="measured years to check (default 10)")
    settle.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key, e.g. warmup_years=15")
    settle.set_defaults(func=cmd_settle, seed=None)
    sub.add_parser("levers", help="list every policy lever with its keys, mechanism and indicator").set_defaults(func=cmd_levers)
    sub.add_parser("indicators", help="list every indicator").set_defaults(func=cmd_indicators)
    sub.add_parser("schema", help="list every scenario key with its default and meaning").set_defaults(func=cmd_schema)

    from sim.io.own_district import register as register_district  # district (sim/io/own_district.py)

    register_district(sub)

    try:  # batch, compare, sensitivity (sim/batch)
        from sim.batch.cli import register
    except ImportError:
        register = None
    if register is not None:
        register(sub)

    from sim.calibration.cli import register as register_calibrate  # calibrate (sim/calibration)

    register_calibrate(sub)
    return parser


def _short_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"lifecircle: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lifecircle`` console script."""
    # Without argv this is the command line, in a process of its own: a run's timings.json counts from
    # the process's start, and the garbage collector may be tuned for a process that ends with the
    # command. A program calling main() with arguments (tests, notebooks) keeps its collector as it is,
    # and the timings count from this call.
    own_process = argv is None
    started = None if own_process else time.perf_counter()
    warnings.formatwarning = _short_warning  # data warnings (unmapped OSM tags ...) read as messages
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started, args.own_process = started, own_process
    try:
        return _dispatch(args)
    finally:
        if own_process:
            # The process exits next (the console script, ``python -m sim.cli``): the run's objects
            # (a model and its Mesa agents: ~10^5 objects in reference cycles) need not be collected
            # one by one at exit; that took 0.3-1 s after a 100,000-resident run. Freezing skips it.
            gc.freeze()


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; bad input, an interrupt or a closed pipe become an exit status."""
    try:
        return int(args.func(args) or 0)
    except (ScenarioError, UsageError) as err:
        print(f"lifecircle: error: {err}", file=sys.stderr)
        return 2
    except EngineChangedError as err:  # the code was edited under a long command: no traceback, exit 1
        print(f"lifecircle: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lifecircle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
