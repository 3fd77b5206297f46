"""The life-circle model in Mesa's own SolaraViz: a minimal example for teachers who know Mesa.

Run it with ``solara run docs/examples/mesa_solaraviz.py`` (from the repository root). lifecircle's
own view (``solara run sim/view/viz.py``) draws much more (walking agents, outlet states, levers beside
the map, comparisons); this one shows the model in the form Mesa's examples use: a model class
with keyword parameters, a discrete space at ``model.grid``, a DataCollector, and SolaraViz with a
space component, a plot component and sliders. The sliders' ranges, steps and labels come from the
scenario schema's teaching metadata, not from this file.
"""

from __future__ import annotations

import mesa
from mesa.visualization import Slider, SolaraViz, make_plot_component, make_space_component
from mesa.visualization.components import AgentPortrayalStyle

from agents import Merchant, Retiree
from sim.metrics.indicators import basic_coverage, effective_coverage_15
from sim.model import LifeCircleModel
from sim.io.resources import scenario_path
from sim.scenario import load_scenario
from sim.city.space import attach_space
from sim.view.teaching import all_teaching, lever_controls


class TeachingModel(LifeCircleModel):
    """The baseline district with a few keyword parameters, its street space attached
    (``model.grid``, a ``mesa.discrete_space.Network``) and a Mesa DataCollector."""

    def __init__(self, residents: int = 2000, platform: bool = False, online_share: float = 0.15,
                 seed: int | None = None, rng: int | None = None) -> None:
        scenario = load_scenario(scenario_path("baseline"), updates={
            "population.residents": residents, "city.blocks_x": 6, "city.blocks_y": 6,
            "levers.platform.enabled": platform, "levers.platform.online_share": online_share})
        super().__init__(scenario=scenario, seed=seed if seed is not None else rng)
        attach_space(self)
        self.datacollector = mesa.DataCollector(model_reporters={
            "on foot": lambda m: basic_coverage(m, 15.0), "on foot or by delivery": effective_coverage_15})
        self.datacollector.collect(self)

    def step(self) -> None:
        super().step()
        self.datacollector.collect(self)


def agent_portrayal(agent: mesa.Agent) -> AgentPortrayalStyle:
    """Outlets as navy squares, retirees grey, other residents blue."""
    if isinstance(agent, Merchant):
        return AgentPortrayalStyle(color="navy", marker="s", size=30, zorder=3)
    return AgentPortrayalStyle(color="0.6" if isinstance(agent, Retiree) else "tab:blue", size=6, alpha=0.3)


def _slider(key: str, **defaults) -> Slider:  # noqa: ANN003
    """A Mesa slider over a schema field's teaching range (label, range, step from the schema)."""
    field = next(t for t in all_teaching() if t.key == key)
    return Slider(field.label, value=defaults["value"], min=field.low, max=field.high, step=field.step,
                  dtype=int if field.integer else float)


_platform = next(c for c in lever_controls() if c.lever == "platform")
model_params = {
    "residents": _slider("population.residents", value=2000),
    "platform": {"type": "Checkbox", "value": False, "label": _platform.title},
    "online_share": _slider(_platform.parameter_key, value=0.15),
}
model = TeachingModel()
page = SolaraViz(
    model,
    components=[make_space_component(agent_portrayal), make_plot_component(["on foot", "on foot or by delivery"])],
    model_params=model_params,
    name="lifecircle in Mesa's SolaraViz",
)
