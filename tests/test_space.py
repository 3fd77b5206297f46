"""The Mesa street space, a day's trips, the shown day's animation, and what the view draws.

The space is a picture of the arrays: attaching it changes no result, every agent stands where
the arrays say, walks follow shortest paths at the walker's own speed, and the trips read from a
day are exactly the visits, deliveries and locker collections the day's tallies count.
"""

from __future__ import annotations

import numpy as np
import pytest
from mesa.discrete_space import Network
from scipy.sparse.csgraph import dijkstra

from sim.metrics import indicators as metrics
from sim.view.animation import COURIER_RIDE, RESIDENT_WALK, VENDOR_DRIVE, DayAnimation
from sim.view.day_trips import AUTOMATED, DELIVERY, WALK, step_day
from sim.view.live_run import LiveRun, scenario_title
from sim.view.map_layers import node_coverage
from sim.model import LifeCircleModel
from sim.view.outlet_states import CLOSED, CLOSING, NEW, OPEN, STRUGGLING, outlet_states
from sim.city.space import attach_space, move_to, sync_space
from tests.conftest import small_scenario

LEVERS_ON = {"levers.platform.enabled": True, "levers.lockers.enabled": True,
             "levers.mobile_vendors.enabled": True}


def _agents_in_cells(model) -> int:
    return sum(len(cell.agents) for cell in model.street_space.cells)


def test_every_agent_stands_in_its_cell_of_a_mesa_network():
    model = LifeCircleModel(scenario=small_scenario())
    assert "grid" not in vars(model)  # nothing until a view asks
    space = attach_space(model)
    assert isinstance(model.grid, Network) and len(space.cells) == model.city.graph.shape[0]
    assert _agents_in_cells(model) == len(model.agents)
    for idx, agent in list(model.resident_agents.items())[::97]:
        assert agent.cell.coordinate == model.population.home[idx]
    for m, agent in model.merchant_agents.items():
        assert agent.cell.coordinate == model.merchants.node[m]
    assert np.allclose(space.cells[5].position, model.city.node_xy[5])


def test_the_space_and_the_views_draws_change_no_result():
    plain = LifeCircleModel(scenario=small_scenario(**LEVERS_ON))
    shown = LiveRun(small_scenario(**LEVERS_ON), walkers=200)
    for _ in range(40):
        plain.step()
    shown.step(40)
    assert shown.model.ledger.resident_cash.tolist() == plain.ledger.resident_cash.tolist()
    assert shown.model.timeseries().equals(plain.timeseries())


def test_agents_follow_outlets_that_open_close_and_move():
    from sim.economy.accounts import close_merchants

    run = LiveRun(small_scenario(**LEVERS_ON, years=0.5), walkers=50)
    run.step(65)
    model = run.model
    close_merchants(model, model.merchants.open_ids()[:3])  # the model's own closure rule's effects
    run.step(30)
    assert model.merchants.mobile.any() and (~model.merchants.open).sum() >= 3  # vendors, and closures
    for m, agent in model.merchant_agents.items():
        assert agent.cell.coordinate == model.merchants.node[m]
    for m in np.flatnonzero(~model.merchants.open):
        assert int(m) not in model.merchant_agents
    assert _agents_in_cells(model) == len(model.agents)


def test_a_path_is_a_shortest_walk_along_the_streets():
    model = LifeCircleModel(scenario=small_scenario())
    space = attach_space(model)
    graph = model.city.graph
    for start, end in ((0, 48), (3, 40), (17, 17)):
        nodes, metres = space.path(start, end)
        assert nodes[0] == start and nodes[-1] == end
        assert all(graph[a, b] > 0 for a, b in zip(nodes[:-1], nodes[1:]))  # neighbours along a street
        expected = dijkstra(graph, indices=start)[end]
        assert metres[-1] == pytest.approx(expected) and np.all(np.diff(metres) >= 0)


def test_trips_read_from_a_day_are_exactly_what_the_day_counted():
    model = LifeCircleModel(scenario=small_scenario(**LEVERS_ON))
    for _ in range(35):
        model.step()  # lockers installed, the platform acting
    needs = model.tally.needs
    before = {k: needs[k].sum() for k in ("met_walk", "met_delivery", "met_automated")}
    trips = step_day(model)  # everyone
    assert trips.count(WALK) == needs["met_walk"].sum() - before["met_walk"] > 0
    assert trips.count(DELIVERY) == needs["met_delivery"].sum() - before["met_delivery"] > 0
    assert trips.count(AUTOMATED) == needs["met_automated"].sum() - before["met_automated"] > 0
    walks = trips.kind == WALK
    assert np.array_equal(trips.place[walks], model.merchants.node[trips.outlet[walks]])
    assert np.array_equal(trips.home, model.population.home[trips.resident])
    lockers = model.levers.get("lockers")
    automated = trips.kind == AUTOMATED
    assert np.isin(trips.place[automated], np.concatenate([lockers.locker_nodes, lockers.vending_nodes])).all()
    sample = np.arange(0, model.population.n, 7)
    some = step_day(model, sample)
    assert np.isin(some.resident, sample).all() and 0 < len(some) < len(trips)


def test_a_shown_day_moves_agents_along_their_paths_at_their_own_speed_and_home_again():
    run = LiveRun(small_scenario(**LEVERS_ON), walkers=400)
    run.step(35)
    model, animation = run.model, run.animation
    kinds = {leg.kind for leg in animation.legs}
    assert RESIDENT_WALK in kinds and COURIER_RIDE in kinds
    walk = next(leg for leg in animation.legs if leg.kind == RESIDENT_WALK and len(leg.nodes) > 4)
    agent = model.resident_agents[walk.agent]
    speed = agent.walk_speed_m_per_min
    half = len(walk.nodes) // 2
    _, metres = run.space.path(walk.nodes[0], walk.nodes[half - 1])
    assert walk.minutes[half - 1] - walk.minutes[0] == pytest.approx(metres[-1] / speed)
    middle = (walk.minutes[1] + walk.minutes[-2]) / 2
    assert animation.place_at(middle) > 0
    assert agent.cell.coordinate in walk.nodes and agent.cell.coordinate == walk.node_at(middle)
    assert animation.place_at(None) == 0
    assert agent.cell.coordinate == model.population.home[walk.agent]
    assert _agents_in_cells(model) == len(model.agents)
    payload = animation.payload()
    assert len(payload["offset"]) == len(animation.legs) + 1 and payload["offset"][-1] == len(payload["nodes"])
    # One trip at a time: an agent with several trips sets out on the next once back from the last.
    by_agent: dict[tuple[bool, int], list[tuple[float, float]]] = {}
    for leg in animation.legs:
        by_agent.setdefault((leg.kind == VENDOR_DRIVE, leg.agent), []).append((leg.minutes[0], leg.minutes[-1]))
    several = [spans for spans in by_agent.values() if len(spans) > 1]
    assert several  # residents with more than one trip that day
    for spans in several:
        for (_, end), (begin, _) in zip(spans, spans[1:]):
            assert begin >= end


def test_move_to_is_how_an_agent_changes_cell():
    model = LifeCircleModel(scenario=small_scenario())
    attach_space(model)
    agent = model.resident_agents[0]
    move_to(agent, 10)
    assert agent in model.street_space.cells[10].agents and agent.cell.coordinate == 10
    sync_space(model)  # an agent out on the streets keeps its cell until the day brings it home
    assert agent.cell.coordinate == 10


def test_outlet_states_follow_the_closure_rule():
    model = LifeCircleModel(scenario=small_scenario())
    for _ in range(40):
        model.step()
    mer, closure = model.merchants, model.scenario.economy.closure_months
    a, b, c, d = mer.open_ids()[:4]
    mer.months_losing[[a, b, c, d]] = [0, 1, closure - 1, closure - 1]
    model.ledger.merchant_cash[[c, d]] = [-100, 100]
    mer.opened_day[a] = model.day - 3
    ids, state = outlet_states(model)
    by_id = dict(zip(ids.tolist(), state.tolist()))
    assert (by_id[a], by_id[b], by_id[c], by_id[d]) == (NEW, STRUGGLING, CLOSING, STRUGGLING)
    mer.open[b], mer.closed_day[b] = False, model.day - 1
    ids, state = outlet_states(model)
    assert dict(zip(ids.tolist(), state.tolist()))[b] == CLOSED
    assert OPEN in state


def test_map_layers_average_to_the_access_indicators():
    model = LifeCircleModel(scenario=small_scenario(**{"levers.platform.enabled": True}))
    for _ in range(3):
        model.step()
    weights = model.residents_at_node
    lived = weights > 0
    walk = node_coverage(model)
    effective = node_coverage(model, delivery=True)
    assert np.average(walk[lived], weights=weights[lived]) == pytest.approx(metrics.basic_coverage(model, 15.0))
    assert np.average(effective[lived], weights=weights[lived]) == pytest.approx(metrics.effective_coverage_15(model))
    assert np.isnan(walk[~lived]).all()


def test_a_live_run_says_what_is_on_and_compares_with_the_previous_run():
    baseline = LiveRun(small_scenario(), walkers=30)
    assert scenario_title(baseline.scenario, "X").endswith("every lever off (baseline)")
    baseline.step(40)
    record = baseline.record()
    policy = LiveRun(small_scenario(**{"levers.platform.enabled": True, "levers.platform.online_share": 0.25}),
                     walkers=30, city=baseline.model.city)
    assert "Online-offline platform (needs ordered online: 25.0 %)" in policy.title
    assert policy.model.city is baseline.model.city
    policy.step(40)
    rows = {row["name"]: row for row in policy.headline(record)}
    assert "previous" in rows["basic_coverage_15"]
    layers = policy.layers(mode="effective", previous=record, star=3)
    n = policy.model.city.graph.shape[0]
    assert len(layers["coverage"]) == len(layers["previous"]) == n
    assert layers["star"] == policy.model.population.home[3]
    panels, months = policy.panels(record)
    assert any(s["dashed"] for s in panels[0]["series"]) and months[0] == "2024-01"
