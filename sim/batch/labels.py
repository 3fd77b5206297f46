"""Display names with units for tables and figures: "Basic coverage, 15 min (share)", not
``basic_coverage_15``; "Platform commission (share)", not ``levers.platform.commission``.

A batch file may give its own ``label`` for any uncertainty, lever or outcome; otherwise the name
comes from :data:`INDICATORS` / :data:`KEYS`, and failing those is built from the key's words and
the unit the registry (indicators) or the scenario schema's docstring (keys) states.
"""

from __future__ import annotations

import re

INDICATORS = {
    "basic_coverage_15": "Basic coverage, 15 min walk",
    "basic_coverage_10": "Basic coverage, 10 min walk",
    "basic_coverage_5": "Basic coverage, 5 min walk",
    "basic_coverage_tiered": "Basic coverage by tier",
    "basic_coverage_15_elderly": "Basic coverage 15 min, elderly",
    "basic_coverage_15_disabled": "Basic coverage 15 min, disabled",
    "effective_coverage_15": "Effective coverage 15 min (with delivery)",
    "mean_walk_minutes": "Mean walk to nearest outlet",
    "needs_met_share": "Needs met",
    "night_needs_met_share": "Night-time needs met",
    "employment_rate": "Employment rate",
    "local_job_share": "Local job share",
    "freelancer_income_mean": "Freelancer income",
    "disability_employment_gap": "Disability employment gap",
    "income_mean": "Mean income",
    "income_median": "Median income",
    "income_gini": "Income Gini",
    "merchants_open": "Merchants open",
    "merchant_survival": "Merchant survival",
    "merchant_births": "Merchant births",
    "merchant_deaths": "Merchant deaths",
    "public_spending": "Public spending",
}
"""Display names of the indicators most batches keep (others are built from their names)."""

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
    """"Basic coverage, 15 min walk (share)" for ``basic_coverage_15``."""
    from sim.metrics import REGISTRY

    base = name.split(".", 1)[0]
    unit = REGISTRY[base].unit if base in REGISTRY else ""
    text = INDICATORS.get(name) or name.replace("_", " ").replace(".", ": ").capitalize()
    if unit and "(" in unit:  # "CNY (cumulative)"
        return f"{text}, {unit}"
    return f"{text} ({unit})" if unit else text


def key_label(key: str) -> str:
    """"Platform commission (share)" for ``levers.platform.commission``."""
    if key in KEYS:
        text, unit = KEYS[key]
        return f"{text} ({unit})"
    parts = key.split(".")
    words = [p.replace("_", " ") for p in (parts[1:] if parts[0] in ("levers", "economy", "population", "city")
                                           else parts)]
    text = ": ".join(words).capitalize()
    unit = _unit_of(key)
    return f"{text} ({unit})" if unit else text


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
