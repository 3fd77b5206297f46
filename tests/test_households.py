"""Households, incomes, labour flows and budgets (issue 11): how households are drawn, what members
share, and the settled baseline against the cited targets in docs/calibration.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.economy.households import Households, draw_households, pool_cash
from sim.economy.ledger import Ledger
from sim.model import LifeCircleModel
from sim.economy.population import OUT_OF_LABOUR
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS, small_scenario

ROOT = Path(__file__).resolve().parents[1]
CENSUS = [0.254, 0.297, 0.210, 0.132, 0.062, 0.045]


def test_households_follow_the_census_sizes_and_hold_exactly_the_adults():
    rng = np.random.default_rng(4)
    adults, young, school = draw_households(50_000, CENSUS, 0.27, 0.31, rng)
    assert adults.sum() == 50_000 and (adults >= 1).all()
    size = np.minimum(adults + young + school, 6)
    observed = np.bincount(size, minlength=7)[1:]
    assert stats.chisquare(observed, np.array(CENSUS) / sum(CENSUS) * observed.sum()).pvalue > 1e-3
    children = young.sum() + school.sum()
    assert children / adults.sum() == pytest.approx(0.27, rel=0.03)
    assert young.sum() / children == pytest.approx(0.31, rel=0.05)
    assert (young + school)[adults + young + school == 1].sum() == 0  # one-person households are adults


def test_residents_live_together_by_household_in_home_order_with_a_working_age_carer():
    model = LifeCircleModel(scenario=small_scenario(**{"population.residents": 3000}), create_agents=False)
    pop, hh = model.population, model.households
    assert np.array_equal(pop.household, np.repeat(np.arange(hh.n), hh.adults))
    assert np.array_equal(pop.home, hh.home[pop.household]) and (np.diff(pop.home) >= 0).all()
    with_children = (hh.young_children + hh.school_children) > 0
    has_working_age = np.maximum.reduceat((~pop.elderly).astype(int), hh.first[:-1]).astype(bool)
    assert not pop.elderly[hh.carer[with_children & has_working_age]].any()
    # The children's needs are their carer's: only carers of children have childcare or class needs.
    c = model.catalogue.index("childcare")
    rates = np.array(model.need_rates.slot_table)  # noqa: F841 - the tables exist per group
    from sim.services.demand import need_groups

    group, group_rates = need_groups(pop, hh, model.catalogue)
    has_childcare = np.array(group_rates)[group][:, c] > 0
    carers = np.zeros(pop.n, dtype=bool)
    carers[hh.carer[hh.young_children > 0]] = True
    assert np.array_equal(has_childcare, carers)
    share_outside = (pop.status[~pop.elderly] == OUT_OF_LABOUR).mean()
    assert share_outside == pytest.approx(0.2, abs=0.03)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_pooling_shares_a_household_s_cash_equally_and_keeps_its_total(sizes, seed):
    rng = np.random.default_rng(seed)
    adults = np.array(sizes)
    first = np.concatenate([[0], np.cumsum(adults)])
    n = int(adults.sum())
    hh = Households(first=first, home=np.zeros(len(adults), dtype=np.int32), young_children=np.zeros(len(adults), dtype=np.int32),
                    school_children=np.zeros(len(adults), dtype=np.int32), carer=first[:-1].copy(),
                    property_income=np.zeros(len(adults), dtype=np.int64),
                    of_resident=np.repeat(np.arange(len(adults)), adults))
    ledger = Ledger(rng.integers(-5_000, 1_000_000, size=n))
    before = hh.total(ledger.resident_cash).copy()
    pool_cash(ledger, hh)
    assert np.array_equal(hh.total(ledger.resident_cash), before)
    spread = np.maximum.reduceat(ledger.resident_cash, first[:-1]) - np.minimum.reduceat(ledger.resident_cash, first[:-1])
    assert (spread <= 1).all()  # equal shares, up to a fen of remainder
    ledger.check()


# ----------------------------------------------------------------------------- the settled baseline

def _targets() -> dict[str, tuple[float, float]]:
    """The target table of docs/calibration.md ("Targets of the settled baseline")."""
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    section = text[text.index("### Targets of the settled baseline"):]
    rows = re.findall(r"^\| (\w+) \| ([\d.]+) \| ([\d.]+) \|", section, flags=re.M)
    return {name: (float(low), float(high)) for name, low, high in rows}


SETTLED_BASELINE_SEEDS = (1, 2, 3)
"""Seeds of the settled baseline run here (their warm-ups start in the background: conftest)."""


@pytest.fixture(scope="module")
def settled(settled_baseline_checkpoints):
    """Three seeds of the baseline grid, two measured years after the default warm-up (its settled
    starts shared with the other tests of the settled baseline)."""
    out = {}
    for seed in SETTLED_BASELINE_SEEDS:
        model = LifeCircleModel(scenario=load_scenario(SCENARIOS / "baseline.toml", updates={"years": 2.0}), seed=seed,
                                create_agents=False, checkpoints=settled_baseline_checkpoints)
        model.run_for(model.days_total)
        out[seed] = model.timeseries().pivot(index="month", columns="indicator", values="value")
    return out


def _measure(wide) -> dict[str, float]:
    return {
        "income_gini": wide["income_gini"].mean(),
        "median_over_mean": (wide["income_median"] / wide["income_mean"]).mean(),
        "unemployment_rate": wide["unemployment_rate"].mean(),
        "income_mean_monthly_change": wide["income_mean"].pct_change().abs().max(),
        "service_spending": wide["service_spending"].mean(),
        "income_mean": wide["income_mean"].mean(),
    }


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_settled_baseline_meets_the_cited_targets(settled, seed):
    targets = _targets()
    assert set(targets) == {"income_gini", "median_over_mean", "unemployment_rate", "income_mean_monthly_change",
                            "service_spending", "income_mean"}
    measured = _measure(settled[seed])
    for name, (low, high) in targets.items():
        assert low <= measured[name] <= high, (name, measured[name], (low, high))


@pytest.mark.slow
def test_budgets_bind_for_the_poorest_households(settled):
    for wide in settled.values():
        assert wide["needs_met_by.unmet_money"].mean() > 0
        assert (wide["low_income_needs_met_share"] < wide["needs_met_share"] - 0.05).all()
        q = [wide[f"income_quintile.q{i}"].mean() for i in range(1, 6)]
        assert q == sorted(q) and q[4] / q[0] > 4  # the richest fifth has several times the poorest's income


def test_day_one_cash_is_the_household_s_expected_income_shared_out_equally(monkeypatch):
    # Each resident brings initial_cash_months of their own expected income -- pension and wage, gig
    # pay, an insured job seeker's benefit, nothing outside the labour force or uninsured -- and the
    # household shares it out equally (remainders to the first members). Before, everyone not retired,
    # freelancing or unemployed started with two months of the median outside wage.
    from sim.economy.population import EMPLOYED, FREELANCER, UNEMPLOYED

    seen = {}
    open_day_one = LifeCircleModel._open_day_one

    def opening(self):  # the residents as the first day finds them (its outlets then hire some)
        seen.update({name: getattr(self.population, name).copy() for name in ("status", "wage", "pension", "benefit_left")})
        open_day_one(self)

    monkeypatch.setattr(LifeCircleModel, "_open_day_one", opening)
    model = LifeCircleModel(scenario=small_scenario(**{"warmup_years": 0.0}), seed=4, create_agents=False)
    hh, money, econ = model.households, model.catalogue.money, model.scenario.economy
    pop = type("Before", (), seen)
    expected = (pop.pension + np.where(pop.status == EMPLOYED, pop.wage, 0)
                + np.where(pop.status == FREELANCER, econ.gig_tasks_per_month * money["gig_task"], 0)
                + np.where((pop.status == UNEMPLOYED) & (pop.benefit_left > 0), money["unemployment_benefit"], 0))
    months = model.scenario.population.initial_cash_months
    totals = hh.total(np.round(expected * months).astype(np.int64))
    cash = model.ledger.resident_cash
    assert np.array_equal(hh.total(cash), totals)
    for h in range(0, hh.n, max(hh.n // 50, 1)):
        members = cash[hh.first[h]:hh.first[h + 1]]
        assert members.max() - members.min() <= 1 and (np.diff(members) <= 0).all()
    outside_only = [h for h in range(hh.n) if (pop.status[hh.first[h]:hh.first[h + 1]] == OUT_OF_LABOUR).all()
                    and not pop.pension[hh.first[h]:hh.first[h + 1]].any()]
    assert outside_only and all(cash[hh.first[h]:hh.first[h + 1]].sum() == 0 for h in outside_only)
