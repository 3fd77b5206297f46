"""The month's indicators of the reference, by the definitions of :mod:`sim.metrics.indicators` (and a few
statistics of the rules themselves that the engine's registry has no name for; the docking
computes the same ones from the engine's state: :mod:`benchmarks.reference.docking`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from benchmarks.reference.resident import EMPLOYED, FREELANCER, OUT_OF_LABOUR, OWNER, UNEMPLOYED
from benchmarks.reference.scores import SCORES

if TYPE_CHECKING:
    from benchmarks.reference.model import ReferenceModel


def _share(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def month_record(model: ReferenceModel) -> dict[str, float]:
    """The indicators of the month just ended (see :data:`benchmarks.reference.docking.STATISTICS`)."""
    t, cat = model.tally, model.catalogue
    needs = sum(t.needs)
    met = [sum(t.outcome[k][c] for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer"))
           for c in range(cat.n)]
    basic = [c for c in range(cat.n) if cat.basic[c]]
    merchants = model.open_merchants()
    residents = model.residents
    working_age = [p for p in residents if not p.elderly]
    working = sum(p.status in (EMPLOYED, FREELANCER, OWNER) for p in working_age)
    looking = sum(p.status == UNEMPLOYED for p in working_age)
    persons = sum(h.persons for h in model.households)
    local = sum(len(m.staff) for m in merchants)
    load = [m.visits_month / max(m.capacity, 1) for m in merchants]
    mean_load = sum(load) / len(load) if load else math.nan
    night_trades = [m for m in merchants if cat.night_share[m.category] > 0]
    in_range = known = 0
    for person in residents:
        for c in range(cat.n):
            for merchant, _, _ in model.walk_weights(c, person.home, person.speed_class):
                in_range += 1
                known += merchant in person.known[c]
    return {
        "needs": float(needs),
        "needs_met_share": _share(sum(met), needs),
        "basic_needs_met_share": _share(sum(met[c] for c in basic), sum(t.needs[c] for c in basic)),
        "night_needs_met_share": _share(t.night_met, t.night_needs),
        **{f"{k}_share": _share(sum(t.outcome[k]), needs)
           for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer", "unmet_range", "unmet_capacity", "unmet_money")},
        "visits_per_outlet": _share(sum(t.outcome["met_walk"]), len(merchants)),
        "merchants_open": float(len(merchants)),
        "merchant_births": float(t.births),
        "merchant_deaths": float(t.deaths),
        "losing_months_at_closure": float(t.losing_months_at_closure),  # a sum: divided by the deaths
        "merchant_transfers": float(t.transfers),
        "merchant_profit_mean": _share(sum(m.profit_last for m in merchants) / 100, len(merchants)),
        "negative_cash_share": _share(sum(m.cash < 0 for m in merchants), len(merchants)),
        "outlet_load_cv": (math.sqrt(sum((x - mean_load) ** 2 for x in load) / len(load)) / mean_load
                           if len(load) > 1 and mean_load > 0 else math.nan),
        "night_open_share": _share(sum(m.night for m in night_trades), len(night_trades)),
        "employment_rate": _share(working, working + looking),
        "freelancer_share": _share(sum(p.status == FREELANCER for p in residents), len(residents)),
        "local_job_share": _share(local, local + sum(m.commuters for m in merchants)),
        "income_mean": _share(sum(p.income_last for p in residents) / 100, persons),
        "service_spending": t.service_spending / 100 / max(persons, 1) * 30 / max(t.days, 1),
        "low_income_needs_met_share": _share(t.low_income_met, t.low_income_needs),
        "known_outlet_share": _share(known, in_range),
        "visit_walk_m": _share(t.walk_m, t.walk_ins),
        **{name: _share(t.scores[i], t.draws) for i, name in enumerate(SCORES)},
        "draws": float(t.draws),
        "entrants_waiting": float(len(model.entry.queue)),  # replaced after the month's entry round (model)
    }


def world_record(model: ReferenceModel) -> dict[str, float]:
    """The world the reference built on day one (see :data:`benchmarks.reference.docking.DAY_ONE`)."""
    cat, econ = model.catalogue, model.scenario.economy
    merchants = model.open_merchants()
    residents, households = model.residents, model.households
    night_trades = [m for m in merchants if cat.night_share[m.category] > 0]
    priced = [m.price_term for m in merchants if cat.spend_fen[m.category] > 0]
    mean_price = sum(priced) / len(priced)
    working_age = [p for p in residents if not p.elderly]
    working = sum(p.status in (EMPLOYED, FREELANCER, OWNER) for p in working_age)
    looking = sum(p.status == UNEMPLOYED for p in working_age)
    employed = [p for p in residents if p.status == EMPLOYED]
    local = sum(len(m.staff) for m in merchants)
    children = sum(h.young_children + h.school_children for h in households)
    in_range = known = 0
    for person in residents:
        for c in range(cat.n):
            for merchant, _, _ in model.walk_weights(c, person.home, person.speed_class):
                in_range += 1
                known += merchant in person.known[c]
    basic = [c for c in range(cat.n) if cat.basic[c]]
    nearest = {c: model.nearest_outlet_m(c) for c in basic}
    covered = sum(all(nearest[c].get(p.home, math.inf) / p.speed <= 15.0 for c in basic) for p in residents)
    return {
        "night_open_share": _share(sum(m.night for m in night_trades), len(night_trades)),
        "price_term_mean": mean_price,
        "price_term_sd": math.sqrt(sum((x - mean_price) ** 2 for x in priced) / len(priced)),
        "merchant_cash_months": sum(m.cash / model.running_costs(m.category) for m in merchants) / len(merchants),
        "local_job_share": _share(local, local + sum(m.commuters for m in merchants)),
        "employment_rate": _share(working, working + looking),
        "out_of_labour_share": _share(sum(p.status == OUT_OF_LABOUR for p in working_age), len(working_age)),
        "freelancer_share": _share(sum(p.status == FREELANCER for p in residents), len(residents)),
        "elderly_share": _share(sum(p.elderly for p in residents), len(residents)),
        "disabled_share": _share(sum(p.disabled for p in residents), len(residents)),
        "graduate_share": _share(sum(p.graduate for p in residents), len(residents)),
        "insured_share": _share(sum(p.benefit_left > 0 for p in residents), len(residents)),
        "persons_per_household": _share(sum(h.persons for h in households), len(households)),
        "children_per_adult": _share(children, len(residents)),
        "young_children_share": _share(sum(h.young_children for h in households), children),
        "wage_mean": _share(sum(p.wage for p in employed) / 100, len(employed)),
        "pension_mean": _share(sum(p.pension for p in residents) / 100, sum(p.elderly for p in residents)),
        "property_income_mean": _share(sum(h.property_income for h in households) / 100, len(households)),
        "cash_mean": _share(sum(p.cash for p in residents) / 100, len(residents)),
        "known_outlet_share": _share(known, in_range),
        "basic_coverage_15": _share(covered, len(residents)),
    }
