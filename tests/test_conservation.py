"""Money is conserved to the fen, whatever the scenario (property test over random scenarios)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.ledger import ConservationError, Ledger
from sim.model import LifeCircleModel
from tests.conftest import small_scenario


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    rent=st.floats(0.0, 4.0),
    wage=st.floats(0.2, 3.0),
    residents=st.integers(50, 1500),
    unemployment=st.floats(0.0, 0.5),
    platform=st.booleans(),
    lockers=st.booleans(),
    smart=st.booleans(),
)
def test_money_is_conserved(seed, rent, wage, residents, unemployment, platform, lockers, smart):
    scenario = small_scenario(**{
        "seed": seed, "economy.rent_multiplier": rent, "economy.wage_multiplier": wage,
        "population.residents": residents, "population.unemployment_rate": unemployment,
        "levers.platform.enabled": platform, "levers.lockers.enabled": lockers,
        "levers.smart_stores.enabled": smart, "years": 0.2,
    })
    model = LifeCircleModel(scenario=scenario, create_agents=False)
    start = model.ledger.total()
    model.run_for(model.days_total)  # the ledger checks every day and raises on any drift
    assert model.ledger.total() == start
    assert model.ledger.resident_cash.dtype == np.int64


def test_ledger_refuses_to_lose_money():
    ledger = Ledger(np.array([100, 200]))
    ledger.add_merchants(1)
    ledger.transfer(("resident", np.array([0, 1])), ("merchant", np.array([0, 0])), np.array([50, 70]), "purchase")
    assert ledger.merchant_cash.tolist() == [120] and ledger.resident_cash.tolist() == [50, 130]
    ledger.check()
    ledger.resident_cash[0] += 1  # money from nowhere
    try:
        ledger.check()
    except ConservationError as err:
        assert "not conserved" in str(err)
    else:
        raise AssertionError("conservation check missed a created fen")


def test_public_spending_is_booked_by_purpose():
    ledger = Ledger(np.array([0]))
    ledger.transfer("public_budget", "technology_vendors", 500, "lever.lockers.locker")
    ledger.transfer(("resident", np.array([0])), "public_budget", 0, "noise")
    assert ledger.spent_on("lever.lockers.") == 500
    assert ledger.spent_on("lever.platform.") == 0
