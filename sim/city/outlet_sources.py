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
    from sim.city.grid import City
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


def map_caption(model: LifeCircleModel) -> str:
    """One wrapped text of day-one outlets per category by source, for the coverage map."""
    import textwrap

    frame = counts_by_source(model)
    parts = [f"{row.category} {row.osm}/{row.table}/{row.synthesised}" for row in frame.itertuples(index=False)]
    return textwrap.fill("Day-one outlets per category, map (OSM) / table / synthesised: " + ", ".join(parts), width=150)


def report_lines(model: LifeCircleModel) -> list[str]:
    """The report's "Where the outlets come from" section, as Markdown lines.

    States, per category, how many day-one outlets came from the map (OSM), from a POI table and
    how many were synthesised, and how many the model opened during the run; then what the input
    tables contributed (rows, unmapped, outside the network, merged duplicates) and the OSM tags
    that matched no category.
    """
    frame = counts_by_source(model)
    total = frame[list(SOURCE_NAMES)].sum()
    day_one = int(total["osm"] + total["table"] + total["synthesised"])
    lines = [
        "## Where the outlets come from", "",
        f"Of {day_one} outlets on day one, {int(total['osm'])} came from the map (OpenStreetMap), "
        f"{int(total['table'])} from a POI table and {int(total['synthesised'])} were synthesised "
        "(placed at the catalogue's per-10,000 density on shop-space nodes, for categories with no "
        f"data; drawn hollow on the coverage map). The model opened {int(total['model'])} more during the run.",
        "",
        "| category | osm | table | synthesised | opened during run | open at end |",
        "|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples(index=False):
        lines.append(f"| {row.category} | {row.osm} | {row.table} | {row.synthesised} | {row.model} | {row.open_now} |")
    lines.append(f"| **all** | {int(total['osm'])} | {int(total['table'])} | {int(total['synthesised'])} | "
                 f"{int(total['model'])} | {int(frame['open_now'].sum())} |")
    lines.append("")
    from sim.city.osm import OsmCity

    if not isinstance(model.city, OsmCity):
        return lines
    inputs = model.city.inputs
    placement = inputs.get("poi_table")
    if placement is not None:
        lines.append(
            f"POI table: {placement.rows} rows; {placement.unmapped} matched no category, {placement.too_far} lay "
            f"outside the walking network's area, {placement.merged} duplicated a nearby point of the same "
            f"category; {placement.outlets} became outlets."
        )
        unmapped = inputs.get("poi_table_unmapped") or {}
        if unmapped:
            lines.append("Most common unmapped values: " + ", ".join(
                f"`{value}` ({count})" for value, count in list(unmapped.items())[:10]) + ".")
        lines.append("")
    homes = inputs.get("homes_table")
    if homes is not None:
        lines.append(
            f"Homes table: {int(homes['compounds'])} compounds, {int(homes['placed'])} on the network "
            f"({int(homes['too_far'])} outside its area), housing {homes['table_residents']:,.0f} people; "
            f"the run places its {model.scenario.population.residents:,} residents in proportion."
        )
        lines.append("")
    unmapped_tags = model.city.unmapped
    if unmapped_tags:
        lines.append("OSM features matching no category, their most common tags (a feature counts once per tag): " + ", ".join(
            f"`{tag}` ({count})" for tag, count in list(unmapped_tags.items())[:8]) + ".")
        lines.append("")
    return lines
