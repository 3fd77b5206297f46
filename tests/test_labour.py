"""The informal job match (``sim.economy.labour._informal_picks``): each vacancy, in turn, goes to the
nearest of the seekers its merchant hears of among those still available. Checked against the rule
written out plainly (the list of available seekers rebuilt for every vacancy, as the model once ran
it) on arbitrary inputs, ties in distance included; and the disability-priority lever's
recommended seekers matched before the others."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.economy.labour import INFORMAL_SEARCH, _informal_picks, _match, _match_in_turn
from sim.economy.population import UNEMPLOYED
from sim.model import LifeCircleModel
from tests.conftest import small_scenario


def _plainly(draws: np.ndarray, seeker_xy: np.ndarray, vacancy_xy: np.ndarray) -> np.ndarray:
    available = np.ones(len(seeker_xy), dtype=bool)
    picks = np.empty(len(draws), dtype=np.int64)
    for i in range(len(draws)):
        pool = np.flatnonzero(available)
        heard = pool[(draws[i, : min(draws.shape[1], len(pool))] * len(pool)).astype(np.int64)]
        d = np.abs(seeker_xy[heard] - vacancy_xy[i]).sum(axis=1)
        picks[i] = heard[int(np.argmin(d))]
        available[picks[i]] = False
    return picks


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.sampled_from([np.float64, np.float32]),
       st.booleans(), st.integers(1, INFORMAL_SEARCH + 5))
def test_informal_picks_follow_the_rule(seekers, seed, dtype, coarse, search):
    rng = np.random.default_rng(seed)
    vacancies = int(rng.integers(1, seekers + 1))
    # Coarse coordinates make many seekers equally near: the first heard of among them is picked.
    scale = 3 if coarse else 1e4
    seeker_xy = np.floor(rng.random((seekers, 2)) * scale).astype(dtype)
    vacancy_xy = np.floor(rng.random((vacancies, 2)) * scale).astype(dtype)
    draws = rng.random((vacancies, search))
    picks = _informal_picks(draws, seeker_xy, vacancy_xy)
    np.testing.assert_array_equal(picks, _plainly(draws, seeker_xy, vacancy_xy))
    assert len(set(picks.tolist())) == vacancies  # a seeker takes one job


def test_draws_near_one_and_the_last_seeker():
    # The largest draw below 1 picks the last available seeker; with one seeker left, it is taken.
    seeker_xy = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 1.0]])
    vacancy_xy = np.zeros((3, 2))
    draws = np.full((3, 2), np.nextafter(1.0, 0.0))
    np.testing.assert_array_equal(_informal_picks(draws, seeker_xy, vacancy_xy), [2, 1, 0])
    np.testing.assert_array_equal(_plainly(draws, seeker_xy, vacancy_xy), [2, 1, 0])


# ----------------------------------------------------------------------------- priority matching

@pytest.mark.parametrize("local_hiring", [False, True])
def test_recommended_seekers_are_matched_before_any_other(local_hiring):
    """Under the disability-priority lever the seekers it recommends take the local vacancies first,
    by the same rule among themselves (the nearest of those a merchant hears of, or under local
    hiring the nearest in reach). Putting them first in the queue alone did not do it: a merchant
    hears of seekers at random ranks, and the nearest in reach wins whatever the queue order."""

    def match(in_turn: bool) -> tuple[np.ndarray, np.ndarray]:
        model = LifeCircleModel(scenario=small_scenario(**{"levers.local_hiring.enabled": local_hiring}),
                                create_agents=False)
        seekers = np.flatnonzero(model.population.status == UNEMPLOYED)
        vacancies = model.merchants.open_ids()[:12]
        rng = np.random.default_rng(3)
        hired = _match_in_turn(model, vacancies, seekers, 5, rng) if in_turn else _match(model, vacancies, seekers, rng)
        return seekers[:5], hired["residents"]

    lever = LifeCircleModel(scenario=small_scenario(**{"levers.local_hiring.enabled": local_hiring}),
                            create_agents=False).levers.get("local_hiring")
    assert (lever is not None and lever.acting) == local_hiring  # match_nearby, or the informal match
    recommended, hired = match(True)
    assert len(hired) == 12 and set(recommended.tolist()) <= set(hired.tolist())
    recommended, hired = match(False)
    assert not set(recommended.tolist()) <= set(hired.tolist())  # the queue order alone: not first


def test_with_none_recommended_the_match_is_the_usual_one():
    """No lever (none recommended): the same hires and draws as :func:`_match` over every seeker."""
    runs = []
    for in_turn in (True, False):
        model = LifeCircleModel(scenario=small_scenario(), create_agents=False)
        seekers = np.flatnonzero(model.population.status == UNEMPLOYED)
        vacancies = model.merchants.open_ids()[:12]
        rng = np.random.default_rng(4)
        hired = _match_in_turn(model, vacancies, seekers, 0, rng) if in_turn else _match(model, vacancies, seekers, rng)
        runs.append((hired["residents"].tolist(), hired["unfilled"].tolist(), rng.random()))
    assert runs[0] == runs[1]
