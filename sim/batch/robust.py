"""The many-objective robust search over lever mixes (``lifecircle robust BATCH --out DIR``).

The EMA Workbench's ``robust_optimize`` (epsilon-NSGA-II from ``platypus-opt``; Kwakkel 2017) looks
for the lever mixes that do best over a set of reference scenarios of the uncertainties: each
objective of the batch's ``[robust]`` table is an outcome (:mod:`sim.batch.statistics`) summarised
over the scenarios by a robustness statistic (the mean, the 10th or 90th percentile, the worst or
the best), and a budget on one of them (public spending) makes the mixes above it infeasible.
The result is the Pareto set: the mixes none of which is beaten on every objective by another.

Every generation of the search is a lifecircle batch (:class:`sim.batch.ema.LifecircleEvaluator`)
in ``DIR/search/generation-<n>``: local workers or a Dask cluster, the resumable store, paired
seeds, and warm-ups kept once in ``DIR/checkpoints`` for all generations. The search's proposals
come from its own seed, so running the same command again proposes the same mixes, finds their
runs done, and resumes where it stopped.

Output: ``DIR/pareto.csv`` (each mix's levers and robust objective values, display names in a second
header row), ``DIR/pareto.png``, ``DIR/convergence.csv`` (epsilon progress) and ``DIR/search_archives.tar``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.batch.ema import decode, ema_name, evaluator, key_of, workbench, workbench_model
from sim.batch.spec import BatchSpec
from sim.scenario import ScenarioError

ROBUSTNESS = {
    "mean": lambda values: float(np.mean(values)),
    "p10": lambda values: float(np.percentile(values, 10)),
    "p90": lambda values: float(np.percentile(values, 90)),
    "min": lambda values: float(np.min(values)),
    "max": lambda values: float(np.max(values)),
}
"""Robustness statistics of an outcome over the reference scenarios."""


@dataclass
class RobustResult:
    """What the search found: the Pareto set and where it was written."""

    pareto: pd.DataFrame
    """One row per mix: lever columns (dotted keys) and the robust value of each objective."""
    convergence: pd.DataFrame
    scenarios: list[dict[str, Any]]
    evaluations: int
    runs: int
    paths: dict[str, Path]


def reference_scenarios(spec: BatchSpec) -> list[dict[str, Any]]:
    """The search's reference scenarios (dotted keys): the batch's design points, or a Latin sample
    of ``robust.scenarios`` points of the uncertainties (seeded by the search's seed)."""
    from sim.batch.design import _design
    from sim.batch.spec import DesignConfig

    if not spec.parameters:
        return [{}]
    if spec.robust.scenarios == 0:
        from sim.batch.design import build_design

        design = build_design(spec)
    else:
        design = _design(spec.parameters, DesignConfig(method="latin", samples=spec.robust.scenarios),
                         seed=spec.robust.seed)
    return [design.point_values(i) for i in range(design.n_points)]


OUTPUTS = ("search", "checkpoints", "pareto.csv", "convergence.csv", "pareto.png", "search_archives.tar")
"""What a robust search writes into its ``--out`` folder (``search``: a batch per generation)."""


def robust_dir(out: str | Path) -> Path:
    """Create and check a robust search's ``--out`` folder before anything runs, as ``batch``, ``run``
    and ``calibrate`` do theirs: a new or empty folder, or one holding only a robust search's outputs
    (resumed).

    Raises:
        ScenarioError: the folder cannot be written (a file, under a file, read-only), or holds other files.
    """
    from sim.io.outdir import writable_dir

    out = writable_dir(out, option="--out").resolve()
    others = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS
                    and not (p.name.startswith(".") and p.name.endswith(".tmp")))  # an atomic write killed
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ScenarioError(
            f"--out {out}: the folder holds files that are not a robust search's ({shown}); allowed: a new or "
            f"empty folder, or the folder of this same search (its {', '.join(OUTPUTS)})")
    return out


def robust_search(spec: BatchSpec, out: str | Path, *, workers: int | None = None, client: Any = None,
                  nfe: int | None = None, progress: bool = False) -> RobustResult:
    """Run (or resume) the robust search of ``spec`` into ``out``.

    Raises:
        ScenarioError: the batch has no ``[robust]`` table.
    """
    if spec.robust is None:
        raise ScenarioError(f"{spec.source}: no [robust] table; it names the objectives (outcomes with kind = "
                            f"'maximize' or 'minimize'), the robustness statistic and the budget")
    ema = workbench()
    from platypus import EpsNSGAII

    cfg = spec.robust
    out = robust_dir(out)
    model = workbench_model(spec, index_coded=True)
    scenarios = reference_scenarios(spec)
    samples = [ema.Sample(f"scenario_{i}", **{ema_name(k): _encode(spec, k, v) for k, v in point.items()})
               for i, point in enumerate(scenarios)]
    kinds = {"maximize": ema.ScalarOutcome.MAXIMIZE, "minimize": ema.ScalarOutcome.MINIMIZE}
    statistic = ROBUSTNESS[cfg.robustness]
    objectives = [ema.ScalarOutcome(f"{name}_{cfg.robustness}", kind=kinds[spec.outcomes[name].kind],
                                    variable_name=name, function=statistic) for name in cfg.objectives]
    constraints = []
    if cfg.budget is not None:
        budget = float(cfg.budget)
        constraints.append(ema.Constraint("budget", outcome_names=f"{cfg.budget_outcome}_{cfg.robustness}",
                                          function=lambda value: max(0.0, float(value) - budget)))
    epsilons = cfg.epsilons or [0.01] * len(objectives)
    archive = out / "search_archives.tar"
    archive.unlink(missing_ok=True)  # a log of this invocation's archives (the runs are what resumes)
    runner = evaluator(spec, model, out / "search", workers=workers, client=client, checkpoint_dir=out / "checkpoints",
                       replications=cfg.replications, prefix="generation", progress=progress, index_coded=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with runner:
            pareto, convergence = ema.em_framework.evaluators.robust_optimize(
                model, objectives, samples, evaluator=runner, algorithm=EpsNSGAII, nfe=int(nfe or cfg.nfe),
                constraints=constraints or None, epsilons=epsilons, population_size=cfg.population, rng=cfg.seed,
                convergence_freq=cfg.population, logging_freq=1, directory=str(out), filename=archive.name)
    pareto = pareto.rename(columns={ema_name(k): k for k in spec.levers})
    decoded = [decode(spec, row) for row in pareto[list(spec.levers)].to_dict("records")]
    for key in spec.levers:
        pareto[key] = [row[key] for row in decoded]
    runs = sum(s.total for s in runner.summaries)
    paths = _write(spec, out, pareto, convergence)
    return RobustResult(pareto=pareto, convergence=convergence, scenarios=scenarios,
                        evaluations=int(nfe or cfg.nfe), runs=runs, paths=paths)


def _encode(spec: BatchSpec, key: str, value: Any) -> Any:
    """A category's index (the search's coding, :func:`sim.batch.ema.parameters_of`)."""
    from sim.batch.spec import default_values

    cats = default_values(key, spec.parameters.get(key) or spec.levers[key])
    return cats.index(value) if cats is not None else value


def objective_labels(spec: BatchSpec) -> dict[str, str]:
    """Display names of the robust objectives: "Basic coverage ... (share), mean over scenarios"."""
    from sim.batch.labels import label
    from sim.batch.statistics import describe

    cfg = spec.robust
    over = {"mean": "mean", "p10": "10th percentile", "p90": "90th percentile", "min": "worst", "max": "best"}
    out = {}
    for name in cfg.objectives:
        outcome = spec.outcomes[name]
        text = outcome.label or f"{label(outcome.indicator)}, {describe(outcome)}"
        out[f"{name}_{cfg.robustness}"] = f"{text}; {over[cfg.robustness]} over scenarios"
    return out


def _write(spec: BatchSpec, out: Path, pareto: pd.DataFrame, convergence: pd.DataFrame) -> dict[str, Path]:
    from sim.io.atomic import atomic_write_bytes
    from sim.batch import figures
    from sim.batch.labels import label

    labels = {**objective_labels(spec), **{k: label(k, {k: r.label for k, r in spec.levers.items() if r.label})
                                           for k in spec.levers}}
    paths = {"pareto": out / "pareto.csv", "convergence": out / "convergence.csv"}
    atomic_write_bytes(paths["pareto"], pareto.to_csv(index=False).encode())
    atomic_write_bytes(paths["convergence"], convergence.to_csv(index=False).encode())
    names = list(objective_labels(spec))
    if len(pareto) and len(names) >= 2:
        colour = names[2] if len(names) > 2 else names[1]
        cfg = spec.robust
        caption = (f"{len(pareto)} mixes in the Pareto set of the robust search ({cfg.nfe} evaluations, population "
                   f"{cfg.population}); each over {len(reference_scenarios(spec))} reference scenario(s) x "
                   f"{cfg.replications or spec.replications} replicate(s); {spec.years:g} measured years")
        paths["figure"] = figures.pareto(pareto, names[0], names[1], colour, out / "pareto.png", labels=labels,
                                         title="Robust lever mixes: the Pareto set", caption=caption,
                                         budget=cfg.budget)
    return paths


def format_pareto(spec: BatchSpec, result: RobustResult) -> str:
    """The Pareto set as plain text (display names)."""
    from sim.batch.labels import label

    labels = objective_labels(spec)
    lines = [f"Pareto set: {len(result.pareto)} lever mix(es) from {result.evaluations} evaluations ({result.runs} "
             f"runs) over {len(result.scenarios)} reference scenario(s)"]
    from sim.batch.plan import lever_of

    for i, row in result.pareto.iterrows():
        def shown(key: str) -> str:  # a setting of a lever that is off does nothing: say so
            switch = f"levers.{lever_of(key)}.enabled"
            inert = key != switch and switch in row and not bool(row[switch])
            return f"{label(key)} = {_fmt(row[key])}" + (" (lever off)" if inert else "")

        levers = ", ".join(shown(k) for k in spec.levers)
        scores = "; ".join(f"{labels[n]}: {_fmt(row[n])}" for n in labels)
        lines.append(f"  {i + 1:2d}. {levers}\n      {scores}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.4g}"
    return str(value)


__all__ = ["RobustResult", "reference_scenarios", "robust_dir", "robust_search", "format_pareto", "key_of"]
