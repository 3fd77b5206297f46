"""Interactive view of a life circle (Solara): a living map, the levers beside it, live charts.

Launch it in a browser with one command from the repository root::

    solara run sim/view/viz.py

(``LIFECIRCLE_SCENARIO=scenarios/helsinki.toml solara run sim/view/viz.py`` opens another scenario.)
In Jupyter, ``sim.view.viz.page(...)`` returns the same page as a Solara element; make it the last
expression of a cell to display it.

What is drawn comes from :class:`sim.view.live_run.LiveRun`: a sample of residents walk their day's
trips along the streets, couriers ride deliveries, vendors move, outlets are coloured by state, and
homes by 15-minute coverage (on foot, or counting delivery). The map and the charts are vector
drawings in the browser (:mod:`sim.view.map_widget`), so a step sends numbers, not pictures.

The view only consumes the model. Every control comes from the scenario schema's teaching
metadata (:func:`sim.view.teaching.lever_controls`): one switch per lever and a slider over its main
parameter's teaching range, starting from the scenario's value. A scenario is frozen and the
levers are built with the model, so changing a control starts a new run with the same seed (the
district itself is reused, not reloaded), and the run before it stays on the charts (dashed) and
the map (an outer ring) for comparison.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import solara

from sim.view.live_run import WALKERS, LiveRun, RunRecord
from sim.view.map_widget import IndicatorCharts, LifeCircleMap
from sim.scenario import Scenario, load_scenario
from sim.view.teaching import LeverControl, format_quantity, lever_controls

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = REPO / "scenarios" / "baseline.toml"
"""Scenario the server view opens unless ``$LIFECIRCLE_SCENARIO`` names another file."""

DAYS_PER_TICK = {"day": 1, "week": 7, "month": 30}
"""Days simulated per tick of the Play loop, by the speed a user picks (the last day is shown)."""

PLAY_MS = 2500
"""Milliseconds a shown day takes to play in the browser (and a Play tick lasts)."""


def control_values(scenario: Scenario) -> dict[str, Any]:
    """The scenario's value of every control (each lever's switch and main parameter), by dotted key."""
    values: dict[str, Any] = {}
    for control in lever_controls():
        config = getattr(scenario.levers, control.lever)
        values[control.enabled_key] = config.enabled
        values[control.parameter_key] = getattr(config, control.parameter_key.rsplit(".", 1)[1])
    return values


def apply_settings(scenario: Scenario, settings: dict[str, Any]) -> Scenario:
    """``scenario`` with the controls' dotted-key ``settings`` applied (only those that differ)."""
    current = control_values(scenario)
    changed = {k: v for k, v in settings.items() if current.get(k) != v}
    return scenario.with_updates(changed) if changed else scenario


# --------------------------------------------------------------------------- components

@solara.component
def LeverPanel(controls: list[LeverControl], values: dict[str, Any], on_change) -> None:  # noqa: ANN001
    """A switch per lever; a switched-on lever shows a slider over its teaching range."""
    for control in controls:
        on = bool(values[control.enabled_key])
        p = control.parameter
        with solara.Column(gap="0px", classes=[f"lever-{control.lever}"]):
            solara.Switch(label=control.title, value=on, on_value=lambda v, c=control: on_change(c.enabled_key, v))
            if on:
                value = values[control.parameter_key]
                label = f"{p.label}: {format_quantity(value, p.unit)}"
                if p.integer:
                    solara.SliderInt(label, value=int(value), min=int(p.low), max=int(p.high), step=int(p.step),
                                     on_value=lambda v, c=control: on_change(c.parameter_key, int(v)))
                else:
                    solara.SliderFloat(label, value=float(value), min=p.low, max=p.high, step=p.step,
                                       on_value=lambda v, c=control: on_change(c.parameter_key, round(float(v), 6)))
                solara.Text(p.doc, style={"font-size": "0.72em", "color": "#555"})


@solara.component
def ResidentPanel(run: LiveRun, resident: solara.Reactive[int]) -> None:
    """Inspect one resident agent: who they are, their cell in the Mesa space, their walks."""
    model = run.model
    solara.InputInt("Inspect resident (id; a star marks the home)", value=resident.value,
                    on_value=lambda v: resident.set(min(max(int(v), 0), model.population.n - 1)))
    agent = model.resident_agents[resident.value]
    cell = agent.cell
    others = len(cell.agents) - 1 if cell is not None else 0
    lines = [repr(agent),
             f"walks {agent.walk_speed_m_per_min:.0f} m/min; income last month {agent.income_last_month:,.0f} CNY; "
             f"cash {agent.cash:,.0f} CNY",
             f"in the Mesa space: cell {cell.coordinate if cell is not None else '-'}, with {others:,} other agents"]
    for c in model.catalogue.basic_ids:
        name = model.catalogue.names[int(c)]
        minutes = agent.walk_minutes_to(name)
        lines.append(f"{name.replace('_', ' ')}: {'no outlet' if minutes == float('inf') else f'{minutes:.1f} min on foot'}")
    for line in lines:
        solara.Text(line, style={"font-size": "0.78em"})


@solara.component
def LiveView(run: LiveRun, previous: RunRecord | None, playing: solara.Reactive[bool]) -> None:
    """The map, the day's controls, the headline numbers and the charts of one run."""
    # Bumped after the (mutable) model steps. A state, not a reactive: a reactive re-renders only
    # the components that read its value while rendering, and nothing here reads the counter.
    _, set_tick = solara.use_state(0)
    speed = solara.use_reactive("day")
    mode = solara.use_reactive("walk")
    resident = solara.use_reactive(int(run.sample[0]) if len(run.sample) else 0)
    model = run.model

    def advance(days: int) -> None:
        run.step(days)
        set_tick(lambda t: t + 1)

    def step_month() -> None:
        month = model.month
        days = 0
        while model.running and model.month == month and days < 31:
            run.step(1)
            days += 1
        set_tick(lambda t: t + 1)

    def play_loop() -> None:
        if not playing.value:
            return  # sets no state when idle: only a playing loop renders from its thread
        while playing.value and model.running:
            started = time.perf_counter()
            advance(DAYS_PER_TICK[speed.value])
            time.sleep(max(0.05, PLAY_MS / 1000 - (time.perf_counter() - started)))
        if not model.running:
            playing.value = False

    solara.lab.use_task(play_loop, dependencies=[playing.value, id(run)], prefer_threaded=True)

    base = solara.use_memo(run.base, [id(run)])
    layers = run.layers(mode=mode.value, previous=previous, star=resident.value)
    legs = run.animation.payload() if run.animation is not None else {}
    panels, months = run.panels(previous)
    with solara.Columns([3, 2]):
        with solara.Column():
            solara.Text(f"Day {model.day} of {model.days_total} · {model.date} · month {model.month} · "
                        f"{len(model.merchants.open_ids()):,} outlets open",
                        style={"font-size": "1.05em", "font-weight": "bold"}, classes=["day-line"])
            with solara.Row():
                solara.Button("Step day", on_click=lambda: advance(1), disabled=playing.value or not model.running,
                              classes=["step-day"])
                solara.Button("Step month", on_click=step_month, disabled=playing.value or not model.running,
                              classes=["step-month"])
                solara.Button("Pause" if playing.value else "Play", color="primary", classes=["play"],
                              on_click=lambda: playing.set(not playing.value), disabled=not model.running)
                solara.ToggleButtonsSingle(value=speed, values=list(DAYS_PER_TICK))
            solara.ToggleButtonsSingle(value=mode, values=["walk", "effective"], classes=["coverage-mode"])
            LifeCircleMap.element(base=base, layers=layers, legs=legs, play_ms=PLAY_MS)
        with solara.Column():
            with solara.Column(classes=["headline"], gap="2px"):
                for row in run.headline(previous):
                    compare = f"  (previous run: {row['previous']})" if "previous" in row else ""
                    solara.Text(f"{row['label']}: {row['value']}{compare}", style={"font-size": "0.85em"})
            IndicatorCharts.element(panels=panels, months=months)
            ResidentPanel(run, resident)


@solara.component
def LifeCircleView(scenario: Scenario, walkers: int = WALKERS) -> None:
    """The whole view of one scenario: the title, levers beside the map, the live run."""
    controls = solara.use_memo(lever_controls, [])
    settings = solara.use_reactive(control_values(scenario))
    seed = solara.use_reactive(scenario.seed)
    compare = solara.use_reactive(True)
    playing = solara.use_reactive(False)
    restarts = solara.use_reactive(0)
    shown = solara.use_ref(None)            # the last LiveRun built (read by the next build)
    latest = solara.use_ref(None)           # (LiveRun, RunRecord of the run before) on show
    compared = solara.use_ref(None)         # the RunRecord the last build compared with

    def build() -> tuple[LiveRun, RunRecord | None]:
        # Runs in a thread and sets no state itself: its result is the task's value, so no two
        # threads render at once. A ScenarioError from the schema becomes the task's error.
        chosen = apply_settings(scenario, settings.value)
        old = shown.current
        city = old.model.city if old is not None and old.model.seed == seed.value else None
        run = LiveRun(chosen, seed=seed.value, city=city, walkers=walkers)
        # The run to compare with: the last one that ran (a run restarted before its first day
        # leaves the comparison as it was).
        record = old.record() if old is not None and old.model.day > 0 else compared.current
        shown.current, compared.current = run, record
        return run, record

    task = solara.lab.use_task(build, dependencies=[settings.value, seed.value, restarts.value],
                               prefer_threaded=True, raise_error=False)
    result = task.value if task.finished else None
    if result is not None:
        latest.current = result
    run, previous = latest.current if latest.current is not None else (None, None)

    def on_control(key: str, value: Any) -> None:
        playing.value = False
        settings.value = {**settings.value, key: value}

    solara.Title("lifecircle: 15-minute life circle")
    solara.Text(run.title if run is not None else scenario.name, classes=["run-title"],
                style={"font-size": "1.25em", "font-weight": "bold"})
    # The same children in the same order on every render, so the live view is never remounted.
    building = task.pending or run is None
    solara.Text("Building the district and its residents (a first build of a district may take a few "
                "seconds; later runs reuse it) ..." if building else "", classes=["building"])
    solara.Text(str(task.exception) if task.error else "", style={"color": "#c0392b"}, classes=["scenario-error"])
    with solara.Columns([1, 4]):
        with solara.Column():
            solara.Text("Levers", style={"font-size": "1.1em", "font-weight": "bold"})
            solara.Text("Switching or moving a lever starts a new run with the same seed; the run before "
                        "it stays dashed on the charts and ringed on the map.", style={"font-size": "0.75em"})
            LeverPanel(controls, settings.value, on_control)
            solara.InputInt("seed", value=seed.value, on_value=lambda v: seed.set(int(v)))
            solara.Checkbox(label="compare with the previous run", value=compare)
            solara.Button("Restart", on_click=lambda: restarts.set(restarts.value + 1), classes=["reset"])
        with solara.Column():
            if run is not None:
                LiveView(run, previous if compare.value else None, playing)


def page(scenario: str | Path | Scenario = DEFAULT_SCENARIO, *, updates: dict[str, Any] | None = None,
         walkers: int = WALKERS):
    """The view as a Solara element, for Jupyter (display it as a cell's last expression).

    Args:
        scenario: A scenario file or an already loaded scenario.
        updates: Dotted-key overrides applied to the scenario (e.g. a smaller population).
        walkers: How many residents a shown day follows.
    """
    if isinstance(scenario, Scenario):
        loaded = scenario.with_updates(updates) if updates else scenario
    else:
        loaded = load_scenario(scenario, updates=updates)
    return LifeCircleView(loaded, walkers)


@solara.component
def Page() -> None:
    """Entry point of ``solara run sim/view/viz.py``; ``$LIFECIRCLE_SCENARIO`` picks the scenario file."""
    path = os.environ.get("LIFECIRCLE_SCENARIO", str(DEFAULT_SCENARIO))
    scenario = solara.use_memo(lambda: load_scenario(path), [path])
    LifeCircleView(scenario)
