"""Browser widgets of the view: the map (with agents walking) and the indicator charts.

Both are `anywidget <https://anywidget.dev>`_ widgets: a small ES module each
(``sim/view/viz_assets/map.js``, ``charts.js``, shipped with the package) that draws vector graphics on
an HTML canvas in the browser, fed by a few synchronised traits. Why anywidget: it is maintained
(used by Altair, Marimo, Jupyter projects), renders the same in JupyterLab, VS Code and Solara
(a plain ipywidget), and its front end is installed with the Python package (no CDN), so the view
works offline. Nothing is rendered on the server: a tick sends the changed numbers (a few KB), not
a picture, and the browser animates a day's walks on its own.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

ASSETS = Path(__file__).resolve().parent / "viz_assets"


class LifeCircleMap(anywidget.AnyWidget):
    """The district map: streets, homes coloured by coverage, outlets by state, agents walking.

    Traits:
        base: ``{"x", "y", "edges", "residents", "attribution"}``: node positions (metres), edges
            as a flat node list, residents per node (sent once per district).
        layers: ``{"coverage", "effective", "previous", "mode", "outlets", "lockers", "vending",
            "star", "legend"}`` (sent when they change).
        legs: A shown day (:meth:`sim.view.animation.DayAnimation.payload`).
        play_ms: Milliseconds a shown day takes to play.
        size: Canvas size, CSS pixels.
    """

    _esm = ASSETS / "map.js"
    base = traitlets.Dict().tag(sync=True)
    layers = traitlets.Dict().tag(sync=True)
    legs = traitlets.Dict().tag(sync=True)
    play_ms = traitlets.Int(2500).tag(sync=True)
    size = traitlets.Int(600).tag(sync=True)


class IndicatorCharts(anywidget.AnyWidget):
    """Indicator panels over months, the previous run dashed.

    Traits:
        panels: ``[{"title", "unit", "series": [{"label", "points": [[month, value]], "dashed"}]}]``.
        months: Date label of each month (``"2024-02"`` ...).
        width: Canvas width, CSS pixels.
    """

    _esm = ASSETS / "charts.js"
    panels = traitlets.List().tag(sync=True)
    months = traitlets.List().tag(sync=True)
    width = traitlets.Int(460).tag(sync=True)
