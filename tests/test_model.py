"""The model: Mesa agents as views, determinism, named streams, and behaviour that could fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents import Freelancer, Merchant, Resident, Retiree
from sim.model import LifeCircleModel
from sim.population import FREELANCER, RETIRED
from sim.run import run_scenario
from tests.conftest import small_scenario


def test_agents_are_mesa_agents_and_views_of_the_arrays(small):
    model = LifeCircleModel(scenario=small)
    pop = model.population
    types = model.agents_by_type
    n_res = sum(len(types[t]) for t in (Resident, Freelancer, Retiree) if t in types)
    assert n_res == pop.n
    assert len(types[Merchant]) == int(model.merchants.open.sum())
    assert len(types[Retiree]) == int((pop.status == RETIRED).sum())
    assert len(types[Freelancer]) == int((pop.status == FREELANCER).sum())
    resident = types[Resident].to_list()[0]
    idx = resident.resident_id
    assert resident.cash == model.ledger.resident_cash[idx] / 100
    assert resident.age == pop.age[idx]
    model.ledger.resident_cash[idx] += 12345
    assert resident.cash == model.ledger.resident_cash[idx] / 100  # a view, not a copy
    merchant = types[Merchant].to_list()[0]
    assert merchant.category in model.catalogue.names and merchant.is_open
    assert set(resident.known_outlets(merchant.category)) <= set(model.reach.outlet[model.catalogue.index(merchant.category), resident.home].tolist())


def test_slower_walkers_walk_longer():
    model = LifeCircleModel(scenario=small_scenario(**{"population.disabled_share": 0.3}))
    residents = model.agents_by_type[Resident].to_list() + model.agents_by_type[Retiree].to_list()
    by_home: dict[int, list] = {}
    for r in residents:
        by_home.setdefault(r.home, []).append(r)
    for group in by_home.values():
        for r in group:
            for other in group:
                if r.walk_speed_m_per_min < other.walk_speed_m_per_min and np.isfinite(r.walk_minutes_to("pharmacy")) and r.walk_minutes_to("pharmacy") > 0:
                    assert r.walk_minutes_to("pharmacy") > other.walk_minutes_to("pharmacy")
                    return
    pytest.fail("no home with residents of different walk speeds")


def test_time_advances_one_day_per_step_and_stops(small):
    model = LifeCircleModel(scenario=small)
    model.run_for(10)
    assert model.time == 10 and model.day == 10 and model.steps == 10
    model.run_for(model.days_total - 10)
    assert not model.running
    frame = model.timeseries()
    assert set(frame.columns) == {"day", "date", "month", "indicator", "value"}
    assert frame["month"].max() == 3  # 0.25 years: three month ends collected


def test_same_seed_same_frame_different_seed_differs(small):
    a = run_scenario(small, keep_model=False).timeseries
    b = run_scenario(small, keep_model=False).timeseries
    c = run_scenario(small, seed=small.seed + 1, keep_model=False).timeseries
    pd.testing.assert_frame_equal(a, b)
    assert not a["value"].equals(c["value"])


def test_baseline_uses_only_core_streams(small):
    model = LifeCircleModel(scenario=small)
    model.run_for(40)
    assert not [name for name in model.streams.used() if name.startswith("lever.")]


def test_needs_are_accounted_for(small):
    model = LifeCircleModel(scenario=small)
    model.run_for(20)
    t = model.tally.needs
    met = t["met_walk"] + t["met_delivery"] + t["met_automated"] + t["met_volunteer"]
    unmet = t["unmet_range"] + t["unmet_capacity"] + t["unmet_money"]
    assert (met + unmet == t["needs"]).all()  # every need is met or counted unmet, none dropped
    expected = model.population.n * 20 * (model.catalogue.visits_per_day * model.mean_need_factor).sum()
    assert t["needs"].sum() == pytest.approx(expected, rel=0.05)


def test_capacity_is_never_exceeded():
    model = LifeCircleModel(scenario=small_scenario(**{"population.residents": 4000}))
    for _ in range(15):
        model.step()
        assert (model.merchants.visits_today <= model.merchants.capacity).all()


def _closures(rent: float, seed: int) -> float:
    s = small_scenario(**{"economy.rent_multiplier": rent, "years": 1.0, "seed": seed})
    frame = run_scenario(s, keep_model=False).timeseries
    return frame[frame.indicator == "merchant_deaths"]["value"].sum()


def test_doubling_rents_raises_closures():
    seeds = [1, 2, 3]
    base = [_closures(1.0, s) for s in seeds]
    dear = [_closures(2.0, s) for s in seeds]
    assert all(d > b for d, b in zip(dear, base)), (base, dear)


def test_fewer_outlets_lower_coverage():
    dense = run_scenario(small_scenario(), keep_model=False).timeseries
    sparse = run_scenario(small_scenario(**{"city.commercial_share": 0.05}), keep_model=False).timeseries

    def final(frame, name):
        return frame[frame.indicator == name]["value"].iloc[-1]

    assert final(sparse, "mean_walk_minutes") > final(dense, "mean_walk_minutes")
