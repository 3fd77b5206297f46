"""The minimal Mesa SolaraViz example in the docs builds, draws its space and plot, steps, and
takes its sliders from the schema's teaching metadata."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mesa_solaraviz.py"


@pytest.mark.slow
def test_the_docs_solaraviz_example_draws_steps_and_uses_teaching_ranges():
    import solara
    from ipywidgets import Image
    from mesa.discrete_space import Network
    from mesa.visualization import SolaraViz

    namespace = runpy.run_path(str(EXAMPLE))
    model, page = namespace["model"], namespace["page"]
    assert page.component.f is SolaraViz.f  # Mesa's own SolaraViz
    assert isinstance(model.grid, Network)
    assert sum(len(cell.agents) for cell in model.grid.all_cells) == len(model.agents)
    slider = namespace["model_params"]["online_share"]
    assert (slider.label, slider.min, slider.max, slider.step) == ("Needs ordered online", 0.0, 0.5, 0.05)
    for _ in range(2):  # what SolaraViz's Step button does
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == ["on foot", "on foot or by delivery"] and len(frame) == 3
    for component in page.kwargs["components"]:  # the space and the plot draw on this model
        make = component[0] if isinstance(component, tuple) else component
        _, rc = solara.render(make(model), handle_error=False)
        image = rc.find(Image)
        image.assert_single()
        assert len(image.widget.value) > 5_000  # a real picture, not an empty one
    rebuilt = type(model)(residents=3000, platform=True, online_share=0.3, seed=1)  # as the sliders rebuild it
    assert rebuilt.population.n == 3000 and rebuilt.scenario.levers.platform.enabled
