"""The type-code table: Amap POI type codes and Baidu industry names -> service categories.

The table is data (``sim/data/poi_codes.toml``, with its sources), like the OSM tag table in the
catalogue; a scenario may point ``city.poi_codes`` at a file of its own with the same layout. The
matching rules (most specific entry wins; unknown codes are counted, never guessed) are described
in that file and in docs/osm.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario import ScenarioError, read_toml_file

if TYPE_CHECKING:
    from sim.services.catalogue import Catalogue

_AMAP_EXACT = re.compile(r"^\d{6}$")
_AMAP_PREFIX = re.compile(r"^\d{1,5}\*$")
_KEYS = ("amap", "baidu")


def default_path() -> Path:
    """The code table that ships with lifecircle."""
    return Path(str(resources.files("sim") / "data" / "poi_codes.toml"))


def normalise_code(raw: object) -> str:
    """An Amap code as six digits: spreadsheets drop leading zeros (060200 -> 60200), CSV readers
    may add ``.0``; both are undone. Anything else is returned stripped."""
    text = str(raw).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if text.isdigit() and len(text) < 6:
        text = text.zfill(6)
    return text


def normalise_name(raw: object) -> str:
    """A Baidu industry name with full-width separators and spaces normalised: ``购物；便利店`` ->
    ``购物;便利店``; only the first two levels are kept."""
    text = str(raw).replace("；", ";").replace(" ", "").replace("\u3000", "").strip(";")
    return ";".join(text.split(";")[:2])


@dataclass(frozen=True)
class CodeTable:
    """Amap codes and Baidu names mapped to category ids of one catalogue.

    Attributes:
        amap_exact: Six-digit code -> category id.
        amap_prefix: (prefix, category id), longest prefix first.
        baidu_exact: "一级;二级" -> category id.
        baidu_first: "一级" -> category id (entries "一级;*").
        source: The file read, as named in messages.
    """

    amap_exact: dict[str, int]
    amap_prefix: tuple[tuple[str, int], ...]
    baidu_exact: dict[str, int]
    baidu_first: dict[str, int]
    source: str

    def amap(self, raw: object) -> int:
        """Category id of an Amap type code (or ``|``-joined codes: the first that maps), -1 if none."""
        for part in str(raw).split("|"):
            code = normalise_code(part)
            if not code:
                continue
            if code in self.amap_exact:
                return self.amap_exact[code]
            for prefix, cat in self.amap_prefix:
                if code.startswith(prefix):
                    return cat
        return -1

    def baidu(self, raw: object) -> int:
        """Category id of a Baidu industry name ("一级;二级"), -1 if none."""
        name = normalise_name(raw)
        if name in self.baidu_exact:
            return self.baidu_exact[name]
        return self.baidu_first.get(name.split(";")[0], -1)


def load_code_table(name: str, catalogue: Catalogue, *, base: Path | None = None) -> CodeTable:
    """Read and check a code table: ``"default"`` (the shipped one) or a TOML path.

    Args:
        name: ``"default"`` or a file path (relative to ``base``).
        catalogue: The categories the table's entries must name.
        base: Folder relative paths are resolved against (the scenario's).

    Raises:
        ScenarioError: The file is missing or invalid: an unknown category or key, a malformed
            code or name, or one code given to two categories; the message names the file, the
            key and the value, and what is allowed.
    """
    if name == "default":
        path = default_path()
    else:
        path = Path(name).expanduser()
        if not path.is_absolute() and base is not None:
            path = (base / path).resolve()
    source = str(path)
    data = read_toml_file(path, kind="POI code table (city.poi_codes)")
    categories = data.get("categories")
    extra = sorted(set(data) - {"categories"})
    if extra or not isinstance(categories, dict):
        raise ScenarioError(f"{source}: expected only [categories.<name>] tables with amap/baidu lists; found {extra or 'no [categories]'}")
    amap_exact: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    baidu_exact: dict[str, int] = {}
    baidu_first: dict[str, int] = {}
    for cat_name, entry in categories.items():
        if cat_name not in catalogue.names:
            raise ScenarioError(
                f"{source}: categories.{cat_name} is not a service category of the catalogue "
                f"({catalogue.source}); allowed: {', '.join(catalogue.names)}"
            )
        if not isinstance(entry, dict) or set(entry) - set(_KEYS):
            found = sorted(set(entry) - set(_KEYS)) if isinstance(entry, dict) else entry
            raise ScenarioError(f"{source}: categories.{cat_name}: unknown key(s) {found}; allowed: amap, baidu")
        cat = catalogue.index(cat_name)
        for key in _KEYS:
            values = entry.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ScenarioError(f"{source}: categories.{cat_name}.{key} = {values!r} must be a list of strings")
            for value in values:
                where = f"{source}: categories.{cat_name}.{key} entry {value!r}"
                if key == "amap":
                    if _AMAP_EXACT.match(value):
                        _claim(amap_exact, value, cat, where, catalogue)
                    elif _AMAP_PREFIX.match(value):
                        _claim(prefixes, value[:-1], cat, where, catalogue)
                    else:
                        raise ScenarioError(f"{where}: allowed: six digits (060200) or a digit prefix ending in * (0602*)")
                else:
                    text = normalise_name(value) if not value.endswith(";*") else value.replace("；", ";").strip()
                    parts = text.split(";")
                    if len(parts) != 2 or not parts[0] or not parts[1]:
                        raise ScenarioError(f"{where}: allowed: '一级;二级' (first-level;second-level) or '一级;*'")
                    if parts[1] == "*":
                        _claim(baidu_first, parts[0], cat, where, catalogue)
                    else:
                        _claim(baidu_exact, text, cat, where, catalogue)
    prefix = tuple(sorted(prefixes.items(), key=lambda item: -len(item[0])))
    return CodeTable(amap_exact, prefix, baidu_exact, baidu_first, source)


def _claim(table: dict[str, int], key: str, cat: int, where: str, catalogue: Catalogue) -> None:
    if key in table and table[key] != cat:
        raise ScenarioError(f"{where}: already mapped to {catalogue.names[table[key]]}; a code maps to one category")
    table[key] = cat
