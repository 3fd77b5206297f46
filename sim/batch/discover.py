"""Scenario discovery on a batch with the EMA Workbench: PRIM and CART boxes, feature scores,
envelopes over time and a pairs plot (``lifecircle discover DIR --outcome X --threshold T``).

The batch is read as the Workbench's ``(experiments, outcomes)`` (:func:`sim.batch.ema.load_experiments`);
the cases of interest are the experiments whose outcome is at or above (``--below``: at or below) the
threshold. PRIM (Friedman and Fisher 1999; the Workbench's ``prim.Prim``) peels the space of
uncertainties and levers down to boxes of ever higher density; the box reported is the one on the
peeling trajectory with the highest coverage among those whose density reaches ``--density``
(default 0.8) -- of equal coverage, the densest --, or the densest if none does. *Coverage*: the share of all cases of interest inside
the box; *density*: the share of the box's experiments that are cases of interest; *mass*: the
share of all experiments inside it. CART (the Workbench's ``cart.CART``, scikit-learn's tree) gives
a second, tree-shaped description. Feature scores (extra trees, ``feature_scoring``) rank every
variable for every outcome. Figures carry display names with units (:mod:`sim.batch.labels`) and
say n and the horizon.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.batch import store
from sim.batch.ema import TIME, key_of, load_experiments, workbench
from sim.batch.labels import label
from sim.scenario import ScenarioError

ID_COLUMNS = ("scenario", "policy", "model", "replicate")


@dataclass
class Box:
    """A PRIM box: its statistics and the limits of its restricted dimensions.

    Attributes:
        coverage, density, mass: See the module docstring.
        res_dim: Restricted dimensions.
        limits: One row per restricted variable (Workbench name): ``min``, ``max`` (numbers) or
            ``values`` (categories, comma-separated), and ``qp`` (the quasi-p-value of the restriction).
        index: The box's position on the peeling trajectory.
        trajectory: The peeling trajectory (coverage, density, mass, res_dim per step).
        prim_box: The Workbench's ``PrimBox`` (for its own plots).
    """

    coverage: float
    density: float
    mass: float
    res_dim: int
    limits: pd.DataFrame
    index: int
    trajectory: pd.DataFrame
    prim_box: Any


def find_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05) -> Box:
    """PRIM's box for the cases of interest ``y`` (booleans) in ``x``: on the peeling trajectory, the
    box with the highest coverage whose density is at least ``threshold`` (the densest if none)."""
    workbench()
    from ema_workbench.analysis import prim

    y = np.asarray(y, dtype=bool)
    if not y.any():
        raise ScenarioError("no experiment is a case of interest (the outcome never passes the threshold); "
                            "PRIM has nothing to find")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = prim.Prim(x.reset_index(drop=True), y.astype(int), peel_alpha=peel_alpha, mass_min=mass_min)
        box = search.find_box()
    trajectory = box.peeling_trajectory
    dense = trajectory[trajectory["density"] >= threshold]
    # highest coverage, and of equal coverage the densest (the later, tighter box of the trajectory)
    index = (int(dense.sort_values(["coverage", "density"], ascending=False, kind="stable").index[0])
             if not dense.empty else int(trajectory["density"].idxmax()))
    box.select(index)
    limits = _limits(box, index, x)
    row = trajectory.iloc[index]
    return Box(coverage=float(row["coverage"]), density=float(row["density"]), mass=float(row["mass"]),
               res_dim=int(row["res_dim"]), limits=limits, index=index, trajectory=trajectory, prim_box=box)


def _limits(box: Any, index: int, x: pd.DataFrame) -> pd.DataFrame:
    """The restricted dimensions of box ``index`` (read from the box's limits, not ``inspect``: its
    table cannot hold a category set under pandas 3)."""
    from ema_workbench.analysis import scenario_discovery_util as sdutil

    lims = box.box_lims[index]
    restricted = sdutil._determine_restricted_dims(lims, box.box_lims[0])
    p_values = box.p_values[index] if index < len(box.p_values) else {}
    rows = []
    for name in restricted:
        low, high = lims[name].iloc[0], lims[name].iloc[1]
        qp = [v for v in p_values.get(name, []) if v is not None and v == v and v != -1]
        qp_value = float(max(qp)) if qp else float("nan")
        if isinstance(low, (set, frozenset)):
            rows.append({"variable": name, "min": float("nan"), "max": float("nan"),
                         "values": ", ".join(sorted(str(v) for v in low)), "qp": qp_value})
        else:
            rows.append({"variable": name, "min": float(low), "max": float(high), "values": "", "qp": qp_value})
    if not rows:
        return pd.DataFrame(columns=["min", "max", "values", "qp"]).rename_axis("variable")
    return pd.DataFrame(rows).set_index("variable")


def design_frame(experiments: pd.DataFrame) -> pd.DataFrame:
    """The uncertainty and lever columns of an experiments table (no ids)."""
    return experiments.drop(columns=[c for c in ID_COLUMNS if c in experiments.columns])


def cart_rules(x: pd.DataFrame, y: np.ndarray, *, mass_min: float = 0.05) -> pd.DataFrame:
    """CART's boxes (the Workbench's ``cart.CART``, binary mode): one row per leaf with its coverage,
    density and mass."""
    workbench()
    from ema_workbench.analysis import cart

    # the tree's smallest leaf is int(mass_min * n) experiments: at least one
    mass_min = max(mass_min, (1 + 1e-9) / max(len(x), 1))
    # switches and whole numbers as floats: the Workbench 3.0.0 writes a split's threshold (e.g. 0.5)
    # into the column's limits, which pandas 3 refuses for a boolean or integer column
    x = x.astype({c: float for c in x.columns if x[c].dtype == bool or pd.api.types.is_integer_dtype(x[c])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = cart.CART(x.reset_index(drop=True), np.asarray(y, dtype=int), mass_min=mass_min)
        # The Workbench 3.0.0 looks up the name of every node's variable, a leaf's too (scikit-learn's
        # -2, "none"): with one variable, feature_names[-2] is out of range (IndexError). A leaf's name
        # is never used: a placeholder makes the lookup safe.
        tree.feature_names = [*tree.feature_names, "(leaf)"]
        tree.build_tree()
        if tree.clf.tree_.node_count == 1:  # no split: the Workbench's box extraction needs a parent node
            share = float(np.mean(y))
            return pd.DataFrame({"coverage": [1.0], "density": [share], "res dim": [0], "mass": [1.0]},
                                index=pd.Index(["box 1 (no split)"]))
        stats = tree.stats_to_dataframe()
    return stats


def feature_scores(x: pd.DataFrame, outcomes: dict[str, np.ndarray], *, seed: int = 1) -> pd.DataFrame:
    """Extra-trees feature scores of every variable for every scalar outcome (the Workbench's
    ``feature_scoring.get_feature_scores_all``); rows: variables, columns: outcomes."""
    workbench()
    from ema_workbench.analysis import feature_scoring

    x = x.reset_index(drop=True)
    columns = {}
    for name, values in outcomes.items():
        values = np.asarray(values, dtype=float)
        if np.ndim(values) != 1:
            continue
        finite = np.isfinite(values)  # e.g. an effect has no value for the baseline itself
        if finite.sum() < 4 or np.ptp(values[finite]) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the Workbench's default, a third of the variables, is round(1 / 3) = 0 for one variable,
            # which scikit-learn refuses: at least one
            scores = feature_scoring.get_feature_scores_all(x[finite].reset_index(drop=True), {name: values[finite]},
                                                            random_state=seed, max_features=max(1, round(x.shape[1] / 3)))
        columns[name] = scores[name]
    return pd.DataFrame(columns).reindex(x.columns) if columns else pd.DataFrame()


@dataclass
class Discovery:
    """What :func:`discover` found and wrote."""

    box: Box
    cases: int
    n: int
    scores: pd.DataFrame
    cart: pd.DataFrame
    paths: dict[str, Path]
    caption: str


def horizon(out: Path) -> str:
    """"4 measured years, 3 replicate(s) per experiment" for captions."""
    info = store.read_batch_info(out)
    return f"{info['years']:g} measured years, {info['replications']} replicate(s) per experiment"


def discover(out: str | Path, outcome: str, threshold: float, *, below: bool = False, density: float = 0.8,
             peel_alpha: float = 0.05, mass_min: float = 0.05, figures: bool = True) -> Discovery:
    """PRIM and CART for "``outcome`` >= ``threshold``" (or <=), feature scores of every outcome,
    envelopes of the outcomes' indicators over time and a pairs plot; written to ``DIR/discover/``.

    Raises:
        ScenarioError: unknown outcome, no case of interest, or not a batch folder.
    """
    out = Path(out)
    experiments, outcomes = load_experiments(out)
    info = store.read_batch_info(out)
    labels = info.get("labels") or {}
    outcome_specs = info.get("outcomes") or {}
    scalar_names = [k for k, v in outcomes.items() if np.ndim(v) == 1]
    if outcome not in scalar_names:
        raise ScenarioError(f"--outcome {outcome!r}: not an outcome of this batch; outcomes: {', '.join(scalar_names)}")
    y_values = outcomes[outcome]
    keep = np.isfinite(y_values)
    x = design_frame(experiments)[keep].reset_index(drop=True)
    x = x.loc[:, [c for c in x.columns if x[c].nunique() > 1]]
    if x.empty:
        raise ScenarioError(f"{out}: no uncertainty or lever varies among the experiments; nothing to discover")
    y = y_values[keep] <= threshold if below else y_values[keep] >= threshold
    n, cases = int(keep.sum()), int(y.sum())
    box = find_box(x, y, threshold=density, peel_alpha=peel_alpha, mass_min=mass_min)
    rules = cart_rules(x, y, mass_min=mass_min)
    scores = feature_scores(x, {k: outcomes[k][keep] for k in scalar_names})
    folder = out / "discover"
    folder.mkdir(exist_ok=True)
    from sim.io.atomic import atomic_write_bytes

    shown = box.limits.copy()
    shown.insert(0, "label", [_label(v, labels, outcome_specs) for v in shown.index])
    paths = {"box": folder / f"prim_{outcome}.csv", "trajectory": folder / f"prim_{outcome}_trajectory.csv",
             "cart": folder / f"cart_{outcome}.csv", "scores": folder / "feature_scores.csv"}
    atomic_write_bytes(paths["box"], shown.to_csv().encode())
    atomic_write_bytes(paths["trajectory"], box.trajectory.to_csv(index=False).encode())
    atomic_write_bytes(paths["cart"], rules.to_csv().encode())
    if not scores.empty:
        atomic_write_bytes(paths["scores"], scores.to_csv().encode())
    what = f"{_label(outcome, labels, outcome_specs)} {'<=' if below else '>='} {threshold:g}"
    caption = (f"{what}: {cases} of {n} experiments ({len(experiments)} in the batch); {horizon(out)}")
    if figures:
        from sim.batch import figures as plots

        paths["tradeoff"] = plots.tradeoff(box, folder / f"prim_{outcome}_tradeoff.png", title=what, caption=caption)
        paths["box_figure"] = plots.box_limits(box, x, folder / f"prim_{outcome}_box.png",
                                              labels={c: _label(c, labels, outcome_specs) for c in x.columns},
                                              title=f"PRIM box for {what}", caption=caption)
        if not scores.empty:
            paths["scores_figure"] = plots.scores_heatmap(
                scores, folder / "feature_scores.png",
                rows={c: _label(c, labels, outcome_specs) for c in scores.index},
                columns={c: _label(c, labels, outcome_specs) for c in scores.columns},
                caption=f"extra-trees feature scores; n = {n} experiments; {horizon(out)}")
        series = [k for k, v in outcomes.items() if np.ndim(v) == 2 and k != TIME]
        if series:
            from sim.metrics.indicators import REGISTRY

            paths["envelopes"] = plots.envelopes(experiments, outcomes, series, folder / "envelopes.png",
                                                 labels={k: _label(k, labels, outcome_specs) for k in series},
                                                 units={k: REGISTRY[k].unit for k in series if k in REGISTRY},
                                                 caption=f"n = {len(experiments)} experiments; {horizon(out)}")
        if len(scalar_names) >= 2:
            paths["pairs"] = plots.pairs(experiments, outcomes, scalar_names[:4], folder / "pairs.png",
                                         labels={k: _label(k, labels, outcome_specs) for k in scalar_names},
                                         caption=f"n = {len(experiments)} experiments; {horizon(out)}")
    return Discovery(box=box, cases=cases, n=n, scores=scores, cart=rules, paths=paths, caption=caption)


def _label(name: str, labels: dict[str, str], outcomes: dict[str, Any]) -> str:
    """Display name of a Workbench column or outcome."""
    from sim.batch.statistics import describe

    if name in outcomes:
        spec = outcomes[name]
        return spec.get("label") or f"{label(spec['indicator'])}, {describe(spec)}"
    return label(key_of(name), labels)


def format_box(box: Box, *, title: str, names: dict[str, str]) -> str:
    """The box as plain text: statistics and limits with display names."""
    lines = [title, "=" * len(title),
             f"coverage {box.coverage:.0%} (share of the cases of interest inside the box), density "
             f"{box.density:.0%} (share of the box's experiments that are cases), mass {box.mass:.0%}, "
             f"{box.res_dim} restricted dimension(s); box {box.index} of the peeling trajectory"]
    for name, row in box.limits.iterrows():
        shown = names.get(name, name)
        if row["values"]:
            lines.append(f"  {shown:48s} in {{{row['values']}}}")
        else:
            lines.append(f"  {shown:48s} {row['min']:.4g} .. {row['max']:.4g}")
    if box.limits.empty:
        lines.append("  (no restriction: the whole space)")
    return "\n".join(lines)
