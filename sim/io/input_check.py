"""``lifecircle validate``'s checks of a real district's table inputs, without building the network.

Reads the POI table (columns, coordinates, coordinate system, type codes against the code table)
and the homes table (columns, counts, coordinates) exactly as a run would, so every error a run
would raise on them is raised here too; what needs the network (points outside its area) is left
to the run, which warns with counts or, if no point is near the network, stops with an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue
    from sim.scenario import Scenario


def check_tables(scenario: Scenario, catalogue: Catalogue) -> list[str]:
    """Read the scenario's POI and homes tables; returns one summary line per table.

    Raises:
        ScenarioError: Any problem a run would report for the tables themselves.
    """
    city = scenario.city
    lines = []
    if city.poi_table:
        from sim.city.poi_codes import load_code_table
        from sim.city.poi_table import read_poi_table

        codes = load_code_table(city.poi_codes, catalogue, base=scenario.resolve_path("."))
        table = read_poi_table(scenario.resolve_path(city.poi_table), crs=city.poi_crs, codes=codes, catalogue=catalogue)
        unmapped = sum(table.unmapped.values())
        top = ", ".join(f"{value} ({count})" for value, count in list(table.unmapped.items())[:5])
        lines.append(
            f"city.poi_table: {table.rows} rows ({city.poi_crs}), {len(table.category)} map to a category"
            + (f", {unmapped} do not: {top}" if unmapped else "")
        )
    if city.homes_table:
        from sim.city.homes_table import read_homes_table

        homes = read_homes_table(scenario.resolve_path(city.homes_table), crs=city.homes_crs)
        lines.append(f"city.homes_table: {homes.rows} compounds ({city.homes_crs}) housing {homes.residents.sum():,.0f} people"
                     + (f"; {homes.both_given} give both population and households: population is used"
                        if homes.both_given else ""))
    return lines
