"""The service catalogue: categories, visit rates, spends, capacities and money values, from data.

The default catalogue ships as ``sim/data/catalogue.toml`` with a source for every value; a scenario
may point ``economy.catalogue`` at a file of its own with the same layout.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sim.scenario import ScenarioError

FEN_PER_CNY = 100
"""Money is held as integer fen (1 CNY = 100 fen) so that it is conserved exactly."""

_CATEGORY_KEYS = {
    "group": str, "tier_minutes": (int, float), "visits_per_day": (int, float),
    "elderly_factor": (int, float), "spend_cny": (int, float), "cogs_share": (int, float),
    "capacity": int, "staff": int, "area_m2": (int, float), "per_10k": (int, float),
    "night_share": (int, float), "deliverable": bool, "demand_of": str, "osm": list,
}
DEMAND_OF = ("adults", "young_children", "school_children")
"""Whose needs a category's are: the adult residents, or the household's children by age group."""
_MONEY_KEYS = (
    "shop_wage_cny_month", "outside_wage_cny_month", "pension_cny_month", "unemployment_benefit_cny_month", "rent_cny_m2_month",
    "delivery_fee_cny", "gig_task_cny", "parcel_fee_cny", "fixed_cost_cny_month", "startup_cost_cny",
    "vendor_fixed_cost_cny_month", "vendor_startup_cost_cny", "dibao_cny_month", "property_income_cny_month",
)


@dataclass(frozen=True)
class Catalogue:
    """Service categories as parallel arrays (index = category id), plus the money values.

    Attributes:
        names: Category names, e.g. ``"pharmacy"``.
        basic: True for basic-guarantee categories, False for quality-improvement ones.
        tier_minutes: The national guide's walking tier per category, minutes.
        visits_per_day: Mean visits per resident per day.
        elderly_factor: Multiplier on the visit rate for residents of retirement age.
        spend_fen: Typical spend per visit, fen.
        cogs_share: Cost of goods as a share of revenue.
        capacity: Visits an outlet serves per day.
        staff: Employees per outlet.
        area_m2: Floor area per outlet, square metres.
        per_10k: Outlets per 10,000 residents in a typical district.
        night_share: Share of needs arising at night.
        deliverable: True where the online platform can deliver the service.
        demand_of: Whose needs: 0 the adult residents, 1 children under six, 2 children 6-17
            (:data:`DEMAND_OF`; visits_per_day is then per child).
        osm_tags: OpenStreetMap ``key=value`` tags mapped to each category.
        money: Money values in fen (``shop_wage``, ``pension`` ...; see the data file).
        source: Where the catalogue was read from.
    """

    names: tuple[str, ...]
    basic: np.ndarray
    tier_minutes: np.ndarray
    visits_per_day: np.ndarray
    elderly_factor: np.ndarray
    spend_fen: np.ndarray
    cogs_share: np.ndarray
    capacity: np.ndarray
    staff: np.ndarray
    area_m2: np.ndarray
    per_10k: np.ndarray
    night_share: np.ndarray
    deliverable: np.ndarray
    demand_of: np.ndarray
    osm_tags: tuple[tuple[str, ...], ...]
    money: dict[str, int]
    source: str

    @property
    def n(self) -> int:
        """Number of categories."""
        return len(self.names)

    def index(self, name: str) -> int:
        """The id of category ``name``; a clear error for an unknown one."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ScenarioError(
                f"{self.source}: unknown service category {name!r}; known: {', '.join(self.names)}"
            ) from None

    @property
    def basic_ids(self) -> np.ndarray:
        """Ids of the basic-guarantee categories."""
        return np.flatnonzero(self.basic)


def _is_number(value: object) -> bool:
    """An int or float, not a bool (TOML's true is not a count)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_catalogue(where: str = "default", *, base: Path | None = None) -> Catalogue:
    """Read and check a catalogue file (``"default"``: the one shipped with lifecircle)."""
    if where == "default":
        text = resources.files("sim").joinpath("data/catalogue.toml").read_text(encoding="utf-8")
        source = "sim/data/catalogue.toml"
    else:
        path = Path(where) if base is None else (base / where)
        if not path.is_file():
            raise ScenarioError(f"economy.catalogue = {where!r}: no such file ({path})")
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: not valid TOML: {err}") from None
    unknown = set(data) - {"money", "categories"}
    if unknown:
        raise ScenarioError(f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: money, categories")
    money_raw = data.get("money", {})
    money: dict[str, int] = {}
    for key in _MONEY_KEYS:
        value = money_raw.get(key)
        if not _is_number(value) or not math.isfinite(value) or value < 0:
            raise ScenarioError(f"{source}: key 'money.{key}' = {value!r}: allowed: a finite number >= 0 (CNY)")
        money[key.removesuffix("_cny_month").removesuffix("_cny_m2_month").removesuffix("_cny")] = int(
            round(value * FEN_PER_CNY)
        )
    extra_money = set(money_raw) - set(_MONEY_KEYS)
    if extra_money:
        raise ScenarioError(f"{source}: unknown key(s) money.{sorted(extra_money)}; allowed: {', '.join(_MONEY_KEYS)}")
    cats = data.get("categories", {})
    if not cats:
        raise ScenarioError(f"{source}: no [categories.*] tables")
    rows = []
    for name, spec in cats.items():
        for key, kind in _CATEGORY_KEYS.items():
            if key not in spec:
                raise ScenarioError(f"{source}: categories.{name} lacks key '{key}'")
            if not isinstance(spec[key], kind) or (isinstance(spec[key], bool) and kind is not bool):
                raise ScenarioError(
                    f"{source}: key 'categories.{name}.{key}' = {spec[key]!r}: allowed: {kind}"
                )
        extra = set(spec) - set(_CATEGORY_KEYS)
        if extra:
            raise ScenarioError(
                f"{source}: unknown key(s) {sorted(extra)} in categories.{name}; allowed: {', '.join(_CATEGORY_KEYS)}"
            )
        if spec["group"] not in ("basic", "quality"):
            raise ScenarioError(
                f"{source}: key 'categories.{name}.group' = {spec['group']!r}: allowed: 'basic', 'quality'"
            )
        # TOML reads nan and inf as floats, and every comparison with NaN is False: finiteness is
        # checked first, or a NaN would pass each range test below and reach the ledger.
        for key, kind in _CATEGORY_KEYS.items():
            if kind is not bool and _is_number(spec[key]) and not math.isfinite(spec[key]):
                raise ScenarioError(
                    f"{source}: key 'categories.{name}.{key}' = {spec[key]!r}: allowed: a finite number"
                )
        if not spec["tier_minutes"] > 0:
            raise ScenarioError(
                f"{source}: key 'categories.{name}.tier_minutes' = {spec['tier_minutes']!r}: allowed: > 0 (minutes)"
            )
        for key in ("visits_per_day", "elderly_factor", "spend_cny", "capacity", "area_m2", "per_10k", "staff"):
            if spec[key] < 0:
                raise ScenarioError(f"{source}: key 'categories.{name}.{key}' = {spec[key]!r}: allowed: >= 0")
        for key in ("cogs_share", "night_share"):
            if not 0 <= spec[key] <= 1:
                raise ScenarioError(f"{source}: key 'categories.{name}.{key}' = {spec[key]!r}: allowed: 0 to 1")
        if spec["demand_of"] not in DEMAND_OF:
            raise ScenarioError(f"{source}: key 'categories.{name}.demand_of' = {spec['demand_of']!r}: "
                                f"allowed: {', '.join(DEMAND_OF)}")
        if spec["capacity"] < 1:
            raise ScenarioError(f"{source}: key 'categories.{name}.capacity' = {spec['capacity']!r}: allowed: >= 1")
        for tag in spec["osm"]:
            if not isinstance(tag, str) or "=" not in tag:
                raise ScenarioError(
                    f"{source}: key 'categories.{name}.osm' has {tag!r}: allowed: 'key=value' or 'key=*'"
                )
        rows.append((name, spec))
    names = tuple(r[0] for r in rows)

    def col(key: str, dtype: type) -> np.ndarray:
        return np.array([r[1][key] for r in rows], dtype=dtype)

    return Catalogue(
        names=names,
        basic=np.array([r[1]["group"] == "basic" for r in rows]),
        tier_minutes=col("tier_minutes", np.float64),
        visits_per_day=col("visits_per_day", np.float64),
        elderly_factor=col("elderly_factor", np.float64),
        spend_fen=np.round(col("spend_cny", np.float64) * FEN_PER_CNY).astype(np.int64),
        cogs_share=col("cogs_share", np.float64),
        capacity=col("capacity", np.int64),
        staff=col("staff", np.int64),
        area_m2=col("area_m2", np.float64),
        per_10k=col("per_10k", np.float64),
        night_share=col("night_share", np.float64),
        deliverable=col("deliverable", np.bool_),
        demand_of=np.array([DEMAND_OF.index(r[1]["demand_of"]) for r in rows], dtype=np.int8),
        osm_tags=tuple(tuple(r[1]["osm"]) for r in rows),
        money=money,
        source=source,
    )
