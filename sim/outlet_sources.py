"""Where each outlet came from: the map (OSM), a POI table, synthesis, or the model's own rules.

A real district's outlets on day one are its mapped shops (``osm``) and the points of a POI table
(``table``); a service category with neither is filled at the catalogue's ``per_10k`` density on
shop-space nodes (``synthesised``), and so is every outlet of a grid city. Outlets opened during a
run by entrants, start-ups, renovation or mobile-vendor rules are ``model``. The merchants' array
``source`` holds the code; ``outlets.parquet``, the report and the coverage map show the name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.city import City
    from sim.model import LifeCircleModel

OSM, TABLE, SYNTHESISED, MODEL = 0, 1, 2, 3
"""Source codes stored in ``Merchants.source``."""

SOURCE_NAMES: tuple[str, ...] = ("osm", "table", "synthesised", "model")
"""Source names by code, as written to outputs."""


@runtime_checkable
class SourcedCity(Protocol):
    """A city whose day-one outlets start with mapped POIs of known source (see :class:`OsmCity`).

    Attributes:
        poi_source: (p,) source code (:data:`OSM` or :data:`TABLE`) of each POI; the first ``p``
            outlets returned by ``initial_outlets`` are these POIs, in order.
    """

    poi_source: np.ndarray


def initial_sources(city: City, count: int) -> np.ndarray:
    """Source code of each of the ``count`` outlets ``city.initial_outlets`` returned.

    A city with mapped POIs returns them first and synthesised fill-ins after; any other city
    synthesises every outlet.
    """
    sources = np.full(count, SYNTHESISED, dtype=np.int8)
    if isinstance(city, SourcedCity):
        mapped = min(len(city.poi_source), count)
        sources[:mapped] = city.poi_source[:mapped]
    return sources


def counts_by_source(model: LifeCircleModel) -> pd.DataFrame:
    """Day-one outlets per category and source, and outlets the model opened during the run.

    Returns:
        One row per category: ``category``, then one column per source name with the number of
        outlets of that source (``model``: opened during the run, open or since closed), and
        ``open_now``: outlets trading at the end.
    """
    mer, names = model.merchants, model.catalogue.names
    table = np.zeros((len(names), len(SOURCE_NAMES)), dtype=np.int64)
    np.add.at(table, (mer.category.astype(np.int64), mer.source.astype(np.int64)), 1)
    frame = pd.DataFrame(table, columns=list(SOURCE_NAMES))
    frame.insert(0, "category", list(names))
    frame["open_now"] = np.bincount(mer.category[mer.open].astype(np.int64), minlength=len(names))
    return frame
