"""A city's outputs per life circle (:mod:`sim.city.circles`), beside a run's city-wide ones.

* ``circles.parquet``: every indicator collected per circle (day, date, month, circle, name,
  indicator, value; city-only indicators are left out, :data:`sim.metrics.circles.CITY_ONLY`);
* ``circle_scorecard.csv``: the city scorecard at the end, circles ranked by basic coverage;
* ``circle_evaluations.csv``: the city budget's evaluation of every circle in every period
  (:mod:`sim.levers.city_budget`), with its allocation and the sites it built;
* ``circle_nodes.csv``: the circle of every street node (to map them with ``outlets.parquet`` and
  ``homes.parquet``); node, circle number, name. With its names edited it is read back as a
  scenario's ``circles.kind = "table"`` (:func:`sim.city.circles.read_circle_table`).

A district run as one circle writes none of them (its values are the city's).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.io.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


def write_circle_outputs(model: LifeCircleModel, out: Path, *, scenario: str = "", seed: int = 0) -> dict[str, Path]:
    """Write the files above into ``out`` (when the city has more than one circle, or evaluations)."""
    from sim.metrics.circles import scorecard

    paths: dict[str, Path] = {}
    if model.circles.k > 1:
        frame = model.circle_timeseries().assign(scenario=scenario, seed=seed)
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        paths["circles"] = out / "circles.parquet"
        atomic_write_bytes(paths["circles"], buf.getvalue())
        paths["circle_scorecard"] = out / "circle_scorecard.csv"
        atomic_write_bytes(paths["circle_scorecard"], scorecard(model).to_csv(index=False).encode())
        nodes = pd.DataFrame({"node": range(len(model.circles.of_node)), "circle": model.circles.of_node,
                              "name": [model.circles.names[k] for k in model.circles.of_node]})
        paths["circle_nodes"] = out / "circle_nodes.csv"
        atomic_write_bytes(paths["circle_nodes"], nodes.to_csv(index=False).encode())
    if model.circle_evaluations:
        paths["circle_evaluations"] = out / "circle_evaluations.csv"
        atomic_write_bytes(paths["circle_evaluations"], pd.DataFrame(model.circle_evaluations).to_csv(index=False).encode())
    return paths
