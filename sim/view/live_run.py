"""A run that a class watches: the model, its street space, a sample of walkers, and what to draw.

:class:`LiveRun` is what the interactive view (:mod:`sim.view.viz`) and the notebooks hold: it builds the
model, attaches the Mesa street space (:mod:`sim.city.space`), steps days while reading the sampled
residents' trips (:mod:`sim.view.day_trips`), keeps the last day as an animation
(:mod:`sim.view.animation`), and turns model state into the numbers the browser draws (map layers,
chart panels, headline values), including the previous run's, for comparison. It only consumes
the model: every value comes from the scenario, the arrays and the indicator registry.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics import indicators as metrics
from sim.view.animation import DayAnimation
from sim.city.grid import City
from sim.view.day_trips import step_day
from sim.io.figures import SERIES
from sim.view.map_layers import node_coverage
from sim.model import LifeCircleModel
from sim.city.outlet_sources import SYNTHESISED
from sim.view.outlet_states import STATE_NAMES, outlet_states
from sim.scenario import Scenario
from sim.city.space import attach_space, sync_space
from sim.view.teaching import format_quantity, indicator_label, indicator_unit, lever_controls

HEADLINE = ("basic_coverage_15", "effective_coverage_15", "employment_rate", "income_mean", "merchants_open")
"""Indicators shown as numbers beside the map (names from :data:`sim.metrics.indicators.REGISTRY`)."""

WALKERS = 150
"""Residents whose trips a shown day draws (a sample: a 20,000-resident district makes ~30,000 trips a day)."""


def levers_on(scenario: Scenario) -> list[str]:
    """Each enabled lever as "display name (main parameter: value)"."""
    out = []
    for control in lever_controls():
        config = getattr(scenario.levers, control.lever)
        if config.enabled:
            p = control.parameter
            value = getattr(config, p.key.rsplit(".", 1)[1])
            out.append(f"{control.title} ({p.label.lower()}: {format_quantity(value, p.unit)})")
    return out


def scenario_title(scenario: Scenario, district: str) -> str:
    """A title that says what is on: the district, its residents and every lever switched on."""
    on = levers_on(scenario)
    what = "levers on: " + "; ".join(on) if on else "every lever off (baseline)"
    return f"{district} · {scenario.population.residents:,} residents · {what}"


@dataclass
class RunRecord:
    """What a run leaves behind for comparison with the next one.

    Attributes:
        title: The run's title (:func:`scenario_title`).
        timeseries: Its collected indicators (:meth:`LifeCircleModel.timeseries`).
        coverage_by_month: Walking coverage per street node at the start of each month.
    """

    title: str
    timeseries: pd.DataFrame
    coverage_by_month: dict[int, np.ndarray] = field(default_factory=dict)


class LiveRun:
    """One watched run of a scenario.

    Args:
        scenario: The scenario (levers and all).
        seed: Overrides the scenario's seed.
        city: A prebuilt city of the same scenario and seed (saves reloading a district when only
            levers change).
        walkers: How many residents a shown day follows.
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None, city: City | None = None,
                 walkers: int = WALKERS) -> None:
        self.scenario = scenario
        self.model = LifeCircleModel(scenario=scenario, seed=seed, city=city)
        self.space = attach_space(self.model)
        self.rng = self.model.streams["view"]  # the view's own stream: no rule draws from it
        n = self.model.population.n
        self.sample = np.sort(self.rng.choice(n, size=min(n, walkers), replace=False))
        self.animation: DayAnimation | None = None
        self.coverage_by_month: dict[int, np.ndarray] = {0: node_coverage(self.model)}
        self._vendors = self._vendor_nodes()

    @property
    def title(self) -> str:
        """What is on (district, residents, levers)."""
        return scenario_title(self.scenario, self.model.city.name)

    def _vendor_nodes(self) -> dict[int, int]:
        mer = self.model.merchants
        return {int(m): int(mer.node[m]) for m in np.flatnonzero(mer.mobile & mer.open)}

    def step(self, days: int = 1) -> None:
        """Simulate up to ``days`` days (fewer when the run ends); the last one becomes the shown day."""
        model = self.model
        trips = None
        moves: list[tuple[int, int, int]] = []
        for _ in range(days):
            if not model.running:
                break
            month = model.month
            trips = step_day(model, self.sample)
            sync_space(model)
            now = self._vendor_nodes()
            moves = [(m, self._vendors[m], node) for m, node in now.items()
                     if m in self._vendors and self._vendors[m] != node]
            self._vendors = now
            if model.month != month:
                self.coverage_by_month[model.month] = node_coverage(model)
        if trips is not None:
            self.animation = DayAnimation(model, trips, self.rng, moves)

    def record(self) -> RunRecord:
        """This run, for comparison with the next."""
        return RunRecord(self.title, self.model.timeseries(), dict(self.coverage_by_month))

    # ------------------------------------------------------------------ what the browser draws
    def base(self) -> dict[str, Any]:
        """Street nodes, edges and residents per node (the map's unchanging part)."""
        city = self.model.city
        return {"x": np.round(city.node_xy[:, 0], 1).tolist(), "y": np.round(city.node_xy[:, 1], 1).tolist(),
                "edges": np.asarray(city.edges, dtype=int).ravel().tolist(),
                "residents": self.model.residents_at_node.astype(int).tolist(), "attribution": city.attribution}

    def layers(self, *, mode: str = "walk", previous: RunRecord | None = None, star: int | None = None) -> dict[str, Any]:
        """Coverage per node (on foot, and counting delivery), outlets and their states, lockers,
        the previous run's coverage at the same month, and the legend.

        Args:
            mode: ``"walk"`` colours homes by coverage on foot, ``"effective"`` counting delivery.
            previous: The previous run, drawn as a ring around each home.
            star: A resident whose home is marked with a star.
        """
        model = self.model
        walk = node_coverage(model)
        effective = node_coverage(model, delivery=True)
        ids, state = outlet_states(model)
        mer = model.merchants
        nodes = mer.node[ids]
        # Outlets sharing a node are spread on a small ring so each stays visible.
        order = np.lexsort((ids, nodes))
        rank = np.zeros(len(ids), dtype=int)
        same = np.r_[False, nodes[order][1:] == nodes[order][:-1]]
        for i in range(1, len(order)):
            rank[order[i]] = rank[order[i - 1]] + 1 if same[i] else 0
        angle = rank * 2.4
        radius = np.where(rank > 0, 5 + 1.5 * np.sqrt(rank), 0)
        lockers = model.levers.get("lockers")
        # Only a real district has map data to miss: a grid city's outlets are all placed by density.
        synthesised = (mer.source[ids] == SYNTHESISED) & (model.scenario.city.kind == "osm")
        prev = None
        if previous is not None:
            month = max((m for m in previous.coverage_by_month if m <= model.month), default=None)
            if month is not None:
                prev = _nan_to_none(previous.coverage_by_month[month])
        return {
            "mode": mode,
            "coverage": _nan_to_none(walk),
            "effective": _nan_to_none(effective),
            "previous": prev,
            "outlets": {"node": nodes.astype(int).tolist(), "state": state.astype(int).tolist(),
                        "basic": model.catalogue.basic[mer.category[ids]].astype(int).tolist(),
                        "synth": synthesised.astype(int).tolist(),
                        "mobile": mer.mobile[ids].astype(int).tolist(),
                        "dx": np.round(radius * np.cos(angle), 1).tolist(),
                        "dy": np.round(radius * np.sin(angle), 1).tolist()},
            "lockers": [] if lockers is None else np.asarray(lockers.locker_nodes, dtype=int).tolist(),
            "vending": [] if lockers is None else np.asarray(lockers.vending_nodes, dtype=int).tolist(),
            "star": -1 if star is None else int(model.population.home[star]),
            "legend": self.legend(state, synthesised, mode, previous is not None),
        }

    def legend(self, state: np.ndarray, synthesised: np.ndarray, mode: str, compared: bool) -> str:
        """The map's legend (HTML), with today's counts."""
        colours = ("#1f3a93", "#27ae60", "#e67e22", "#c0392b", "#7f8c8d")
        states = " ".join(f'<span style="color:{c}">■</span> {name} {int((state == k).sum())}'
                          for k, (name, c) in enumerate(zip(STATE_NAMES, colours)))
        homes = ("homes: share of residents with every basic service within 15 min "
                 + ("on foot <b>or by delivery</b>" if mode == "effective" else "<b>on foot</b>")
                 + ' (<span style="color:#d73027">●</span> none … <span style="color:#1a9850">●</span> all)')
        if compared:
            homes += "; outer ring: the previous run at the same month"
        day = ""
        if self.animation is not None:
            c = self.animation.trip_counts
            day = (f"<br>shown day {self.animation.day}: of {len(self.sample)} residents followed, "
                   f'<span style="color:#2266dd">●</span> {c["walk"]} walks to outlets, '
                   f'<span style="color:#f39c12">◆</span> {c["delivery"]} deliveries by couriers, '
                   f'<span style="color:#16a085">●</span> {c["automated"]} trips to lockers or vending points'
                   f'; <span style="color:#8e44ad">●</span> vendors moving')
        return (f"{homes}<br>outlets (■ basic, ▲ quality, ◆ mobile vendor; hollow: synthesised, "
                f"{int(synthesised.sum())}): {states}{day}")

    def headline(self, previous: RunRecord | None = None) -> list[dict[str, str]]:
        """The headline indicators now, each with the previous run's value at the same month."""
        values = metrics.compute(self.model, list(HEADLINE))
        rows = []
        for name in HEADLINE:
            unit = indicator_unit(name)
            row = {"name": name, "label": indicator_label(name), "value": format_quantity(values[name], unit)}
            if previous is not None:
                old = _value_at(previous.timeseries, name, self.model.month)
                if old is not None:
                    row["previous"] = format_quantity(old, unit)
            rows.append(row)
        return rows

    def panels(self, previous: RunRecord | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """Chart panels (one per indicator group; this run solid, the previous dashed) and month labels."""
        frame = self.model.timeseries()
        panels = []
        for group, names in SERIES.items():
            units = {indicator_unit(n) for n in names}
            names = [n for n in names if indicator_unit(n) == indicator_unit(names[0])] if len(units) > 1 else names
            unit = indicator_unit(names[0])
            series = []
            for dashed, source in ((False, frame), (True, previous.timeseries if previous is not None else None)):
                if source is None:
                    continue
                for name in names:
                    rows = source[source["indicator"] == name]
                    series.append({"label": indicator_label(name) + (" (previous run)" if dashed else ""),
                                   "dashed": dashed,
                                   "points": [[int(m), None if v != v else float(v)]
                                              for m, v in zip(rows["month"], rows["value"])]})
            shown = "%" if unit == "share" else unit
            panels.append({"title": f"{group.capitalize()} ({shown})", "unit": unit, "series": series})
        dates = self.model.dates
        months = [f"{dates[0].year}-{dates[0].month:02d}"]
        for d in dates[1:]:
            label = f"{d.year}-{d.month:02d}"
            if label != months[-1]:
                months.append(label)
        return panels, months


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if v != v else round(float(v), 3) for v in values]


def _value_at(frame: pd.DataFrame, name: str, month: int) -> float | None:
    rows = frame[(frame["indicator"] == name) & (frame["month"] == month)]
    return None if rows.empty else float(rows["value"].iloc[-1])
