"""lifecircle as an EMA Workbench model, and a batch read back as the Workbench's results.

The EMA Workbench (``ema_workbench``, Kwakkel 2017, doi:10.1016/j.envsoft.2017.06.054) is the
field's tool for exploratory modelling: uncertainties and levers, experiments, scenario discovery
(PRIM, CART), feature scoring, envelopes over time and many-objective robust search. lifecircle
keeps its own strengths on that path -- batches run by ``lifecircle batch`` on local processes or a
Dask cluster, a resumable Parquet store, paired seeds, settled checkpoints -- and meets the
Workbench at its data:

* :func:`load_experiments` reads a batch folder back as the Workbench's ``(experiments, outcomes)``
  pair: one experiment per (package or lever mix, design point), columns for every uncertainty and
  lever (named by :func:`ema_name`, ``economy__rent_multiplier``), ``scenario`` (the design point),
  ``policy`` (the package) and ``model``; outcomes as arrays, scalar ones from the batch's
  ``[outcomes]`` (:mod:`sim.batch.statistics`, averaged over replicates) and the monthly series of
  their indicators (``n x months``, with ``TIME``), so ``prim.Prim``, ``feature_scoring``,
  ``plotting.envelopes`` and ``pairs_plotting`` take them as they are.
* :func:`workbench_model` declares the batch as a ``ReplicatorModel`` (uncertainties, levers and
  outcomes from the batch file and the scenario schema; one replication per replicate seed) whose
  function runs lifecircle in the calling process, for the Workbench's own evaluators.
* :class:`LifecircleEvaluator` is a Workbench evaluator that runs the experiments it is handed as a
  lifecircle batch (:func:`sim.batch.run_batch`: the executors, the store, the checkpoints) and
  hands the results back; the robust search (:mod:`sim.batch.robust`) evaluates every generation
  through it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.batch import store
from sim.batch.spec import BatchSpec
from sim.scenario import ScenarioError

MODEL_NAME = "lifecircle"
TIME = "TIME"
"""The Workbench's name for the time axis of series outcomes: the measured month (1 = the first)."""


def workbench():
    """The ``ema_workbench`` module (imported quietly: it warns about optional parallel back-ends)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ema_workbench
    return ema_workbench


def ema_name(key: str) -> str:
    """A design key as a Workbench name (a Python identifier): ``economy.rent_multiplier`` ->
    ``economy__rent_multiplier``."""
    return key.replace(".", "__")


def key_of(name: str) -> str:
    """The inverse of :func:`ema_name`."""
    return name.replace("__", ".")


def default_outcomes(indicators: list[str]) -> dict[str, dict[str, Any]]:
    """Outcomes of a batch without ``[outcomes]``: each kept indicator's end value (mean of the last
    3 months, as ``lifecircle compare``)."""
    return {name.replace(".", "_"): {"indicator": name, "statistic": "end", "last_months": 3, "period": "all",
                                     "kind": "info", "effect": False} for name in indicators}


# ----------------------------------------------------------------------------- read a batch back

def _series_by_run(frame: pd.DataFrame, indicator: str) -> tuple[dict[str, pd.DataFrame], int]:
    rows = frame[frame["indicator"] == indicator][["run_id", "month", "value"]]
    return {run_id: group for run_id, group in rows.groupby("run_id", sort=False)}, int(frame["month"].max())


def run_outcome_values(out: str | Path, outcomes: dict[str, Any] | None = None) -> pd.DataFrame:
    """Every outcome of every finished run: columns run_id, package, point, replicate, seed, then one
    column per outcome (:mod:`sim.batch.statistics`; ``effect`` outcomes paired with the baseline run
    of the same point and replicate)."""
    from sim.batch.compare import _run_timelines
    from sim.batch.statistics import run_values, window

    out = Path(out)
    info = store.read_batch_info(out)
    outcomes = outcomes if outcomes is not None else (info.get("outcomes") or default_outcomes(_kept(out)))
    frame = store.read_runs(out, columns=["run_id", "package", "point", "replicate", "seed", "scenario_hash", "month",
                                          "indicator", "value"])
    timelines = _run_timelines(out)
    runs = frame[["run_id", "package", "point", "replicate", "seed", "scenario_hash"]].drop_duplicates("run_id")
    runs = runs.sort_values(["package", "point", "replicate"]).reset_index(drop=True)
    baseline = info["baseline"]
    base_of = {(r.point, r.replicate): r.run_id for r in runs.itertuples() if r.package == baseline}
    months = int(frame["month"].max())
    table = runs[["run_id", "package", "point", "replicate", "seed"]].copy()
    for name, outcome in outcomes.items():
        series, _ = _series_by_run(frame, outcome["indicator"])
        values = []
        for r in runs.itertuples():
            levers = timelines.get((r.package, r.scenario_hash))
            span = window(outcome, levers, months) if levers is not None else None
            own = series.get(r.run_id)
            value = run_values(own, span, outcome) if own is not None else float("nan")
            if outcome.get("effect"):
                twin = series.get(base_of.get((r.point, r.replicate), ""))
                value = value - run_values(twin, span, outcome) if twin is not None else float("nan")
            values.append(value)
        table[name] = np.asarray(values, dtype=float)
    return table


def _kept(out: Path) -> list[str]:
    frame = store.read_runs(out, columns=["indicator"])
    return sorted(frame["indicator"].unique())


def load_experiments(out: str | Path, *, replicates: bool = False, series: bool = True
                     ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A batch folder as the EMA Workbench's ``(experiments, outcomes)``.

    Args:
        out: A batch output folder.
        replicates: One experiment per run (with a ``replicate`` column) instead of per (package,
            design point) averaged over replicates.
        series: Include each outcome indicator's monthly series (``n x months``) and ``TIME``.

    Returns:
        ``experiments``: one row per experiment, a column per uncertainty and lever (:func:`ema_name`),
        ``scenario`` (design point), ``policy`` (package), ``model``; ``outcomes``: outcome name ->
        array aligned with the rows.

    Raises:
        ScenarioError: not a batch folder, or no finished run.
    """
    out = Path(out)
    info = store.read_batch_info(out)
    if not store.finished_runs(out):
        raise ScenarioError(f"{out}: no finished runs; run `lifecircle batch` first")
    outcomes = info.get("outcomes") or default_outcomes(_kept(out))
    per_run = run_outcome_values(out, outcomes)
    keys = list(info["problem"]["names"]) + list((info.get("levers") or {}).get("problem", {}).get("names", []))
    design_columns = [k for k in keys]
    params = store.read_runs(out, columns=["run_id", *design_columns]).drop_duplicates("run_id") if design_columns \
        else per_run[["run_id"]]
    per_run = per_run.merge(params, on="run_id", how="left")
    packages = info["packages"]
    order = {p: i for i, p in enumerate(packages)}
    group = ["package", "point"] + (["replicate"] if replicates else [])
    names = list(outcomes)
    agg = per_run.groupby(group, sort=False).agg({**{n: "mean" for n in names}, **{k: "first" for k in design_columns}})
    agg = agg.reset_index()
    agg["_order"] = agg["package"].map(order)
    agg = agg.sort_values(["_order", "point", *(["replicate"] if replicates else [])]).reset_index(drop=True)
    experiments = pd.DataFrame({ema_name(k): agg[k].to_numpy() for k in design_columns})
    for k in design_columns:
        column = experiments[ema_name(k)]
        if column.dtype == object:
            experiments[ema_name(k)] = column.astype("category")
    experiments["scenario"] = agg["point"].to_numpy()
    experiments["policy"] = pd.Categorical(agg["package"], categories=packages)
    experiments["model"] = MODEL_NAME
    if replicates:
        experiments["replicate"] = agg["replicate"].to_numpy()
    result: dict[str, np.ndarray] = {n: agg[n].to_numpy(dtype=float) for n in names}
    if series:
        result.update(_series(out, agg, group, {o["indicator"] for o in outcomes.values()}, names))
    return experiments, result


def _series(out: Path, agg: pd.DataFrame, group: list[str], indicators: set[str], taken: list[str]) -> dict[str, np.ndarray]:
    frame = store.read_runs(out, columns=["package", "point", "replicate", "month", "indicator", "value"])
    frame = frame[frame["indicator"].isin(indicators)]
    months = np.sort(frame["month"].unique())
    result: dict[str, np.ndarray] = {TIME: np.tile(months.astype(float), (len(agg), 1))}
    index = pd.MultiIndex.from_frame(agg[group])
    for indicator in sorted(indicators):
        rows = frame[frame["indicator"] == indicator]
        wide = rows.groupby([*group, "month"], sort=False)["value"].mean().unstack("month").reindex(columns=months)
        name = indicator if indicator not in taken else f"{indicator}_series"
        result[name] = wide.reindex(index).to_numpy(dtype=float)
    return result


# ----------------------------------------------------------------------------- the model

def parameters_of(spec: BatchSpec, which: str, *, index_coded: bool = False) -> list[Any]:
    """The Workbench parameters of a batch's uncertainties (``which="uncertainties"``) or levers:
    ``RealParameter``, ``IntegerParameter``, ``BooleanParameter`` or ``CategoricalParameter`` by the
    scenario key's type, each named :func:`ema_name` with the dotted key as its ``variable_name``.

    ``index_coded``: switches and categories as ``IntegerParameter(0, k - 1)`` (the category's index),
    for the robust search: the Workbench 3.0.0's variator cannot mutate a categorical variable
    (``CombinedVariator.mutate_categorical`` reads ``.value`` of an int)."""
    from sim.batch.spec import default_values, parameter_kind

    ema = workbench()
    variables = spec.parameters if which == "uncertainties" else spec.levers
    out = []
    for key, rng in variables.items():
        name, cats, kind = ema_name(key), default_values(key, rng), parameter_kind(key)
        if cats is not None and index_coded:
            out.append(ema.IntegerParameter(name, 0, len(cats) - 1, variable_name=key))
        elif cats is not None and kind is bool and sorted(cats) == [False, True]:
            out.append(ema.BooleanParameter(name, variable_name=key))
        elif cats is not None:
            out.append(ema.CategoricalParameter(name, [_category(c) for c in cats], variable_name=key))
        elif kind is int:
            out.append(ema.IntegerParameter(name, int(rng.low), int(rng.high), variable_name=key))
        else:
            out.append(ema.RealParameter(name, float(rng.low), float(rng.high), variable_name=key))
    return out


def _category(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def outcomes_of(spec: BatchSpec, *, series: bool = False) -> list[Any]:
    """The Workbench outcomes of a batch: a ``ScalarOutcome`` per ``[outcomes]`` entry (its kind:
    MAXIMIZE, MINIMIZE or INFO; the mean over replicates), and optionally a ``TimeSeriesOutcome`` per outcome indicator."""
    ema = workbench()
    kinds = {"maximize": ema.ScalarOutcome.MAXIMIZE, "minimize": ema.ScalarOutcome.MINIMIZE,
             "info": ema.ScalarOutcome.INFO}
    # A replicator model hands an outcome one value per replicate: the experiment's value is their
    # mean, as in load_experiments.
    out = [ema.ScalarOutcome(name, kind=kinds[o.kind], function=_mean) for name, o in spec.outcomes.items()]
    if series:
        out += [ema.TimeSeriesOutcome(ind) for ind in sorted({o.indicator for o in spec.outcomes.values()})]
    return out


def _mean(values: Any) -> float:
    return float(np.mean(values))


def run_experiment(spec: BatchSpec, values: dict[str, Any], seed: int, *, checkpoints: Any = False) -> dict[str, float]:
    """One experiment of ``spec`` in this process: the lever base with ``values`` (dotted keys) for
    one seed, and -- for ``effect`` outcomes -- its baseline run; returns each outcome's value."""
    from sim.batch.statistics import run_values, window
    from sim.run import run_scenario

    levers = {k: v for k, v in values.items() if k in spec.levers}
    uncertain = {k: v for k, v in values.items() if k in spec.parameters}
    scenario = spec.package_scenario(spec.lever_base_package).with_updates({**levers, **uncertain})
    policy = run_scenario(scenario, seed=seed, keep_model=False, checkpoints=checkpoints).timeseries
    base = None
    if any(o.effect for o in spec.outcomes.values()):
        counterfactual = spec.package_scenario(spec.baseline_package).with_updates(uncertain)
        base = run_scenario(counterfactual, seed=seed, keep_model=False, checkpoints=checkpoints).timeseries
    months = int(policy["month"].max())
    result = {}
    for name, outcome in spec.outcomes.items():
        span = window(outcome, scenario.levers, months)
        own = policy[policy["indicator"] == outcome.indicator]
        value = run_values(own, span, outcome)
        if outcome.effect:
            value -= run_values(base[base["indicator"] == outcome.indicator], span, outcome)
        result[name] = value
    return result


def workbench_model(spec: BatchSpec, *, checkpoints: Any = False, index_coded: bool = False) -> Any:
    """The batch as an EMA Workbench ``ReplicatorModel`` named ``lifecircle``: its uncertainties and
    levers (:func:`parameters_of`), its scalar outcomes (:func:`outcomes_of`), one replication per
    replicate seed of the batch (the same seeds as ``lifecircle batch``), and a function that runs
    the experiment in the calling process (:func:`run_experiment`)."""
    ema = workbench()

    def function(**experiment: Any) -> dict[str, float]:
        seed = int(experiment.pop("seed"))
        if index_coded:
            experiment = decode(spec, experiment)
        return run_experiment(spec, experiment, seed, checkpoints=checkpoints)

    model = ema.ReplicatorModel(MODEL_NAME, function=function)
    model.uncertainties = parameters_of(spec, "uncertainties", index_coded=index_coded)
    model.levers = parameters_of(spec, "levers", index_coded=index_coded)
    model.outcomes = outcomes_of(spec)
    model.replications = [{"seed": seed} for seed in spec.replicate_seeds()]
    return model


# ----------------------------------------------------------------------------- the evaluator

def explicit_spec(spec: BatchSpec, *, scenarios: list[dict[str, Any]], policies: list[dict[str, Any]],
                  replications: int | None = None) -> BatchSpec:
    """``spec`` with its designs replaced by the given uncertainty points and lever mixes (dotted keys)."""
    from sim.batch.spec import batch_from_dict

    data = spec.model_dump(mode="python", exclude={"source", "source_sections"})
    posterior = data.pop("posterior")  # written as a batch file writes it: [uncertainties] from_posterior
    if posterior is not None:
        data["uncertainties"] = {**{k: v for k, v in posterior.items() if v is not None}, **data.pop("parameters")}
    if spec.parameters:
        data["design"] = {"method": "explicit", "points": [dict(p) for p in scenarios]}
    data["lever_design"] = {"method": "explicit", "points": [dict(p) for p in policies]}
    if replications is not None:
        data["replications"] = replications
    return batch_from_dict(data, source=spec.source)


class LifecircleEvaluator:
    """An EMA Workbench evaluator that runs experiments as lifecircle batches.

    Each call of ``evaluate_experiments`` (one generation of a search, or one ``perform_experiments``)
    becomes a batch of explicit design points and lever mixes, run by :func:`sim.batch.run_batch`
    into ``out/<prefix>-<n>`` -- local workers or a Dask client, the resumable store, paired seeds --
    with every warm-up kept in one shared ``checkpoint_dir``; the results are read back with
    :func:`load_experiments` and handed to the Workbench's callback.

    Built by :func:`evaluator` (the class derives from the Workbench's ``BaseEvaluator``, imported lazily).
    """


class PerPolicyRobustness:
    """Mix-in for a Workbench evaluator: in a robust search, each candidate mix's robustness scores
    (and constraints) come from *its own* experiments over the reference scenarios.

    The Workbench 3.0.0 (``optimization.evaluate``) computes every candidate's scores from the
    outcomes of *all* experiments of the generation (``outcomes[var_name]`` where it means the
    candidate's ``job_outputs``), so every mix of a generation gets the same scores and the search
    cannot tell them apart (``tests/test_ema.py::test_the_robust_search_scores_each_mix_on_its_own_experiments``
    shows it); and its ``process_jobs`` cannot decode switches or categories. This override does
    what the Workbench's code means to do.
    """

    def evaluate_all(self, jobs: list[Any], **kwargs: Any) -> list[Any]:
        from ema_workbench.em_framework.evaluators import perform_experiments
        from ema_workbench.em_framework.optimization import _evaluate_constraints
        from ema_workbench.em_framework.points import SampleCollection

        if not jobs:
            return jobs
        problem = jobs[0].solution.problem
        if problem.searchover != "robust":
            return super().evaluate_all(jobs, **kwargs)
        # The Workbench's process_jobs fails on switches and categories: platypus decodes a Subset
        # variable as a one-element list. Its element is the category's index the samples want.
        rows = []
        for job in jobs:
            values = [kind.decode(value) for kind, value in zip(problem.types, job.solution.variables)]
            rows.append([v[0] if isinstance(v, (list, tuple)) else v for v in values])
        scenarios = problem.reference
        policies = list(SampleCollection(np.array(rows, dtype=float), problem.decision_variables))
        callback = perform_experiments(self._msis, evaluator=self, reporting_frequency=self.reporting_frequency,
                                       scenarios=scenarios, policies=policies, return_callback=True,
                                       log_progress=True)
        experiments, outcomes = callback.get_results()
        for policy, job in zip(policies, jobs):
            mine = (experiments["policy"] == policy.name).to_numpy()
            scores = {obj.name: obj.function(*[outcomes[v][mine] for v in obj.variable_name])
                      for obj in problem.objectives}
            constraints = _evaluate_constraints(experiments[mine].iloc[0], scores, problem.ema_constraints)
            values = [scores[name] for name in problem.outcome_names]
            if constraints:
                job.solution.problem.function = lambda _, v=values, c=constraints: (v, c)
            else:
                job.solution.problem.function = lambda _, v=values: v
            job.solution.evaluate()
        return jobs


def evaluator(spec: BatchSpec, model: Any, out: str | Path, *, workers: int | None = None, client: Any = None,
              checkpoint_dir: str | Path | None = None, replications: int | None = None, prefix: str = "eval",
              progress: bool = False, index_coded: bool = False) -> Any:
    """A :class:`LifecircleEvaluator` for ``model`` (from :func:`workbench_model`) writing under ``out``."""
    ema = workbench()
    from ema_workbench.em_framework.evaluators import BaseEvaluator

    from sim.batch.runner import run_batch

    class _Evaluator(PerPolicyRobustness, BaseEvaluator, LifecircleEvaluator):
        def __init__(self) -> None:
            super().__init__(model)
            self.out = Path(out)
            self.calls = 0
            self.summaries: list[Any] = []

        def initialize(self) -> None:
            self.out.mkdir(parents=True, exist_ok=True)

        def finalize(self) -> None:
            pass

        def evaluate_experiments(self, experiments: Iterable[Any], callback: Callable, **kwargs: Any) -> None:
            experiments = list(experiments)
            scenarios, policies = {}, {}
            for experiment in experiments:
                point = _values(experiment.scenario, spec.parameters)
                mix = _values(experiment.policy, spec.levers)
                if index_coded:
                    point, mix = decode(spec, point), decode(spec, mix)
                scenarios.setdefault(experiment.scenario.name, point)
                policies.setdefault(experiment.policy.name, mix)
            scenario_names, policy_names = list(scenarios), list(policies)
            sub = explicit_spec(spec, scenarios=[scenarios[n] for n in scenario_names] or [{}],
                                policies=[policies[n] for n in policy_names], replications=replications)
            folder = self.out / f"{prefix}-{self.calls:04d}"
            self.calls += 1
            summary = run_batch(sub, folder, workers=workers, client=client, progress=progress,
                                checkpoint_dir=checkpoint_dir)
            self.summaries.append(summary)
            exps, outs = load_experiments(folder, series=False)
            mixes = sub.mix_names()
            rows = {(str(p), int(s)): i for i, (p, s) in enumerate(zip(exps["policy"], exps["scenario"]))}
            for experiment in experiments:
                point = scenario_names.index(experiment.scenario.name) if spec.parameters else 0
                mix = mixes[policy_names.index(experiment.policy.name)]
                i = rows.get((mix, point))
                values = {name: (float(outs[name][i]) if i is not None else float("nan")) for name in spec.outcomes}
                callback(experiment, values)

    del ema
    return _Evaluator()


def decode(spec: BatchSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Index-coded switches and categories (:func:`parameters_of` with ``index_coded``) back to their values."""
    from sim.batch.spec import default_values

    out = dict(values)
    for key, rng in {**spec.parameters, **spec.levers}.items():
        cats = default_values(key, rng)
        if cats is not None and key in out:
            out[key] = cats[int(out[key])]
    return out


def _values(sample: Any, variables: dict[str, Any]) -> dict[str, Any]:
    """A Workbench sample's values as dotted scenario keys (categories back to lists, numbers to Python)."""
    out = {}
    for key in variables:
        value = sample[ema_name(key)]
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, (np.bool_,)):
            value = bool(value)
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        out[key] = value
    return out
