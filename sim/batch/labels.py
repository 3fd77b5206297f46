"""Display names with units for tables and figures: "Every basic service of the 15-min circle within
15 min on foot (share)", not ``basic_coverage_15``; "Lockers and vending points (per km2)", not
``levers.lockers.lockers_per_km2``.

One source each: an indicator's display name and unit are the metrics registry's (``label``,
``unit``); a scenario key's are its teaching metadata in the schema (:mod:`sim.view.teaching`) where it
has them, else :data:`KEYS` (switches and the economy's uncertain keys, which have no teaching
metadata), else the key's words and a unit read from its docstring. A batch file may give its own
``label`` for any uncertainty, lever or outcome, which comes first.
"""

from __future__ import annotations

import re

KEYS = {
    "economy.rent_multiplier": ("Shop rent", "x catalogue"),
    "economy.wage_multiplier": ("Shop wage", "x catalogue"),
    "economy.max_walk_minutes": ("Longest daily walk", "min"),
    "economy.entrants_per_month": ("Entrants", "per 1,000 residents, month"),
    "economy.lever_implementation": ("Implementation without governance", "share"),
    "economy.saving_rate": ("Saving rate", "share"),
    "economy.initial_knowledge": ("Outlets known at start", "share"),
    "economy.price_weight": ("Price weight in choice", "logit"),
    "economy.exit_per_month": ("Owner exits", "per month"),
    "population.residents": ("Residents", "people"),
    "population.elderly_share": ("Elderly share", "share"),
    "population.unemployment_rate": ("Initial unemployment", "share"),
    "levers.platform.enabled": ("Platform on", "switch"),
    "levers.platform.commission": ("Platform commission", "share"),
    "levers.smart_stores.enabled": ("Smart stores on", "switch"),
    "levers.smart_stores.subsidy_share": ("Smart-store subsidy", "share of cost"),
    "levers.smart_stores.adoption_share": ("Smart-store adoption", "share"),
    "levers.lockers.enabled": ("Lockers on", "switch"),
    "levers.lockers.lockers_per_km2": ("Lockers", "per km2"),
    "levers.mobile_vendors.enabled": ("Mobile vendors on", "switch"),
    "levers.mobile_vendors.vendors": ("Mobile vendors", "vendors"),
    "levers.renovation.enabled": ("Renovation on", "switch"),
    "levers.renovation.sites_per_round": ("Renovated sites", "per round"),
    "levers.graduate_startups.enabled": ("Graduate start-ups on", "switch"),
    "levers.graduate_startups.subsidy_cny": ("Start-up subsidy", "CNY"),
    "levers.licences.enabled": ("E-licences on", "switch"),
    "levers.governance.enabled": ("Governance on", "switch"),
}
"""Display names and units of common scenario keys."""


def indicator_label(name: str) -> str:
    """The registry's display name and unit: "Every basic service ... on foot (share)"."""
    from sim.metrics.indicators import REGISTRY

    base = name.split(".", 1)[0]
    unit = REGISTRY[base].unit if base in REGISTRY else ""
    text = (REGISTRY[base].label if base in REGISTRY and REGISTRY[base].label else "") or \
        name.replace("_", " ").replace(".", ": ").capitalize()
    if base != name:  # a family member: "name.suffix"
        text = f"{text}: {name.split('.', 1)[1].replace('_', ' ')}"
    if unit and "(" in unit:  # "CNY (cumulative)"
        return f"{text}, {unit}"
    return f"{text} ({unit})" if unit else text


def key_label(key: str) -> str:
    """"Lockers and vending points (per km2)" for ``levers.lockers.lockers_per_km2``."""
    taught = _teaching(key)
    if taught is not None:
        return f"{taught.label} ({taught.unit})" if taught.unit and taught.unit.lower() != taught.label.lower() else taught.label
    if key in KEYS:
        text, unit = KEYS[key]
        return f"{text} ({unit})"
    parts = key.split(".")
    words = [p.replace("_", " ") for p in (parts[1:] if parts[0] in ("levers", "economy", "population", "city")
                                           else parts)]
    text = ": ".join(words).capitalize()
    unit = _unit_of(key)
    return f"{text} ({unit})" if unit else text


def _teaching(key: str):
    """The schema's teaching metadata of ``key`` (None: it has none, or the key is unknown)."""
    from sim.scenario import Scenario
    from sim.view.teaching import field_teaching

    model = Scenario
    parts = key.split(".")
    try:
        for part in parts[:-1]:
            model = model.model_fields[part].annotation
        return field_teaching(model, parts[-1])
    except (KeyError, AttributeError):
        return None


def _unit_of(key: str) -> str:
    """A unit guessed from the scenario schema's docstring of ``key`` (CNY, months, minutes, share ...)."""
    from sim.batch.spec import key_annotation
    from sim.scenario import Scenario

    model = Scenario
    parts = key.split(".")
    try:
        key_annotation(key)
        for part in parts[:-1]:
            model = model.model_fields[part].annotation
        doc = model.model_fields[parts[-1]].description or ""
    except (ValueError, KeyError, AttributeError):
        return ""
    if key.endswith(".enabled"):
        return "switch"
    for pattern, unit in ((r"\bCNY\b", "CNY"), (r"\bmonths?\b", "months"), (r"\bminutes\b", "min"),
                          (r"\bmetres\b", "m"), (r"\bdays\b", "days"), (r"\bshare\b", "share"),
                          (r"\bprobability\b", "probability")):
        if re.search(pattern, doc, flags=re.IGNORECASE):
            return unit
    return ""


def label(name: str, labels: dict[str, str] | None = None) -> str:
    """The display name of a design key or indicator, a batch file's own ``label`` first."""
    if labels and name in labels:
        return labels[name]
    return key_label(name) if "." in name and name.split(".")[0] in (
        "levers", "economy", "population", "city", "output") else indicator_label(name)
