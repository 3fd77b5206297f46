"""Daily and monthly rules that once were wrong: each test here failed before its fix (issue 10).

They run small grids for a few simulated months, with the warm-up off where a rule is tested
from a known start.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import LifeCircleModel
from sim.economy.population import FREELANCER
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
