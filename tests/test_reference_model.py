"""The per-agent reference model (``benchmarks/reference``) on its own: it builds its own world,
counts every need once, is reproducible, and runs on Mesa's clock."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.reference import Household, Merchant, ReferenceModel, Resident  # noqa: E402
from sim.model import LifeCircleModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

TINY = {"population.residents": 500, "city.blocks_x": 4, "city.blocks_y": 4, "years": 60 / 365,
        "warmup_years": 0.0, "economy.opening_cash_months": 0.5,
        **{f"levers.{name}.enabled": True for name in ("platform", "lockers", "siting")}}


def _tiny(**updates: object):  # noqa: ANN202 - a Scenario
    return load_scenario(ROOT / "scenarios" / "baseline.toml", updates={**TINY, **updates})


@pytest.fixture(scope="module")
def run() -> ReferenceModel:
    model = ReferenceModel(scenario=_tiny(), seed=5, observe_choices=True)
    model.run_for(model.days_total)  # Mesa's clock: one unit of model.time is one day
    return model


def test_it_runs_on_mesas_clock_and_stops_at_the_end(run: ReferenceModel) -> None:
    assert run.time == run.days_total == 60
    assert run.day == run.days_total and not run.running
    assert len(run.records) == 2  # January and February (2024: 31 + 29 days)


def test_every_need_has_exactly_one_outcome(run: ReferenceModel) -> None:
    for record in run.records:
        shares = sum(record[f"{k}_share"] for k in ("met_walk", "met_delivery", "met_automated", "met_volunteer",
                                                     "unmet_range", "unmet_capacity", "unmet_money"))
        assert shares == pytest.approx(1.0)
        assert record["needs"] > 0


def test_the_levers_act_and_the_choice_scores_are_recorded(run: ReferenceModel) -> None:
    assert sum(r["met_delivery_share"] for r in run.records) > 0   # the platform delivers
    assert sum(r["met_automated_share"] for r in run.records) > 0  # lockers and vending
    assert all(r["draws"] > 0 for r in run.records)


def test_agents_are_mesa_agents_of_three_kinds(run: ReferenceModel) -> None:
    kinds = Counter(type(a) for a in run.agents)
    assert kinds[Resident] == 500 and kinds[Household] > 0 and kinds[Merchant] == len(run.open_merchants()) > 0
    assert all(person in person.household.members for person in run.agents_by_type[Resident].to_list())


def test_residents_stand_at_home_and_outlets_at_their_node_in_mesas_street_space(run: ReferenceModel) -> None:
    assert all(person.cell is run.grid[person.home] for person in run.agents_by_type[Resident].to_list())
    merchants = run.agents_by_type[Merchant].to_list()
    assert all(merchant in merchant.cell.agents and merchant.cell is run.grid[merchant.node] for merchant in merchants)
    # Outlets that closed left the space with the model.
    in_cells = sum(isinstance(a, Merchant) for cell in run.grid.all_cells for a in cell.agents)
    assert in_cells == len(merchants)


def test_same_seed_same_run_other_seed_other_run() -> None:
    def months(seed: int) -> list[dict[str, float]]:
        model = ReferenceModel(scenario=_tiny(years=31 / 365), seed=seed)
        while model.running:
            model.step()
        return model.records

    assert months(3) == months(3)
    assert months(3) != months(4)


def test_it_walks_the_engines_streets_but_places_its_own_outlets() -> None:
    scenario = _tiny(years=1 / 365)
    reference = ReferenceModel(scenario=scenario, seed=8)
    engine = LifeCircleModel(scenario=scenario, seed=8, create_agents=False, checkpoints=False)
    assert (reference.city.commercial == engine.city.commercial).all()  # the seed's street network
    mine = Counter((m.node, m.category) for m in reference.open_merchants())
    theirs = Counter(zip(engine.merchants.node[engine.merchants.open].tolist(),
                         engine.merchants.category[engine.merchants.open].tolist()))
    assert sum(mine.values()) == sum(theirs.values())  # the same densities ...
    assert mine != theirs                               # ... drawn by each model itself


@pytest.mark.parametrize("viewed", [1, 3, 8])
def test_an_arriving_entrant_takes_the_best_of_the_premises_it_views(viewed: int) -> None:
    model = ReferenceModel(scenario=_tiny(years=1 / 365, **{"economy.sites_considered": viewed,
                                                          "levers.siting.enabled": False}), seed=11)
    differing = 0
    for category in range(model.catalogue.n):
        state = model.random.getstate()
        chosen = model.entry.site(category)
        model.random.setstate(state)
        seen = [model.random.choice(model.shop_nodes) for _ in range(viewed)]
        ratio = {node: model.entry.study(node, category)[0] / max(model.entry.study(node, category)[1], 1.0)
                 for node in seen}
        assert chosen in seen and ratio[chosen] == max(ratio.values())
        assert chosen == next(node for node in seen if ratio[node] == ratio[chosen])  # the first of equals
        differing += len(set(ratio.values())) > 1
    assert differing > 0 if viewed > 1 else differing == 0  # premises that differ were weighed
