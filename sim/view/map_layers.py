"""Per-street-node layers drawn on maps: who can reach every basic service, on foot or by delivery.

Pure functions of model state, built from the same walking table as the access indicators
(:func:`sim.metrics.indicators.group_minutes`), so a map and ``basic_coverage_15`` / ``effective_coverage_15``
always agree: the residents-weighted mean of a layer over its nodes is the indicator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.metrics.indicators import covered_with_delivery, group_minutes, home_groups

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


def node_coverage(model: LifeCircleModel, minutes: float = 15.0, *, delivery: bool = False) -> np.ndarray:
    """Per node: share of its residents with every basic-guarantee category within ``minutes`` on
    foot (at their own speed), or, with ``delivery``, on foot or by delivery as
    ``effective_coverage_15`` counts it (nan where nobody lives)."""
    g = home_groups(model)
    if delivery:
        covered = covered_with_delivery(model, minutes)
    else:
        covered = (group_minutes(model)[:, model.catalogue.basic_ids] <= minutes).all(axis=1)
    n = model.city.graph.shape[0]
    residents = np.bincount(g.node, weights=g.size, minlength=n)
    hits = np.bincount(g.node, weights=g.size * covered, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(residents > 0, hits / residents, np.nan)
