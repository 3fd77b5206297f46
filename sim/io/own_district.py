"""A newcomer's own district: one command from an OpenStreetMap file to a report about that place.

``lifecircle district my_area.osm.pbf`` derives a scenario **from the file alone** (never from
another scenario), writes it next to the outputs so that it can be edited and rerun, runs it and
writes the usual outputs (``results/<name>/``: scorecard, report.md, figures ...):

* **name**: the file's name without suffixes, as a lower-case identifier (``my_area``);
* **district**: the place the file's features give as their address: the most common
  ``addr:district`` with the most common ``addr:city`` (``海淀区, 北京市``); else ``addr:suburb``,
  ``addr:city``, or the most common ``place=suburb/quarter/neighbourhood`` name; else the file name;
* **residents**: the district's area (:attr:`sim.city.osm.OsmCity.area_km2`: its box) times :data:`RESIDENTS_PER_KM2`, with a warning that it is an estimate (and, where the file maps
  residential buildings, the floor-area estimate beside it); ``--residents`` sets it from a census;
* **description** (the report's subtitle): where the numbers came from, and that every lever is off.

Every other value is the schema's default (``lifecircle schema``).
"""

from __future__ import annotations

import argparse
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import tomli_w

from sim.errors import ScenarioError

RESIDENTS_PER_KM2 = 10_000
"""Residents per km² of a district's area, used when the file has nothing better: 100 m² of urban
development land per person, the middle of the 65-115 m² per person that GB 50137-2011 (Code for
classification of urban land use and planning standards of development land, table 4.2.1) allows
Chinese cities to plan. An estimate: dense old centres hold two or three times as many, campuses
and parks far fewer."""

PLACE_KINDS = ("suburb", "quarter", "neighbourhood", "city_district", "district", "town", "city")


def district_name(path: Path) -> str:
    """The district's name from the file's address and place tags (the file's name without them)."""
    fallback = path.name.split(".")[0]
    if not path.name.lower().endswith((".pbf", ".osm", ".xml")):
        return fallback
    import osmium

    counts: dict[str, Counter[str]] = {k: Counter() for k in ("addr:district", "addr:city", "addr:suburb")}
    places: Counter[str] = Counter()
    try:
        for obj in osmium.FileProcessor(str(path)):
            tags = obj.tags
            for key, counter in counts.items():
                value = tags.get(key)
                if value:
                    counter[value.strip()] += 1
            if tags.get("place") in PLACE_KINDS and tags.get("name"):
                places[tags.get("name")] += 1
    except RuntimeError:  # not an OSM file: the city loader reports that clearly
        return fallback
    top = {k: c.most_common(1)[0][0] for k, c in counts.items() if c}
    if "addr:district" in top:
        return ", ".join(v for v in (top["addr:district"], top.get("addr:city")) if v)
    for key in ("addr:suburb", "addr:city"):
        if key in top:
            return top[key]
    return places.most_common(1)[0][0] if places else fallback


def scenario_name(path: Path) -> str:
    """A lower-case identifier from the file's name (``My Area.osm.pbf`` -> ``my_area``)."""
    stem = path.name.split(".")[0]
    return re.sub(r"[^0-9a-z]+", "_", stem.lower()).strip("_") or "my_district"


def derive_scenario(path: str | Path, *, residents: int | None = None) -> tuple[dict[str, Any], list[str]]:
    """A scenario (as TOML data) for the OSM file ``path``, and warnings about what was estimated.

    Raises:
        ScenarioError: The file is missing or not a street network.
    """
    from sim.services.catalogue import load_catalogue
    from sim.city.osm import OsmCity
    from sim.streams import Streams

    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ScenarioError(f"{path}: no such file")
    from sim.io.inputs import check_osm_file

    check_osm_file(file, source=str(path))  # truncated or not OSM: as `validate` says of a city.path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the run repeats the data warnings
        city = OsmCity.from_file(file, catalogue=load_catalogue("default"), rng=Streams(0)["city"])
    district = district_name(file)
    notes = []
    if residents is None:
        area, measured = city.area_km2, city.area_source  # the district's box (OsmCity), not its ways' tails
        residents = max(100, int(round(area * RESIDENTS_PER_KM2, -2)))
        floor = city.estimated_residents
        notes.append(
            f"residents estimated as the district's area ({measured}), {area:.2f} km², times "
            f"{RESIDENTS_PER_KM2:,} per km² (GB 50137-2011: 100 m² of urban land per person): {residents:,}"
            + (f"; the file's residential floor area would house about {floor:,} (36.52 m² per person, census 2020)"
               if floor else "")
            + ". Give the real number with --residents (census or street-office data).")
        how = f"{area:.2f} km² × {RESIDENTS_PER_KM2:,} per km² (an estimate)"
    else:
        how = "given with --residents"
    data = {
        "name": scenario_name(file),
        "description": f"{district} (from {file.name}): {residents:,} residents, {how}; every lever off",
        "city": {"kind": "osm", "path": str(file), "district": district},
        "population": {"residents": int(residents)},
    }
    return data, notes


def write_scenario_file(path: Path, text: str, *, force: bool, where: str) -> bool:
    """Write the derived scenario to ``path``; False if the file already holds exactly ``text``.

    A file with other contents (edited, or another district's) is never silently replaced: it is
    refused unless ``force``, as ``lifecircle run`` refuses an output folder of other files.

    Raises:
        ScenarioError: ``path`` is a folder, exists with other contents (without ``force``), or
            cannot be written; ``where`` names it in the message.
    """
    if path.is_dir():
        raise ScenarioError(f"{where}: is a folder, not a file; allowed: a .toml file to write the derived "
                            f"scenario to")
    if path.exists():
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
        if not force:
            raise ScenarioError(f"{where}: the file exists and is not the scenario derived now; allowed: a new "
                                f"file (--scenario-file PATH); --force replaces it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{where}: cannot write the derived scenario ({err.strerror or err}); allowed: a "
                            f"file in a folder you can write to") from None
    return True


def cmd_district(args: argparse.Namespace) -> int:
    """Derive a scenario from an OSM file, write it, run it and write the outputs."""
    from sim.cli import cmd_run

    data, notes = derive_scenario(args.osm_file, residents=args.residents)
    for note in notes:
        warnings.warn(note, stacklevel=1)
    out = Path(args.out) if args.out else Path("results") / data["name"]
    scenario_file = Path(args.scenario_file) if args.scenario_file else Path(f"{data['name']}.toml")
    header = (f"# Derived by `lifecircle district {args.osm_file}` from that file alone; edit and rerun with\n"
              f"# `lifecircle run {scenario_file}`. Map data © OpenStreetMap contributors, ODbL 1.0.\n")
    where = f"--scenario-file {scenario_file}" if args.scenario_file else str(scenario_file)
    if write_scenario_file(scenario_file, header + tomli_w.dumps(data), force=args.force, where=where):
        print(f"wrote {scenario_file}: {data['description']}")
    else:
        print(f"kept {scenario_file} (the same scenario): {data['description']}")
    run_args = argparse.Namespace(scenario=str(scenario_file), out=str(out), years=args.years, seed=args.seed,
                                  set=args.set, no_figures=args.no_figures, progress=False, quiet=True,
                                  force=args.force, replicates=args.replicates, started=args.started,
                                  own_process=args.own_process, threads=None)
    return cmd_run(run_args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``district`` subcommand to the CLI."""
    parser = sub.add_parser(
        "district", help="your own district: derive a scenario from an OSM file (name, place, residents) and run it",
        description="Derive a scenario from an .osm.pbf / .osm / .graphml file alone (name from the file, "
                    "district from its address tags, residents = area x 10,000 per km2 unless --residents), "
                    "write it as NAME.toml, run it and write results/NAME/ (report.md, scorecard, figures).")
    from sim.cli import DEFAULT_REPLICATES, _non_negative_int, _path

    parser.add_argument("osm_file", help="an .osm.pbf, .osm (XML export) or .graphml file")
    parser.add_argument("--residents", type=int, help="residents (default: estimated from the area, with a warning)")
    parser.add_argument("--scenario-file", type=_path, help="where to write the derived scenario (default NAME.toml here)")
    parser.add_argument("--out", type=_path, help="output folder (default results/NAME)")
    parser.add_argument("--years", type=float, help="simulated years (default: the schema's)")
    parser.add_argument("--seed", type=int, help="master seed")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--force", action="store_true", help="replace a scenario file (NAME.toml or --scenario-file) "
                        "that holds something else, and write into an output folder that holds other files (as "
                        "`lifecircle run --force`)")
    parser.add_argument("--replicates", type=_non_negative_int, default=DEFAULT_REPLICATES, metavar="N",
                        help="seeds for paired effects when a --set turns a lever on (as in `lifecircle run`; "
                             f"default {DEFAULT_REPLICATES})")
    parser.set_defaults(func=cmd_district)
