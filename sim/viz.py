"""Interactive view of a life circle (Solara): the map, lever controls and live indicator charts.

Launch it in a browser with one command from the repository root::

    solara run sim/viz.py

(``LIFECIRCLE_SCENARIO=scenarios/helsinki.toml solara run sim/viz.py`` opens another scenario.)
In Jupyter, ``sim.viz.page(...)`` returns the same page as a Solara element; make it the last
expression of a cell to display it.

The view only consumes the model. Every control is derived from the scenario schema
(:class:`sim.scenario.LeversConfig`): one switch per lever (its ``enabled`` field) and one slider for
its main parameter (the first numeric field the lever declares), with the range of the field's
``ge``/``le`` bounds and the scenario's value as the starting point. A scenario is frozen and the
levers are built with the model, so changing a control restarts the run from day 0 with the same
seed; compare runs lever-on and lever-off, paired by seed, in ``notebooks/02_policy_levers.ipynb``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import solara
from matplotlib.figure import Figure

from sim import metrics
from sim.figures import SERIES, coverage_map
from sim.model import LifeCircleModel
from sim.scenario import LeverConfig, LeversConfig, Scenario, load_scenario

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = REPO / "scenarios" / "baseline.toml"
"""Scenario the server view opens unless ``$LIFECIRCLE_SCENARIO`` names another file."""

HEADLINE = ("basic_coverage_15", "effective_coverage_15", "employment_rate", "income_mean", "merchants_open")
"""Indicators shown as numbers above the charts (names from :data:`sim.metrics.REGISTRY`)."""

DAYS_PER_TICK = {"day": 1, "week": 7, "month": 30}
"""Days simulated per tick of the Play loop, by the speed a user picks."""


# --------------------------------------------------------------------------- controls from the schema

@dataclass(frozen=True)
class LeverControl:
    """A lever's switch and the slider of its main parameter, read off the scenario schema.

    Attributes:
        lever: The lever's table under ``[levers.*]``, e.g. ``"platform"``.
        title: First line of the lever config's docstring.
        parameter: The main parameter's field name, e.g. ``"commission"``.
        doc: The parameter's docstring (units, source).
        minimum: Lower bound of the field (``ge``/``gt``).
        maximum: Upper bound of the field (``le``/``lt``).
        integer: Whether the field is an integer.
    """

    lever: str
    title: str
    parameter: str
    doc: str
    minimum: float
    maximum: float
    integer: bool

    @property
    def enabled_key(self) -> str:
        """Dotted scenario key of the lever's switch."""
        return f"levers.{self.lever}.enabled"

    @property
    def parameter_key(self) -> str:
        """Dotted scenario key of the main parameter."""
        return f"levers.{self.lever}.{self.parameter}"

    @property
    def step(self) -> float:
        """Slider step: 1 for integers, else a power of ten giving about 1,000 positions."""
        if self.integer:
            return 1
        return 10 ** math.floor(math.log10((self.maximum - self.minimum) / 1000))


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low = item.gt
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high = item.lt
    return low, high


def lever_controls() -> list[LeverControl]:
    """One control per lever of :class:`LeversConfig`, in the schema's order.

    The main parameter is the first field a lever declares beyond the shared timeline fields that
    is an ``int`` or ``float`` with both bounds in the schema.
    """
    controls = []
    for lever, info in LeversConfig.model_fields.items():
        config_class = info.annotation
        for name, field in config_class.model_fields.items():
            if name in LeverConfig.model_fields or field.annotation not in (int, float):
                continue
            low, high = _bounds(field.metadata)
            if low is None or high is None:
                continue
            controls.append(LeverControl(
                lever=lever, title=(config_class.__doc__ or lever).strip().splitlines()[0],
                parameter=name, doc=field.description or "", minimum=float(low),
                maximum=float(high), integer=field.annotation is int,
            ))
            break
    return controls


def control_values(scenario: Scenario) -> dict[str, Any]:
    """The scenario's current value of every control, by dotted key."""
    values: dict[str, Any] = {}
    for control in lever_controls():
        config = getattr(scenario.levers, control.lever)
        values[control.enabled_key] = config.enabled
        values[control.parameter_key] = getattr(config, control.parameter)
    return values


def build_model(scenario: Scenario, settings: dict[str, Any] | None = None, seed: int | None = None) -> LifeCircleModel:
    """A fresh model of ``scenario`` with the controls' dotted-key ``settings`` applied."""
    changed = {k: v for k, v in (settings or {}).items() if control_values(scenario).get(k) != v}
    return LifeCircleModel(scenario=scenario.with_updates(changed) if changed else scenario, seed=seed)


def headline(model: LifeCircleModel) -> dict[str, float]:
    """The headline indicators of the model as it is now."""
    return metrics.compute(model, list(HEADLINE))


def format_indicator(name: str, value: float) -> str:
    """``value`` in the indicator's unit, for display."""
    unit = metrics.REGISTRY[name].unit
    if unit == "share":
        return f"{100 * value:.1f} %"
    if float(value).is_integer():
        return f"{int(value):,} {'' if unit == 'count' else unit}".strip()
    return f"{value:,.1f} {unit}"


# --------------------------------------------------------------------------- figures (no pyplot)

def map_figure(model: LifeCircleModel, resident_id: int | None = None) -> Figure:
    """The coverage map of :func:`sim.figures.coverage_map` (no pyplot), with one resident's home
    marked by a star when ``resident_id`` is given."""
    fig = Figure(figsize=(6.5, 6), layout="constrained")
    ax = fig.add_subplot()
    coverage_map(model, ax=ax)
    ax.title.set_fontsize(9)
    if resident_id is not None:
        x, y = model.city.node_xy[model.population.home[resident_id]]
        ax.scatter([x], [y], marker="*", s=260, c="gold", edgecolors="black", zorder=4,
                   label=f"home of resident {resident_id}")
        ax.legend(loc="upper right", fontsize=8)
    return fig


def describe_resident(model: LifeCircleModel, resident_id: int) -> list[str]:
    """One resident agent as lines of text: who they are and their walk to each basic service."""
    agent = model.resident_agents[resident_id]
    lines = [repr(agent), f"walks {agent.walk_speed_m_per_min:.0f} m/min; income last month "
             f"{agent.income_last_month:,.0f} CNY; cash {agent.cash:,.0f} CNY"]
    for c in model.catalogue.basic_ids:
        name = model.catalogue.names[int(c)]
        minutes = agent.walk_minutes_to(name)
        lines.append(f"{name}: {'no outlet' if minutes == float('inf') else f'{minutes:.1f} min'}")
    return lines


def charts_figure(model: LifeCircleModel) -> Figure:
    """Access, employment and income indicators collected so far (monthly), one panel each."""
    frame = model.timeseries()
    fig = Figure(figsize=(6.5, 7), layout="constrained")
    axes = fig.subplots(len(SERIES), 1, sharex=True)
    for ax, (group, names) in zip(axes, SERIES.items()):
        for name in names:
            series = frame[frame["indicator"] == name]
            if not series.empty:
                ax.plot(series["date"], series["value"], marker=".", label=name)
        ax.set_title(f"{group} indicators", fontsize=10)
        ax.grid(alpha=0.3)
        if frame.empty:
            ax.text(0.5, 0.5, "collected at each month's end", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
        else:
            ax.legend(fontsize=7, loc="best")
    for label in axes[-1].get_xticklabels():
        label.set_rotation(30)
    return fig


# --------------------------------------------------------------------------- the page

@solara.component
def LeverPanel(controls: list[LeverControl], values: dict[str, Any], on_change) -> None:
    """Switches and sliders for every lever."""
    for control in controls:
        on = bool(values[control.enabled_key])
        with solara.Column(gap="0px", classes=[f"lever-{control.lever}"]):
            solara.Switch(label=f"{control.lever}: {control.title}", value=on,
                          on_value=lambda v, c=control: on_change(c.enabled_key, v))
            if on:
                value = values[control.parameter_key]
                label = f"{control.parameter} = {value:g}"
                if control.integer:
                    solara.SliderInt(label, value=int(value), min=int(control.minimum), max=int(control.maximum),
                                     on_value=lambda v, c=control: on_change(c.parameter_key, int(v)))
                else:
                    solara.SliderFloat(label, value=float(value), min=control.minimum, max=control.maximum,
                                       step=control.step,
                                       on_value=lambda v, c=control: on_change(c.parameter_key, float(v)))
                solara.Text(control.doc, style={"font-size": "0.75em", "color": "#555"})


@solara.component
def LifeCircleView(scenario: Scenario) -> None:
    """The whole view of one scenario: controls on the left, map and charts on the right."""
    controls = solara.use_memo(lever_controls, [])
    settings = solara.use_reactive(control_values(scenario))
    seed = solara.use_reactive(scenario.seed)
    first_model = solara.use_memo(lambda: build_model(scenario), [])
    model = solara.use_reactive(first_model)
    tick = solara.use_reactive(0)          # bumped after the (mutable) model steps
    playing = solara.use_reactive(False)
    speed = solara.use_reactive("week")
    error = solara.use_reactive("")
    resident = solara.use_reactive(0)

    def rebuild(new_settings: dict[str, Any] | None = None, new_seed: int | None = None) -> None:
        playing.value = False
        try:
            built = build_model(scenario, new_settings or settings.value, new_seed if new_seed is not None else seed.value)
        except ValueError as err:  # a ScenarioError from the schema: show it, keep the old model
            error.value = str(err)
            return
        error.value = ""
        if new_settings is not None:
            settings.value = new_settings
        if new_seed is not None:
            seed.value = new_seed
        model.value = built
        tick.value += 1

    def on_control(key: str, value: Any) -> None:
        rebuild({**settings.value, key: value})

    def advance(days: int) -> None:
        m = model.value
        for _ in range(days):
            if not m.running:
                break
            m.step()
        tick.value += 1

    def step_month() -> None:
        m = model.value
        month = m.month
        while m.running and m.month == month:
            m.step()
        tick.value += 1

    def play_loop() -> None:
        while playing.value and model.value.running:
            advance(DAYS_PER_TICK[speed.value])
            time.sleep(0.05)
        playing.value = False

    solara.lab.use_task(play_loop, dependencies=[playing.value], prefer_threaded=True)

    m = model.value
    on = [c.lever for c in controls if settings.value[c.enabled_key]]
    with solara.Columns([1, 3]):
        with solara.Column():
            solara.Text(scenario.name, style={"font-size": "1.4em", "font-weight": "bold"})
            solara.Text(scenario.description)
            with solara.Row():
                solara.Button("Step day", on_click=lambda: advance(1), disabled=playing.value or not m.running,
                              classes=["step-day"])
                solara.Button("Step month", on_click=step_month, disabled=playing.value or not m.running,
                              classes=["step-month"])
            with solara.Row():
                solara.Button("Pause" if playing.value else "Play", color="primary", classes=["play"],
                              on_click=lambda: playing.set(not playing.value), disabled=not m.running)
                solara.Button("Reset", on_click=lambda: rebuild(), classes=["reset"])
            solara.ToggleButtonsSingle(value=speed, values=list(DAYS_PER_TICK))
            solara.InputInt("seed", value=seed.value, on_value=lambda v: rebuild(new_seed=int(v)))
            if error.value:
                solara.Error(error.value)
            solara.Text("Inspect a resident agent (its home is the star on the map)")
            solara.InputInt("resident id", value=resident.value, on_value=lambda v: resident.set(
                min(max(int(v), 0), model.value.population.n - 1)))
            for line in describe_resident(m, resident.value):
                solara.Text(line, style={"font-size": "0.8em"})
            solara.Text("Levers", style={"font-size": "1.2em", "font-weight": "bold"})
            solara.Text("Changing a lever restarts the run from day 0 (same seed).", style={"font-size": "0.8em"})
            LeverPanel(controls, settings.value, on_control)
        with solara.Column():
            solara.Text(
                f"Day {m.day} of {m.days_total} · {m.date} · month {m.month} · "
                f"{m.population.n:,} residents · {len(m.merchants.open_ids()):,} outlets open · "
                f"levers on: {', '.join(on) if on else 'none'}",
                style={"font-size": "1.1em", "font-weight": "bold"}, classes=["day-line"],
            )
            values = headline(m)
            map_fig = solara.use_memo(lambda: map_figure(m, resident.value), [id(m), tick.value, resident.value])
            charts_fig = solara.use_memo(lambda: charts_figure(m), [id(m), tick.value])
            solara.Text(" · ".join(f"{name}: {format_indicator(name, values[name])}" for name in HEADLINE),
                        classes=["headline"])
            with solara.Columns([1, 1]):
                solara.FigureMatplotlib(map_fig, dependencies=[id(m), tick.value, resident.value], format="png")
                solara.FigureMatplotlib(charts_fig, dependencies=[id(m), tick.value], format="png")


def page(scenario: str | Path | Scenario = DEFAULT_SCENARIO, *, updates: dict[str, Any] | None = None):
    """The view as a Solara element, for Jupyter (display it as a cell's last expression).

    Args:
        scenario: A scenario file or an already loaded scenario.
        updates: Dotted-key overrides applied to the scenario (e.g. a smaller population).
    """
    if isinstance(scenario, Scenario):
        loaded = scenario.with_updates(updates) if updates else scenario
    else:
        loaded = load_scenario(scenario, updates=updates)
    return LifeCircleView(loaded)


@solara.component
def Page() -> None:
    """Entry point of ``solara run sim/viz.py``; ``$LIFECIRCLE_SCENARIO`` picks the scenario file."""
    path = os.environ.get("LIFECIRCLE_SCENARIO", str(DEFAULT_SCENARIO))
    scenario = solara.use_memo(lambda: load_scenario(path), [path])
    solara.Title("lifecircle: 15-minute life circle")
    LifeCircleView(scenario)
