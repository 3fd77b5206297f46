"""Running one scenario: the function batches call in other processes, and its outputs.

:func:`run_scenario` builds a model from a scenario, runs it for its years and returns the tidy
indicator time series and the scorecard. :func:`write_outputs` writes them (Parquet, CSV, the
resolved scenario with seed and version, and figures) into a folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.io.atomic import atomic_write_bytes
from sim.city.grid import City
from sim.metrics.effects import support_span
from sim.model import LifeCircleModel
from sim.scenario import Scenario
from sim.timing import RunTimings

# Headline indicators of the scorecard and their targets (None: reported without a target).
# Sources: coverage and satisfaction targets, national notice on life circles (2025): resident
# satisfaction >= 90 % (needs met is its proxy); employment: NBS surveyed-unemployment target
# ~ 5.5 % (2024 government work report).
SCORECARD: tuple[tuple[str, float | None, str], ...] = (
    ("basic_coverage_15", 0.90, ">="),
    ("basic_coverage_10", None, ">="),
    ("basic_coverage_5", None, ">="),
    ("basic_coverage_tiered", None, ">="),
    ("basic_coverage_15_elderly", 0.90, ">="),
    ("basic_coverage_15_disabled", 0.90, ">="),
    ("mean_walk_minutes", 10.0, "<="),
    ("effective_coverage_15", None, ">="),
    ("needs_met_share", 0.90, ">="),
    ("night_needs_met_share", None, ">="),
    ("employment_rate", 0.945, ">="),
    ("local_job_share", None, ">="),
    ("freelancer_income_mean", None, ">="),
    ("disability_employment_gap", 0.05, "<="),
    ("income_mean", None, ">="),
    ("income_gini", 0.40, "<="),
    ("merchants_open", None, ">="),
    ("merchant_survival", None, ">="),
    ("public_spending", None, "<="),
)


@dataclass
class PairedRuns:
    """The scenario and its counterfactual (every lever off), run with the same seeds from the same
    settled starts: the policy effects of a run (:mod:`sim.metrics.effects`).

    Attributes:
        seeds: The replicate seeds (the first is the run's own).
        policy, baseline: Tidy frames (seed, month, indicator, value) of the two arms.
        effects: Per period and indicator: mean paired difference with its 95 % interval.
        persistence: Per indicator: share of the effect during support that remains after it.
    """

    seeds: list[int]
    policy: pd.DataFrame
    baseline: pd.DataFrame
    effects: pd.DataFrame
    persistence: pd.DataFrame


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        scenario: The scenario that ran (years and seed as run).
        seed: The seed used.
        timeseries: Tidy frame of the measured period: day, date, month, indicator, value.
        model: The model at the end (None when not kept).
        warmup: The warm-up's monthly indicators (months <= 0), same columns.
        paired: The run against its counterfactual over replicate seeds (None when not asked for
            or when every lever is off).
        timings: Wall seconds per phase, when the caller timed the run (the command line does:
            ``timings.json``).
    """

    scenario: Scenario
    seed: int
    timeseries: pd.DataFrame
    model: LifeCircleModel | None
    warmup: pd.DataFrame | None = None
    paired: PairedRuns | None = None
    timings: RunTimings | None = None

    @property
    def scorecard(self) -> pd.DataFrame:
        """The indicator scorecard (see :func:`scorecard`)."""
        return scorecard(self.timeseries)


def replicate_seeds(seed: int, count: int) -> list[int]:
    """``count`` seeds for paired replicates of a run: its own seed first, then seeds spawned from
    it (``SeedSequence(seed).spawn``, one 32-bit integer each)."""
    children = np.random.SeedSequence(seed).spawn(max(count - 1, 0))
    return [int(seed)] + [int(child.generate_state(1)[0]) for child in children]


def without_levers(scenario: Scenario) -> Scenario:
    """The counterfactual of ``scenario``: the same district, people, economy and years, every lever off."""
    return scenario.with_updates({f"levers.{name}.enabled": False for name in type(scenario.levers).model_fields})


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    years: float | None = None,
    city: City | None = None,
    progress: bool = False,
    keep_model: bool = True,
    replicates: int = 0,
    checkpoints: Any = None,
    timings: RunTimings | None = None,
) -> RunResult:
    """Build and run a model for a scenario (after its warm-up; see :class:`LifeCircleModel`).

    Args:
        scenario: The validated scenario.
        seed: Overrides the scenario's seed.
        years: Overrides the scenario's years.
        city: A prebuilt city to reuse (e.g. a loaded district shared by many runs).
        progress: Show a progress bar (days).
        keep_model: Return the model too (False keeps batch workers' memory small).
        replicates: When levers are on, also run the counterfactual (every lever off) and the
            scenario for ``replicates`` paired seeds (the run's own first) and report the effects
            (:class:`PairedRuns`); 0: no counterfactual.
        checkpoints: Where settled starts are kept (see :class:`LifeCircleModel`; None: the default store).
        timings: Adds this run's (and its counterfactual's) build, checkpoint, warm-up and measured
            seconds to these timings, and keeps them in the result (:func:`write_outputs` writes them).
    """
    updates = {}
    if seed is not None:
        updates["seed"] = int(seed)
    if years is not None:
        updates["years"] = float(years)
    if updates:
        scenario = scenario.with_updates(updates)
    model = _run_model(scenario, scenario.seed, city, progress, checkpoints, timings)
    clock = time.perf_counter()
    result = RunResult(scenario=scenario, seed=scenario.seed, timeseries=model.timeseries(),
                       model=model if keep_model else None, warmup=model.warmup_timeseries(), timings=timings)
    if timings is not None:
        timings.add("outputs", time.perf_counter() - clock)
    if replicates > 0 and support_span(scenario.levers) is not None:
        result.paired = _paired(scenario, result.timeseries, replicate_seeds(scenario.seed, replicates), model.city,
                                checkpoints, timings)
    return result


def _run_model(scenario: Scenario, seed: int, city: City | None, progress: bool = False,
               checkpoints: Any = None, timings: RunTimings | None = None) -> LifeCircleModel:
    clock = time.perf_counter()
    model = LifeCircleModel(scenario=scenario, seed=seed, city=city, checkpoints=checkpoints)
    if timings is not None:
        start = model.start_seconds
        timings.add("build", time.perf_counter() - clock - start["warmup"] - start["checkpoint"])
        timings.add("warmup", start["warmup"])
        timings.add("checkpoint", start["checkpoint"])
        clock = time.perf_counter()
    days = model.days_total
    if progress:
        from tqdm.auto import tqdm

        with tqdm(total=days, unit="day", desc=scenario.name, leave=False) as bar:
            while model.running:
                chunk = min(30, days - model.day)
                model.run_for(chunk)
                bar.update(chunk)
    elif timings is not None and timings.first_day is None and days > 1:
        # The first day is timed apart: a compiled rule not yet loaded from numba's cache loads at its
        # first call, and the record shows whether start-up work hides in the measured days.
        model.run_for(1)
        timings.first_day = (time.perf_counter() - clock, days)
        model.run_for(days - 1)
    else:
        model.run_for(days)
    if timings is not None:
        timings.add("measured", time.perf_counter() - clock)
    return model


def _paired(scenario: Scenario, first: pd.DataFrame, seeds: list[int], city: City, checkpoints: Any,
            timings: RunTimings | None = None) -> PairedRuns:
    """Both arms for every replicate seed (the policy arm of the first seed is ``first``)."""
    from sim.metrics.effects import paired_differences, period_means, periods, persistence, summarise

    counterfactual = without_levers(scenario)
    # A real district is the same for every seed and is loaded once; a grid city is drawn from the
    # seed's own stream, so each replicate builds its own (another seed's grid would give a run, and a
    # settled start saved under this seed's key, that this seed never gives on its own).
    city = city if scenario.city.kind != "grid" else None
    policy, baseline = [first.assign(seed=seeds[0])], []
    for i, s in enumerate(seeds):
        if i:
            policy.append(_run_model(scenario, s, city, checkpoints=checkpoints, timings=timings)
                          .timeseries().assign(seed=s))
        baseline.append(_run_model(counterfactual, s, city, checkpoints=checkpoints, timings=timings)
                        .timeseries().assign(seed=s))
    policy_frame, baseline_frame = pd.concat(policy, ignore_index=True), pd.concat(baseline, ignore_index=True)
    months = int(first["month"].max()) if len(first) else 0
    spans = periods(scenario.levers, months)
    pairs = paired_differences(period_means(policy_frame, ["seed"], spans),
                               period_means(baseline_frame, ["seed"], spans), ["seed"])
    return PairedRuns(seeds=seeds, policy=policy_frame, baseline=baseline_frame, effects=summarise(pairs),
                      persistence=persistence(pairs, pair_on=["seed"]))


def scorecard(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Headline indicators: first and last value, change, target, whether the last value meets it,
    and the first month in which it was met (time to target; empty if never). Months count as the
    levers' do: 0 is the first measured month (its collection is labelled 1: a collection labelled m
    covers month m - 1), as the batches' ``time_to_target`` counts."""
    from sim.metrics.indicators import REGISTRY

    rows = []
    for name, target, sense in SCORECARD:
        series = timeseries[timeseries["indicator"] == name].sort_values("day")
        if series.empty:
            continue
        values = series["value"].to_numpy(dtype=float)
        start, end = float(values[0]), float(values[-1])
        met, first = None, ""
        if target is not None:
            ok = values >= target if sense == ">=" else values <= target
            met = None if np.isnan(end) else bool(ok[-1])
            if ok.any():
                first = str(int(series["month"].to_numpy()[int(np.argmax(ok))]) - 1)
        rows.append({
            "indicator": name, "unit": REGISTRY[name].unit, "start": start, "end": end,
            "change": end - start, "target": f"{sense} {target:g}" if target is not None else "",
            "met": "" if met is None else ("yes" if met else "no"), "first_met_month": first,
        })
    return pd.DataFrame(rows)


def format_scorecard(card: pd.DataFrame, *, title: str, attribution: str = "") -> str:
    """The scorecard as a plain-text table for the terminal."""
    lines = [title, "=" * len(title)]
    header = (f"{'indicator':30s} {'unit':>16s} {'start':>12s} {'end':>12s} {'change':>12s} {'target':>9s}"
              f" {'met':>4s} {'first met':>9s}")
    lines += [header, "-" * len(header)]
    for row in card.itertuples():
        lines.append(
            f"{row.indicator:30s} {row.unit[:16]:>16s} {row.start:12.4g} {row.end:12.4g} {row.change:+12.4g} {row.target:>9s}"
            f" {row.met:>4s} {row.first_met_month:>9s}"
        )
    if attribution:
        lines.append(f"Map data: {attribution}")
    return "\n".join(lines)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_outputs(result: RunResult, out_dir: str | Path, *, figures: bool = True, force: bool = False) -> dict[str, Path]:
    """Write timeseries.parquet (measured months), warmup.parquet (the warm-up's months, <= 0),
    scorecard.csv, scenario.resolved.toml, accounts.csv, effects.csv and persistence.csv (when the
    run was paired with its counterfactual), outlets.parquet and homes.parquet
    (:mod:`sim.io.gis_outputs`, when the model was kept), the per-circle files of a city divided
    into life circles (:mod:`sim.io.circle_outputs`), report.md, figures/ and timings.json (wall
    seconds per phase, when the run was timed: :class:`sim.timing.RunTimings`) into ``out_dir``, a
    folder this run owns (:mod:`sim.io.outdir`: a new folder or an earlier run's, whose other outputs
    are removed; ``force`` writes into a folder with other files)."""
    from sim.io.outdir import claim_run_dir, discard_previous_outputs, finish_run_dir

    out = claim_run_dir(out_dir, force=force, scenario=result.scenario.name)
    discard_previous_outputs(out)  # so that a run killed while writing never leaves its files beside another's
    paths = {
        "timeseries": out / "timeseries.parquet",
        "scorecard": out / "scorecard.csv",
        "scenario": out / "scenario.resolved.toml",
    }
    frame = result.timeseries.assign(scenario=result.scenario.name, seed=result.seed)
    _write_parquet(frame, paths["timeseries"])
    if result.warmup is not None and len(result.warmup):
        paths["warmup"] = out / "warmup.parquet"
        _write_parquet(result.warmup.assign(scenario=result.scenario.name, seed=result.seed), paths["warmup"])
    if result.paired is not None:
        paths["effects"] = out / "effects.csv"
        atomic_write_bytes(paths["effects"], result.paired.effects.to_csv(index=False).encode())
        paths["persistence"] = out / "persistence.csv"
        atomic_write_bytes(paths["persistence"], result.paired.persistence.to_csv(index=False).encode())
    atomic_write_bytes(paths["scorecard"], result.scorecard.to_csv(index=False).encode())
    provenance = {"seed": result.seed, "lifecircle_version": __version__,
                  "scenario_hash": result.scenario.content_hash()}
    atomic_write_bytes(paths["scenario"], result.scenario.to_toml(extra=provenance).encode())
    if result.model is not None:
        from sim.io.gis_outputs import write_gis_outputs

        paths.update(write_gis_outputs(result.model, out))
        from sim.io.circle_outputs import write_circle_outputs

        paths.update(write_circle_outputs(result.model, out, scenario=result.scenario.name, seed=result.seed))
    figure_paths: dict[str, Path] = {}
    if result.model is not None:
        paths["accounts"] = out / "accounts.csv"  # money by account and sector, start and end
        atomic_write_bytes(paths["accounts"], result.model.ledger.accounts_csv().encode())
    if figures and result.model is not None:
        clock = time.perf_counter()
        from sim.io.figures import write_figures

        figure_paths = write_figures(result.model, result.timeseries, out / "figures")
        paths.update(figure_paths)
        if result.timings is not None:
            result.timings.add("figures", time.perf_counter() - clock)
    from sim.io.report import write_report

    paths["report"] = write_report(result, out, figure_paths)
    if result.timings is not None:
        result.timings.lap("outputs")
        paths["timings"] = out / "timings.json"
        record = {"scenario": result.scenario.name, "residents": result.scenario.population.residents,
                  "warmup_years": result.scenario.warmup_years, "years": result.scenario.years,
                  "settled_start": result.model.warmup_source if result.model is not None else None,
                  **result.timings.record()}
        atomic_write_bytes(paths["timings"], (json.dumps(record, indent=1) + "\n").encode())
    finish_run_dir(out, paths.values())
    return paths
