"""Indicators whose definitions were once wrong (issue 10), checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from sim.metrics import indicators as metrics
from sim.model import LifeCircleModel
from tests.conftest import small_scenario


def _platform_model(**updates) -> LifeCircleModel:
    scenario = small_scenario(**{"levers.platform.enabled": True, "levers.platform.delivery_radius_m": 50_000.0,
                                 "population.residents": 3000, **updates})
    model = LifeCircleModel(scenario=scenario, seed=4, create_agents=False)
    model.run_for(31)  # one month: the first collection
    assert model.levers.get("platform").acting
    return model


def _walk_covered(model: LifeCircleModel, categories: np.ndarray) -> np.ndarray:
    """(G,) home groups with every category in ``categories`` within 15 minutes on foot."""
    return (metrics.group_minutes(model)[:, categories] <= 15.0).all(axis=1)


def test_effective_coverage_counts_delivery_only_for_deliverable_categories():
    model = _platform_model()
    cat = model.catalogue
    basic = cat.basic_ids
    assert cat.deliverable[basic].any() and not cat.deliverable[basic].all()
    g = metrics.home_groups(model)
    on_foot_only = basic[~cat.deliverable[basic]]  # a haircut or a parcel pick-up is not delivered
    expected = float(g.size @ _walk_covered(model, on_foot_only) / g.size.sum())
    value = metrics.compute(model, ["effective_coverage_15"])["effective_coverage_15"]
    # Every deliverable category has an outlet with spare capacity within the (city-wide) radius.
    assert value == pytest.approx(expected)
    assert metrics.compute(model, ["basic_coverage_15"])["basic_coverage_15"] <= value < 1.0


def test_effective_coverage_needs_an_outlet_with_spare_capacity():
    model = _platform_model()
    model.run_for(5)
    mer = model.merchants
    days = model.tally.days
    assert days == 5
    mer.wanted_month[:] = mer.capacity.astype(np.int64) * days  # every outlet was full all period
    values = metrics.compute(model, ["effective_coverage_15", "basic_coverage_15"])
    assert values["effective_coverage_15"] == pytest.approx(values["basic_coverage_15"])


def test_platform_takes_no_orders_for_services_that_cannot_be_delivered():
    model = _platform_model(**{"levers.platform.online_share": 1.0})
    model.run_for(20)
    delivered = model.tally.needs["met_delivery"]
    cat = model.catalogue
    assert delivered[cat.deliverable].sum() > 0
    assert delivered[~cat.deliverable].sum() == 0


def test_one_collection_equals_each_indicator_on_its_own():
    """compute() shares the per-head incomes and their sort order among the income indicators, and
    counts known outlets in a compiled loop: every value equals the indicator evaluated alone, and
    known_outlet_share the NumPy count it replaced (map users included)."""
    model = LifeCircleModel(scenario=small_scenario(), seed=5, create_agents=False)
    model.run_for(31)
    model.population.map_user[::5] = True
    names = ["income_mean", "income_median", "income_gini", "income_quintile", "poverty_share", "known_outlet_share"]
    together = metrics.compute(model, names)
    alone = {}
    for name in names:
        value = metrics.REGISTRY[name].fn(model)
        alone.update({f"{name}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {name: value})
    assert together == alone
    assert not metrics._COLLECTION  # the shared values lived for the call only
    pop, k = model.population, model.reach.k
    bits = (model.choice_tables.walk[..., :k] > 0).astype(np.uint8) << np.arange(k, dtype=np.uint8)
    mine = bits.sum(axis=-1, dtype=np.uint8)[pop.home, pop.speed_class]
    known = np.where(pop.map_user[:, None], mine, pop.knows & mine)
    assert 0 < together["known_outlet_share"] < 1
    assert together["known_outlet_share"] == metrics._POPCOUNT[known].sum() / metrics._POPCOUNT[mine].sum()


def test_income_indicators_reuse_the_month_end_order_only_when_it_is_theirs(small):
    """The month end ranks households by income per member (the low-income fifth); the income
    indicators use that order when it is the stable sort of their own figures, and the same values
    come out as from their own sort."""
    from sim.sorting import is_stable_order

    model = LifeCircleModel(scenario=small)
    model.run_for(31)  # a month end: incomes paid, households ranked
    names = ["income_median", "income_gini", "income_quintile", "poverty_share"]
    per_head, _ = metrics._per_head(model)
    assert is_stable_order(per_head, model.income_order_hint)  # the order at hand is used
    with_hint = metrics.compute(model, names)
    model.income_order_hint = None
    assert metrics.compute(model, names) == with_hint
    model.income_order_hint = np.arange(model.households.n)[::-1]
    assert metrics.compute(model, names) == with_hint  # a wrong order is refused, not used


def test_freelancers_income_is_that_of_those_who_were_freelancers_when_it_was_paid():
    # The labour market, after the month's accounts, turns some residents to freelancing and some away
    # from it: the month's freelancer income is that of the residents paid as freelancers (gig pay), not
    # of whoever freelances when it is collected (a new freelancer's month was a benefit's or nothing).
    from sim.economy.population import FREELANCER
    compute = metrics.compute

    model = LifeCircleModel(scenario=small_scenario(**{"years": 0.1, "population.residents": 4000}), seed=5,
                            create_agents=False)
    model.run_for(model.days_total)
    pop = model.population
    paid, now = pop.paid_as == FREELANCER, pop.status == FREELANCER
    assert (paid != now).any()  # the labour market moved some
    got = compute(model, ["freelancer_income_mean", "income_mean_by_group"])
    assert got["freelancer_income_mean"] == pytest.approx(pop.income_last[paid].mean() / 100)
    assert got["income_mean_by_group.freelancers"] == pytest.approx(pop.income_last[paid].mean() / 100)
    assert got["freelancer_income_mean"] != pytest.approx(pop.income_last[now].mean() / 100)


def test_local_workers_income_is_that_of_those_in_shop_jobs_when_it_was_paid():
    # As for freelancers: the month end's labour market hires residents into shop jobs (and lays
    # some off) after the accounts, so the month's income of local workers is that of the residents
    # in shop jobs when it was paid (a resident hired then brought the income of a job seeker; one
    # laid off, a month's wage).
    model = LifeCircleModel(scenario=small_scenario(**{"years": 0.1, "population.residents": 4000}), seed=5,
                            create_agents=False)
    model.run_for(model.days_total)
    pop = model.population
    paid, now = pop.paid_local, pop.employer >= 0
    assert (paid != now).any()  # the labour market moved some
    got = metrics.compute(model, ["income_mean_by_group"])["income_mean_by_group.local_workers"]
    assert got == pytest.approx(pop.income_last[paid].mean() / 100)
    assert got != pytest.approx(pop.income_last[now].mean() / 100)
