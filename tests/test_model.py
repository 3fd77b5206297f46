"""The model: Mesa agents as views, determinism, named streams, and behaviour that could fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents import Freelancer, Merchant, Resident, Retiree
from sim.model import LifeCircleModel
from sim.economy.population import FREELANCER, RETIRED
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
    retirees = types[Retiree].to_list()
    assert [r.pension for r in retirees] == [pop.pension[r.resident_id] / 100 for r in retirees]
    assert len({r.pension for r in retirees}) > 1  # each their own, not the catalogue's median
    assert {r.status for r in types[Resident].to_list()} <= {"employed", "unemployed", "owner", "out_of_labour_force"}
    merchant = types[Merchant].to_list()[0]
    assert merchant.category in model.catalogue.names and merchant.is_open
    assert set(resident.known_outlets(merchant.category)) <= set(model.reach.outlet[model.catalogue.index(merchant.category), resident.home].tolist())


def _views_in_step(model: LifeCircleModel) -> None:
    """One view per resident, of its status's class, and one per open outlet, no more."""
    pop = model.population
    kinds = {idx: type(agent) for idx, agent in model.resident_agents.items()}
    assert sorted(kinds) == list(range(pop.n))
    expected = {RETIRED: Retiree, FREELANCER: Freelancer}
    assert all(kind is expected.get(int(pop.status[idx]), Resident) for idx, kind in kinds.items())
    assert sorted(model.merchant_agents) == np.flatnonzero(model.merchants.open).tolist()
    assert len(model.agents) == pop.n + int(model.merchants.open.sum())


def test_agent_views_are_made_at_their_first_use_and_kept_in_step():
    model = LifeCircleModel(scenario=small_scenario(**{"years": 1.0}))
    classes = {RETIRED: 1, FREELANCER: 2}
    kind = lambda: np.array([classes.get(int(s), 0) for s in model.population.status])  # noqa: E731
    start_kinds, start_outlets = kind(), len(model.merchants.open)
    model.run_for(120)  # outlets open, residents change roles: no view follows them yet
    assert (kind() != start_kinds).any() and len(model.merchants.open) > start_outlets
    assert len(model._all_agents) == 0  # Mesa's own set: nothing made while nobody looked
    _views_in_step(model)  # made now, from this day's state
    made_kinds, made_outlets = kind(), model.merchants.open.copy()
    model.run_for(model.days_total - 120)  # more open, some close, roles change
    assert (kind() != made_kinds).any() and len(model.merchants.open) > len(made_outlets)
    assert not model.merchants.open[:len(made_outlets)][made_outlets].all()
    _views_in_step(model)  # and kept in step since
    assert not LifeCircleModel(scenario=small_scenario(), create_agents=False).agents


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
    # Expected needs: each resident's own rates (children's with their carer), 20 days.
    from sim.services.demand import need_groups

    group, rates = need_groups(model.population, model.households, model.catalogue)
    expected = 20 * np.array(rates)[group].sum(axis=0)
    assert t["needs"].sum() == pytest.approx(expected.sum(), rel=0.03)
    big = expected > 2000  # categories with enough needs for a per-category check
    assert np.allclose(t["needs"][big], expected[big], rtol=0.1)


def test_each_need_has_exactly_one_outcome_when_volunteers_help_the_poor():
    """Little cash (many cannot pay), many volunteers (who meet elder care that found no place)
    and only the nearest outlet to turn to (so those turned away stay turned away): a need the
    volunteers meet counts as met, not also as unmet."""
    model = LifeCircleModel(scenario=small_scenario(**{
        "economy.volunteer_share": 0.6, "population.residents": 6000, "population.initial_cash_months": 0.05,
        "economy.choice_candidates": 1}), create_agents=False)
    model.run_for(20)
    t = model.tally.needs
    assert t["met_volunteer"].sum() > 100 and t["unmet_money"].sum() > 1000 and t["unmet_capacity"].sum() > 100
    outcomes = model.collect()
    by = sum(v for k, v in outcomes.items() if k.startswith("needs_met_by."))
    assert by == outcomes["needs"]


def test_capacity_is_never_exceeded():
    model = LifeCircleModel(scenario=small_scenario(**{"population.residents": 4000}))
    for _ in range(15):
        model.step()
        assert (model.merchants.visits_today <= model.merchants.capacity).all()


def _survival(rent: float, seed: int) -> float:
    s = small_scenario(**{"economy.rent_multiplier": rent, "years": 2.0, "seed": seed})
    frame = run_scenario(s, keep_model=False).timeseries
    return frame[frame.indicator == "merchant_survival"]["value"].iloc[-1]


def test_doubling_rents_closes_more_of_the_outlets_open_at_the_start():
    # (Counting every closure would not do: dearer rents also deter entrants, and fewer entrants fail.)
    # Paired seeds: 25 starting outlets give survival in steps of 0.04, so a seed may tie. At these
    # settings 7 of 8 seeds lower survival by 0.04-0.20 and one ties (mean -0.09). The claim is a
    # one-sided sign test over the untied pairs at p < 0.05: with 7 untied pairs all 7 must lower it
    # (p = 0.008; 6 of 7 gives 0.0625), with 8, at least 7 of 8 (p = 0.035).
    from scipy.stats import binomtest

    seeds = range(1, 9)
    diff = np.array([_survival(2.0, s) - _survival(1.0, s) for s in seeds])
    untied = diff[np.abs(diff) > 1e-12]
    assert diff.mean() < 0, diff
    assert binomtest(int((untied < 0).sum()), len(untied), alternative="greater").pvalue < 0.05, diff


def test_fewer_outlets_lower_coverage():
    dense = run_scenario(small_scenario(), keep_model=False).timeseries
    sparse = run_scenario(small_scenario(**{"city.commercial_share": 0.05}), keep_model=False).timeseries

    def final(frame, name):
        return frame[frame.indicator == name]["value"].iloc[-1]

    assert final(sparse, "mean_walk_minutes") > final(dense, "mean_walk_minutes")


def test_word_of_mouth_teaches_each_rank_independently_with_the_monthly_probability():
    model = LifeCircleModel(scenario=small_scenario(**{"economy.discovery_per_month": 0.3}), create_agents=False)
    knows = model.population.knows
    knows[:] = 0
    model._learn_by_word_of_mouth()
    K = model.reach.k
    bits = (knows[..., None] >> np.arange(K, dtype=np.uint8)) & 1     # (N, C, K)
    n = knows.size
    assert np.allclose(bits.reshape(-1, K).mean(axis=0), 0.3, atol=4 * np.sqrt(0.21 / n))
    assert (knows >> K).max() == 0                                      # no bits beyond rank k
    both = (bits[..., 0] & bits[..., 1]).mean()                         # independence of ranks
    assert both == pytest.approx(0.09, abs=4 * np.sqrt(0.09 * 0.91 / n))
    again = knows.copy()
    model._learn_by_word_of_mouth()
    assert ((knows & again) == again).all()                             # nothing is forgotten


def test_access_indicators_on_home_groups_equal_their_per_resident_definitions():
    from sim.metrics import indicators as metrics

    model = LifeCircleModel(scenario=small_scenario(**{"population.disabled_share": 0.2}), create_agents=False)
    model.run_for(3)
    pop, basic = model.population, model.catalogue.basic_ids
    speed = model.speeds[pop.speed_class]
    minutes = model.nearest_m[pop.home] / speed[:, None]                  # (N, C), one row per resident
    covered = (minutes[:, basic] <= 15.0).all(axis=1)
    old = model.city.old_blocks[pop.home]
    expected = {
        "basic_coverage_15": covered.mean(),
        "basic_coverage_5": (minutes[:, basic] <= 5.0).all(axis=1).mean(),
        "basic_coverage_15_elderly": covered[pop.elderly].mean(),
        "basic_coverage_15_disabled": covered[pop.disabled].mean(),
        "basic_coverage_15_old_blocks": covered[old].mean(),
        "basic_category_coverage_15": (minutes[:, basic] <= 15.0).mean(),
        "mean_walk_minutes": np.minimum(minutes[:, basic], metrics.WALK_CAP_MINUTES).mean(),
        "effective_coverage_15": covered.mean(),  # no platform: walking only
    }
    got = metrics.compute(model, list(expected) + ["coverage_15"])
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12), name
    for c, cat in enumerate(model.catalogue.names):
        assert got[f"coverage_15.{cat}"] == pytest.approx((minutes[:, c] <= 15.0).mean(), rel=1e-12)
    assert np.array_equal(metrics.walk_minutes(model, basic), minutes[:, basic])
    assert 0 < pop.disabled.sum() and 0 < old.sum() < pop.n  # the masks select someone


def test_daily_collections_are_labelled_as_monthly_ones():
    # A collection labelled m covers month m - 1 (month 0 the first measured month), daily ones too: every
    # day of the first measured month is labelled 1, so the effects' periods read the days they name.
    model = LifeCircleModel(scenario=small_scenario(**{"years": 0.17, "output.collect_every": "day"}),
                            create_agents=False)
    model.run_for(model.days_total)
    ts = model.timeseries()
    days = ts.drop_duplicates("day")
    first = pd.Timestamp(model.date_of(0))
    months_in = (days["date"].dt.year - first.year) * 12 + days["date"].dt.month - first.month
    assert len(days) == model.days_total and (days["month"] == months_in + 1).all()


def test_the_warm_up_collects_monthly_whatever_the_outputs_ask(tmp_path):
    # Its checkpoint is shared by every output setting (the key leaves `output` out): a daily warm-up
    # loaded by a monthly run, or the reverse, gave warmup.parquet 36,500 rows or 1,200 (reviewer).
    scenario = small_scenario(**{"warmup_years": 1.0, "years": 1 / 12})
    monthly = LifeCircleModel(scenario=scenario, create_agents=False, checkpoints=False)
    daily = LifeCircleModel(scenario=scenario.with_updates({"output.collect_every": "day"}), create_agents=False,
                            checkpoints=False)
    pd.testing.assert_frame_equal(daily.warmup_timeseries(), monthly.warmup_timeseries())
    assert daily.warmup_timeseries()["month"].nunique() == len(daily.warmup_timeseries().drop_duplicates("day")) == 12
