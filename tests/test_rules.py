"""Daily and monthly rules that once were wrong: each test here failed before its fix (issue 10).

They run small grids for a few simulated months, with the warm-up off where a rule is tested
from a known start.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.economy.accounts import merchant_costs, transfer_businesses
from sim.economy.entry import open_due
from sim.economy.labour import month_labour
from sim.model import LifeCircleModel
from sim.economy.population import FREELANCER, build_population
from tests.conftest import small_scenario


def _run_months(scenario, months: int, seed: int = 1) -> LifeCircleModel:
    return _run_months_more(LifeCircleModel(scenario=scenario, seed=seed, create_agents=False), months)


def _run_months_more(model: LifeCircleModel, months: int) -> LifeCircleModel:
    """Step ``model`` until its month counter reaches ``months`` (the month end just processed)."""
    while model.running and model.month < months:
        model.step()
    return model


def test_training_pay_gain_persists_after_the_flexible_employment_lever_ends():
    scenario = small_scenario(**{"years": 0.5, "population.residents": 4000,
                                 "economy.freelance_uptake_per_month": 0.3,
                                 "levers.flexible_employment.enabled": True,
                                 "levers.flexible_employment.end_month": 2,
                                 "levers.flexible_employment.training_pay_gain": 0.2})
    model = _run_months(scenario, 4)
    free_all_month = model.population.status == FREELANCER
    # Record each freelancer's gig pay at the next month end (tasks x pay per task x gain).
    gig = np.zeros(model.population.n)
    transfer = model.ledger.transfer

    def spy(source, target, amount, purpose):
        if purpose == "gig":
            np.add.at(gig, target[1], np.broadcast_to(amount, np.shape(target[1])))
        return transfer(source, target, amount, purpose)

    model.ledger.transfer = spy
    model = _run_months_more(model, 5)
    assert not model.levers.get("flexible_employment").acting
    pop = model.population
    free = free_all_month & (gig > 0)  # freelancers for the whole of month 4
    trained, untrained = free & pop.trained, free & ~pop.trained
    assert trained.sum() > 50 and untrained.sum() > 20
    ratio = gig[trained].mean() / gig[untrained].mean()
    assert ratio == pytest.approx(1.2, abs=0.04)


def test_crowding_counts_attempted_visits_so_excess_demand_is_seen():
    model = LifeCircleModel(scenario=small_scenario(), seed=2, create_agents=False)
    mer = model.merchants
    busy = int(np.argmax(np.where(mer.open, mer.capacity, 0)))
    mer.capacity[busy] = 2  # far below the visits it draws
    model.step()
    assert mer.visits_today[busy] == 2
    load = mer.load_today[busy]  # wanted visits over capacity: the turned away count too
    assert load > 5
    model.step()
    # Yesterday's load is what residents weigh today (capped at 2 in choice), and what an entrant
    # weighing this outlet as a rival at the day's end sees.
    assert mer.load_yesterday[busy] == load
    assert model.outlet_attraction()[0][busy] == pytest.approx(
        np.exp(-model.scenario.economy.price_weight * (mer.price[busy] / model.catalogue.spend_fen[mer.category[busy]] - 1)
               - model.scenario.economy.crowding_weight * 2.0), rel=1e-5)


def test_recent_graduate_flag_expires_after_three_years_and_new_graduates_arrive():
    scenario = small_scenario(**{"years": 4.0, "population.graduate_share": 0.05})
    model = LifeCircleModel(scenario=scenario, seed=3, create_agents=False)
    pop = model.population
    first = pop.graduate.copy()
    assert first.any() and (pop.graduated_month[first] <= 0).all()
    shares = [first.mean()]
    while model.running:
        model.step()
        if model.day % 365 == 0:
            shares.append(pop.graduate.mean())
    since = model.month - pop.graduated_month[pop.graduate]
    assert (since >= 0).all() and (since < 36).all()   # nobody counts as a recent graduate for longer
    assert not (pop.graduate & first & (pop.graduated_month <= 0)).any()  # every first graduation expired
    assert (pop.graduate & ~first).sum() > 0           # ... and new graduates came of age
    assert np.allclose(shares, 0.05, rtol=0.3), shares  # the share stays near the scenario's


def test_day_one_graduates_count_back_from_the_warm_ups_first_month():
    # A run starts in the warm-up's first month (negative). The day-one graduates graduated in the three
    # years before it, so they expire during the warm-up: the measured period starts with the scenario's
    # share of recent graduates, not with the day-one graduates still counted on top of three years of
    # new ones (twice the share, falling back over the first three measured years).
    scenario = small_scenario(**{"warmup_years": 3.0, "years": 0.1, "population.graduate_share": 0.05})
    start = -36  # the warm-up's first month
    built = LifeCircleModel(scenario=small_scenario(), seed=4, create_agents=False)  # its city and catalogue
    pop, _ = build_population(scenario, built.city, built.catalogue, np.random.default_rng(4), start)
    since = start - pop.graduated_month[pop.graduate]
    assert pop.graduate.any() and (since >= 0).all() and (since < 36).all()
    model = LifeCircleModel(scenario=scenario, seed=4, create_agents=False, checkpoints=False)
    pop = model.population
    assert model.month == 0 and model.warmup_source == "computed"
    assert (pop.graduated_month[pop.graduate] > start).all()  # every day-one graduation has expired
    assert pop.graduate.mean() == pytest.approx(0.05, rel=0.3)


def test_a_walk_in_turned_away_tries_the_next_outlet_with_room():
    # One busy store is made tiny and the others of its trade roomy: most of its customers are
    # turned away on the first try, then find another store they know in reach the same day.
    model = LifeCircleModel(scenario=small_scenario(**{"population.residents": 4000}), seed=2, create_agents=False)
    mer = model.merchants
    c = model.catalogue.index("convenience_store")
    trade = mer.open & (mer.category == c)
    busy = int(np.argmax(np.where(trade, mer.capacity, 0)))
    mer.capacity[trade] *= 10
    mer.capacity[busy] = 3
    cash = model.ledger.merchant_cash[trade].sum()
    model.step()
    t = model.tally.needs
    turned = int(round(mer.load_today[busy] * 3)) - 3  # wanted it, minus the three it served
    assert mer.visits_today[busy] == 3 and turned > 100
    assert (mer.visits_today <= mer.capacity).all()
    assert t["unmet_capacity"][c] < 0.1 * turned          # nearly all found a store with room
    assert model.ledger.merchant_cash[trade].sum() > cash  # ... and paid there
    model.ledger.check()


def test_a_founders_shop_taken_over_needs_its_trades_full_staff_again():
    # A resident founder works in the shop in place of one employee; the outside owner who takes the
    # shop over does not, so the next labour market hires the trade's full staff, as an investor-owned
    # shop of the trade has.
    scenario = small_scenario(**{"years": 1.0, "economy.startup_per_month": 0.05, "economy.exit_per_month": 0.0})
    model = LifeCircleModel(scenario=scenario, seed=5, create_agents=False)
    mer, staff = model.merchants, model.catalogue.staff
    while model.running and not ((mer.owner >= 0) & mer.open & ~mer.mobile).any():
        model.step()
    founded = np.flatnonzero((mer.owner >= 0) & mer.open & ~mer.mobile)
    assert len(founded) and (mer.staff_target[founded] == np.maximum(staff[mer.category[founded]] - 1, 0)).all()
    owners = mer.owner[founded].copy()
    transfer_businesses(model, founded)
    assert (mer.owner[founded] == -1).all() and (model.population.owned[owners] == -1).all()
    assert (mer.staff_target[founded] == staff[mer.category[founded]]).all()
    month_labour(model)
    assert (mer.staff_local[founded] + mer.staff_outside[founded] == staff[mer.category[founded]]).all()


def test_an_outlet_opened_this_month_pays_temporary_staff_for_the_days_it_traded():
    # Its jobs are first filled at the month end's labour market; until then temporary staff from
    # outside do them at the median shop wage, for the days it traded (it trades on its opening day).
    model = LifeCircleModel(scenario=small_scenario(), seed=2, create_agents=False)
    while model.date_of(model.day + 1).month == model.date.month:  # to the month's last day
        model.step()
    mer, wage, days = model.merchants, model.shop_wage_fen(), model.date.day
    shops = np.flatnonzero(mer.open & ~mer.mobile)[:3]
    mer.staff_target[shops], mer.staff_outside[shops] = 4, 1
    mer.opened_day[shops] = [model.day - 9, model.day - days + 1, model.day - days]  # 10 days, all, last month
    local = mer.staff_local[shops].astype(np.int64)
    got = merchant_costs(model, shops, np.zeros(3, dtype=np.int64))["wages_outside"]
    temporary = [round((3 - local[0]) * wage * 10 / days), (3 - local[1]) * wage, 0]
    assert got.tolist() == [wage + t for t in temporary]


def test_a_founder_whose_two_licences_fall_due_the_same_day_opens_one_business():
    model = LifeCircleModel(scenario=small_scenario(), seed=2, create_agents=False)
    pop, mer = model.population, model.merchants
    founder = int(np.flatnonzero((pop.status == FREELANCER) & (pop.owned < 0))[0])
    node = int(mer.node[np.flatnonzero(mer.open)[0]])
    for category in (0, 1):  # two ideas, both licensed today
        model.licence_queue.push(open_day=model.day, node=node, category=category, founder=founder,
                                 applied_day=model.day - 30)
    before = mer.n
    open_due(model)
    opened = np.arange(before, mer.n)
    assert len(opened) == 1 and mer.owner[opened[0]] == founder and pop.owned[founder] == opened[0]
    assert (mer.owner[mer.open] == founder).sum() == 1


def test_an_entrant_on_a_site_the_city_fitted_out_pays_no_start_up_cost():
    # A city-budget tender fits the site out from the circle's funds; its entrant weighed its costs
    # without a start-up cost, and pays none: its investors put in working capital only.
    from sim.economy.entry import running_costs_fen, startup_cost_fen

    model = LifeCircleModel(scenario=small_scenario(), seed=2, create_agents=False)
    mer = model.merchants
    node = int(mer.node[np.flatnonzero(mer.open)[0]])
    for fitted in (True, False):
        model.licence_queue.push(open_day=model.day, node=node, category=1, applied_day=model.day - 30,
                                 fitted=fitted)
    before = mer.n
    open_due(model)
    site, plain = before, before + 1
    working = np.round(running_costs_fen(model, np.array([site, plain])) * model.scenario.economy.opening_cash_months)
    assert mer.capital_in[site] == working[0]
    assert mer.capital_in[plain] == working[1] + startup_cost_fen(model)


def test_the_city_budget_tenders_its_sites_as_fitted_out():
    from tests.test_circles import _budget_scenario

    model = LifeCircleModel(scenario=_budget_scenario(11, 300.0), create_agents=False, checkpoints=False)
    queue, budget = model.licence_queue, model.levers.get("governance").budget
    assert len(budget.site_node) > 0  # tendered as month 0 opened
    tendered = {(n, c) for n, c, f in zip(queue.node, queue.category, queue.fitted) if f}
    assert tendered == set(zip(budget.site_node.tolist(), budget.site_category.tolist()))
