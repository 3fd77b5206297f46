"""Indicators per life circle, the city's spread between circles, and the city scorecard.

Every indicator of :mod:`sim.metrics.indicators` is a function of a model. A :class:`CircleView`
is the model seen from one circle: its residents (those whose home is in the circle, with their
households), its outlets (those whose node is in it), and the period's need outcomes of its
residents (:class:`sim.services.circle_tally.CircleTally`); everything else (the street network,
walking tables, prices, levers) is the city's, because residents walk and shop across circle
boundaries. The same indicator functions then give the circle's values. A few indicators are
about the city's books or its governance, not about a place; they are city-only
(:data:`CITY_ONLY`, with the reason).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics import indicators as metrics
from sim.metrics.indicators import _minutes_tables, home_groups, indicator, weighted_gini

if TYPE_CHECKING:
    from sim.model import LifeCircleModel

#: Indicators reported for the city only, and why.
CITY_ONLY: dict[str, str] = {
    "public_spending": "the public budget is the city's",
    "public_spending_by_lever": "the public budget is the city's",
    "evaluations_passed": "the governance lever evaluates the city (circles' evaluations: circle_evaluations)",
    "lever_implementation": "implementation strength is the city's",
    "circle_coverage_min": "a spread between circles",
    "circle_coverage_gap": "a spread between circles",
    "circle_coverage_gini": "a spread between circles",
    "circles_passing_share": "a spread between circles",
}


def _slice(obj, index: np.ndarray, n: int):
    """A copy of dataclass ``obj`` with every array field of length ``n`` taken at ``index``."""
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            changes[f.name] = value[index]
    return dataclasses.replace(obj, **changes)


class _CircleTallyView:
    """The city tally's interface, with one circle's need outcomes and outlet events."""

    def __init__(self, model: LifeCircleModel, circle: int, outlets: np.ndarray) -> None:
        city = model.tally
        self.n_categories = city.n_categories
        self.needs = model.circle_tally.needs(circle)
        self.low_income_needs, self.low_income_met = model.circle_tally.low_income(circle)
        self.days = city.days
        # Outlets opened and closed, licences, transfers, complaints: counted in the circle of the outlet
        # when they happen, as the city's tally counts them (a vendor licensed or withdrawn as a month
        # opens counts in the period that month begins, in both).
        for name, counts in model.circle_tally.events.items():
            setattr(self, name, int(counts[circle]))
        self._spent = int(model.circle_tally.spent[circle])

    def service_spent(self, model: LifeCircleModel) -> int:
        """Fen the circle's residents paid for services in the period."""
        return self._spent


#: Indicators about a circle's outlets rather than its residents: computed with the city's
#: residents and only the circle's outlets (the rest: the circle's residents and every outlet).
OUTLET_BASED = frozenset(name for name, ind in metrics.REGISTRY.items() if ind.group == "merchants") | {
    "local_job_share", "outlet_load_cv"}


class CircleView:
    """The model seen from circle ``circle`` (see the module docstring); read-only.

    ``residents=True``: the circle's residents (and their households and need outcomes) with every
    outlet of the city, where they may shop. ``residents=False``: the circle's outlets (the others
    read as shut) with every resident, for the indicators of :data:`OUTLET_BASED`.
    """

    def __init__(self, model: LifeCircleModel, circle: int, *, residents: bool = True) -> None:
        self._model = model
        mer = model.merchants
        in_circle = model.circles.of_node[mer.node] == circle
        outlets = np.flatnonzero(in_circle)
        self.tally = _CircleTallyView(model, circle, outlets)
        if residents:
            self._restrict_residents(model, circle)
        else:
            self.merchants = dataclasses.replace(mer, open=mer.open & in_circle)
            self.start_outlets = model.start_outlets[in_circle[model.start_outlets]]

    def _restrict_residents(self, model: LifeCircleModel, circle: int) -> None:
        pop, hh = model.population, model.households
        residents = np.flatnonzero(model.circle_of_resident == circle)
        homes = np.flatnonzero(model.circles.of_node[hh.home] == circle)
        self.population = _slice(pop, residents, pop.n)
        adults = hh.adults[homes]
        new_index = np.full(pop.n, -1, dtype=np.int64)
        new_index[residents] = np.arange(len(residents))
        self.households = dataclasses.replace(
            hh, first=np.concatenate([[0], np.cumsum(adults)]).astype(hh.first.dtype), home=hh.home[homes],
            young_children=hh.young_children[homes], school_children=hh.school_children[homes],
            carer=new_index[hh.carer[homes]], property_income=hh.property_income[homes],
            of_resident=np.repeat(np.arange(len(homes)), adults))
        self.low_income = model.low_income[residents]

    def __getattr__(self, name: str):
        return getattr(self._model, name)


def per_circle(model: LifeCircleModel, names: list[str]) -> list[dict[str, float]]:
    """The indicators ``names`` (city-only ones left out) for each circle, in circle order."""
    by_residents = [n for n in names if n not in CITY_ONLY and n not in OUTLET_BASED]
    by_outlets = [n for n in names if n in OUTLET_BASED and n not in CITY_ONLY]
    out = []
    for k in range(model.circles.k):
        values = metrics.compute(CircleView(model, k), by_residents)
        values.update(metrics.compute(CircleView(model, k, residents=False), by_outlets))
        out.append(values)
    return out


# ----------------------------------------------------------------------------- spread between circles

def circle_coverage(model: LifeCircleModel) -> tuple[np.ndarray, np.ndarray]:
    """(share of each circle's residents with every basic service within 15 minutes, residents)."""
    g = home_groups(model)
    covered = (_minutes_tables(model)["farthest.15"] <= 15.0).astype(np.float64)
    circles = getattr(model, "circles", None)  # a model without circles is one circle
    circle = circles.of_node[g.node] if circles is not None else np.zeros(len(g.node), dtype=np.int64)
    k = circles.k if circles is not None else 1
    residents = np.bincount(circle, weights=g.size, minlength=k)
    share = np.bincount(circle, weights=g.size * covered, minlength=k) / np.maximum(residents, 1)
    return np.where(residents > 0, share, np.nan), residents


def _inhabited(model: LifeCircleModel) -> np.ndarray:
    share, residents = circle_coverage(model)
    return share[residents > 0]


@indicator("circle_coverage_min", "circles", "share", label="Basic coverage of the worst-served circle")
def circle_coverage_min(model: LifeCircleModel) -> float:
    """Lowest share, over the life circles with residents, of residents with every basic-guarantee
    service within 15 minutes on foot (``basic_coverage_15`` of the worst circle)."""
    values = _inhabited(model)
    return float(values.min()) if len(values) else float("nan")


@indicator("circle_coverage_gap", "circles", "share points", label="Coverage gap between best and worst circle")
def circle_coverage_gap(model: LifeCircleModel) -> float:
    """Best minus worst circle's ``basic_coverage_15`` (0 with one circle)."""
    values = _inhabited(model)
    return float(values.max() - values.min()) if len(values) else float("nan")


@indicator("circle_coverage_gini", "circles", "index 0-1", label="Inequality of coverage between circles (Gini)")
def circle_coverage_gini(model: LifeCircleModel) -> float:
    """Gini coefficient of circles' ``basic_coverage_15``, each circle weighted by its residents:
    equity between circles (0: every circle equally served)."""
    share, residents = circle_coverage(model)
    keep = residents > 0
    return weighted_gini(share[keep], residents[keep]) if keep.any() else float("nan")


@indicator("circles_passing_share", "circles", "share", label="Circles passing their evaluation")
def circles_passing_share(model: LifeCircleModel) -> float:
    """Share of the life circles with residents whose ``basic_coverage_15`` reaches
    ``circles.target_basic_coverage``."""
    values = _inhabited(model)
    target = model.scenario.circles.target_basic_coverage
    return float((values >= target).mean()) if len(values) else float("nan")


# ----------------------------------------------------------------------------- scorecard

def scorecard(model: LifeCircleModel):
    """The city scorecard: every circle ranked by its basic coverage now (1 = best), with its
    residents, outlets, needs met in the last period and evaluations passed so far."""
    import pandas as pd

    share, residents = circle_coverage(model)
    k = model.circles.k
    mer = model.merchants
    outlets = np.bincount(model.circles.of_node[mer.node[mer.open]], minlength=k)
    evaluations = getattr(model, "circle_evaluations", [])
    passed = np.zeros(k)
    held = np.zeros(k)
    for row in evaluations:
        passed[row["circle"]] += row["passed"]
        held[row["circle"]] += 1
    frame = pd.DataFrame({
        "circle": np.arange(k), "name": list(model.circles.names), "residents": residents.astype(np.int64),
        "outlets_open": outlets, "basic_coverage_15": share,
        "evaluations_passed": passed.astype(np.int64), "evaluations": held.astype(np.int64),
    })
    frame["passes"] = frame["basic_coverage_15"] >= model.scenario.circles.target_basic_coverage
    frame["rank"] = frame["basic_coverage_15"].rank(ascending=False, method="min", na_option="bottom").astype(int)
    return frame.sort_values(["rank", "circle"]).reset_index(drop=True)
