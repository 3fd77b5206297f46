"""The shape of a batch's plan: which runs are the same run, and which runs need which warm-up.

Two facts about the runs of a batch decide how little work it can do and how well its workers
are kept busy:

* **Twins.** A lever that is off does nothing and draws nothing, so a package run at design points
  that differ only in the settings of a lever it has off (the baseline at every point of a design
  over the platform's commission, say) is the same run, seed for seed; so is a lever mix whose
  switches are all off and the baseline. Such a run is computed once -- at its first occurrence in
  the plan, its *original* -- and its twins are written as copies of the original's file (with
  their own package, point and parameter columns), never simulated again.
* **Warm-ups.** Every run starts from the settled state of its (district, people, economy, seed),
  computed once per batch and shared through ``DIR/checkpoints`` (:mod:`sim.io.checkpoint`). Runs
  that need the same warm-up form a *warm-up group*; the first run of each group (its *leader*) is
  planned before every other run, so that the workers compute different warm-ups side by side
  instead of waiting on one another's lock, and the rest follow once their warm-up exists.

Both are computed from the design matrix column by column (vectorised), never per run, so a
design of a million points costs a few arrays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.batch.design import Design
from sim.scenario import Scenario

WARMUP_FREE_PREFIXES = ("levers.", "output.")
"""Keys that never change a warm-up (levers are off while warming up; outputs are not state)."""
WARMUP_FREE_KEYS = ("years", "name", "description")


def lever_of(key: str) -> str | None:
    """``platform`` for ``levers.platform.commission``; None for keys outside ``levers.``."""
    parts = key.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "levers" else None


def effective_identity(scenario: Scenario, design_keys: set[str]) -> str:
    """A hash of what a scenario's runs depend on: its settings with every lever that is off (and
    whose switch no design variable sets) reduced to "off", without its name and description,
    plus the paths of its input files. Two packages with the same identity run identically."""
    data = scenario.to_dict()
    data.pop("name", None)
    data.pop("description", None)
    for lever, config in data.get("levers", {}).items():
        if not config.get("enabled") and f"levers.{lever}.enabled" not in design_keys:
            data["levers"][lever] = {"enabled": False}
    data["input_files"] = {k: str(v) for k, v in scenario.input_files().items()}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def warmup_identity(scenario: Scenario) -> str:
    """A hash of what a scenario's warm-up depends on, whatever the seed (:func:`sim.io.checkpoint.warmup_basis`)."""
    from sim.io.checkpoint import warmup_basis

    basis = warmup_basis(scenario, 0)
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class PlanShape:
    """Twins and warm-up groups of a batch's (package, point) pairs.

    Attributes:
        packages: The packages in plan order.
        original_package: Package -> the first package with the same effective identity (itself if none).
        original_point: Package -> for each design point, the first point of that package whose run is
            the same (itself if none).
        leader: Package -> for each design point, whether it is the first (package, point) of its
            warm-up group in plan order.
    """

    packages: list[str]
    original_package: dict[str, str] = field(default_factory=dict)
    original_point: dict[str, np.ndarray] = field(default_factory=dict)
    leader: dict[str, np.ndarray] = field(default_factory=dict)

    def original(self, package: str, point: int) -> tuple[str, int]:
        """The (package, point) whose run this one is (itself when it is an original)."""
        pkg = self.original_package.get(package, package)
        points = self.original_point.get(pkg)
        return pkg, int(points[point]) if points is not None else point

    def is_twin(self, package: str, point: int) -> bool:
        """Whether (package, point) repeats an earlier run of the plan."""
        return self.original(package, point) != (package, point)

    def is_leader(self, package: str, point: int) -> bool:
        """Whether (package, point) is the first of its warm-up group."""
        flags = self.leader.get(package)
        return bool(flags[point]) if flags is not None else False


def plan_shape(packages: list[str], scenarios: dict[str, Scenario | None], design: Design) -> PlanShape:
    """Twins and warm-up leaders of a plan.

    Args:
        packages: Packages in plan order.
        scenarios: Each package's scenario before design points are applied (None: it cannot be
            built, e.g. an infeasible lever mix; it has no twins and leads no group).
        design: The uncertainty design.
    """
    names = list(design.problem["names"])
    keys = set(names)
    n = design.n_points
    X = np.asarray(design.X, dtype=float).reshape(n, len(names))
    shape = PlanShape(packages=list(packages))
    seen_identity: dict[str, str] = {}
    seen_groups: set[tuple[str, bytes]] = set()
    warm_cols = [j for j, k in enumerate(names) if not k.startswith(WARMUP_FREE_PREFIXES) and k not in WARMUP_FREE_KEYS]
    for package in packages:
        scenario = scenarios.get(package)
        if scenario is None:
            shape.original_point[package] = np.arange(n)
            shape.leader[package] = np.zeros(n, dtype=bool)
            continue
        identity = effective_identity(scenario, keys)
        shape.original_package[package] = seen_identity.setdefault(identity, package)
        shape.original_point[package] = _original_points(scenario, design, X, names)
        basis = warmup_identity(scenario)
        rows = X[:, warm_cols] if warm_cols else np.zeros((n, 0))
        groups, first = _first_of_groups(rows)
        flags = np.zeros(n, dtype=bool)
        for point in first:
            key = (basis, rows[point].tobytes())
            if key not in seen_groups:
                seen_groups.add(key)
                flags[point] = True
        shape.leader[package] = flags
    return shape


def _first_of_groups(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group index of each row (identical rows share one) and the first row of each group."""
    n = rows.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if rows.shape[1] == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64)
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1), np.sort(first)


def _original_points(scenario: Scenario, design: Design, X: np.ndarray, names: list[str]) -> np.ndarray:
    """For each point, the first point whose run is the same for this package: the design columns
    of a lever that is off at that point (its switch from the point, or from the scenario) do not count."""
    n = X.shape[0]
    if n == 0 or not names:
        return np.arange(n)
    effective = X.copy()
    for lever in {lever_of(k) for k in names} - {None}:
        switch = f"levers.{lever}.enabled"
        if switch in names:
            j = names.index(switch)
            cats = design.categories.get(switch, [False, True])
            enabled = np.array([bool(cats[min(int(np.floor(x)), len(cats) - 1)]) for x in X[:, j]])
        else:
            enabled = np.full(n, bool(getattr(scenario.levers, lever).enabled))
        for j, key in enumerate(names):
            if lever_of(key) == lever and key != switch:
                effective[~enabled, j] = np.nan
    # np.unique treats NaNs as distinct; a sentinel keeps "off" cells equal to each other.
    effective = np.where(np.isnan(effective), -np.inf, effective)
    inverse_first = np.empty(n, dtype=np.int64)
    _, first, inverse = np.unique(effective, axis=0, return_index=True, return_inverse=True)
    inverse_first[:] = first[inverse.reshape(-1)]
    return inverse_first


def describe(shape: PlanShape, replications: int) -> dict[str, Any]:
    """Counts for messages and ``batch.json``: runs simulated, twins copied, warm-ups computed."""
    twins = sum(int((shape.original_point[p] != np.arange(len(shape.original_point[p]))).sum())
                if shape.original_package.get(p, p) == p else len(shape.original_point[p])
                for p in shape.packages)
    leaders = sum(int(flags.sum()) for flags in shape.leader.values())
    return {"twins": twins * replications, "warmups": leaders * replications}
