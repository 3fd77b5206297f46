"""Summary statistics of a calibration (issue 13): known answers, agreement with the indicator
registry, the values particles apply, and the seeding of pyabc's jobs."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calibration import calibration_from_dict
from sim.calibration.priors import apply_value, scenario_values
from sim.calibration.sampler import job_seed, seeded_job
from sim.calibration.simulate import ParticleModel
from sim.calibration.statistics import kaplan_meier, measured, open_at, outlet_spells, summary_statistics
from sim.model import LifeCircleModel
from tests.test_calibration_spec import base_dict

ALL_STATISTICS = {
    "density": {"statistic": "outlets_per_10k", "observed": 110.0, "tolerance": 10.0, "source": "x"},
    "basic_density": {"statistic": "outlets_per_10k", "categories": ["breakfast", "pharmacy"], "observed": 16.0,
                      "tolerance": 4.0, "source": "x"},
    "survival": {"statistic": "outlet_survival", "years": 0.5, "observed": 0.9, "tolerance": 0.1, "source": "x"},
    "closures": {"statistic": "closure_rate", "observed": 0.05, "tolerance": 0.02, "source": "x"},
    "unemployment": {"statistic": "mean", "indicator": "unemployment_rate", "observed": 0.052, "tolerance": 0.005,
                     "source": "x"},
    "median_over_mean": {"statistic": "ratio", "indicator": "income_median", "denominator": "income_mean",
                         "observed": 0.91, "tolerance": 0.05, "source": "x"},
    "pharmacy_coverage": {"statistic": "mean", "indicator": "coverage_15.pharmacy", "observed": 0.9,
                          "tolerance": 0.1, "source": "x"},
}


@pytest.fixture(scope="module")
def finished():
    """A small calibration spec and one finished run of its scenario (1 warm-up year, 1 measured)."""
    spec = calibration_from_dict(base_dict(targets=ALL_STATISTICS), source="s.toml")
    scenario = spec.base_scenario().with_updates({"output.indicators": ["all"]})
    model = LifeCircleModel(scenario=scenario, seed=11, create_agents=False, checkpoints=False)
    model.run_for(model.days_total)
    return spec, model


def test_kaplan_meier_known_answers():
    durations = np.array([1, 2, 2, 3, 5])
    closed = np.array([True, True, False, True, False])
    # at 1: 1 of 5 closes (0.8); at 2: 1 of 4 (0.6); at 3: 1 of 2 (0.3); the spell of 5 is censored.
    assert kaplan_meier(durations, closed, 4) == pytest.approx(0.3)
    assert kaplan_meier(durations, closed, 5) == pytest.approx(0.3)
    assert kaplan_meier(durations, closed, 1.5) == pytest.approx(0.8)
    assert np.isnan(kaplan_meier(durations, closed, 6))  # nobody followed that long
    assert kaplan_meier(np.array([1, 2]), np.array([True, True]), 6) == 0.0  # all closed: zero, not unknown
    assert np.isnan(kaplan_meier(np.array([]), np.array([], dtype=bool), 1))
    assert kaplan_meier(np.array([3, 4]), np.array([False, False]), 2) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(1, 50))
def test_kaplan_meier_without_censoring_is_the_share_still_open(durations, horizon):
    durations = np.array(durations)
    closed = np.ones(len(durations), dtype=bool)
    assert kaplan_meier(durations, closed, horizon) == pytest.approx((durations > horizon).mean())


def test_outlets_open_at_each_collection_are_the_registry_s_merchants_open(finished):
    spec, model = finished
    wide = measured(model)
    days = wide.index.to_numpy()
    assert np.array_equal(open_at(model, days), wide["merchants_open"].to_numpy())
    every = [open_at(model, days, [name]) for name in model.catalogue.names]
    assert np.array_equal(np.sum(every, axis=0), open_at(model, days))


def test_every_statistic_of_a_finished_run(finished):
    spec, model = finished
    stats = summary_statistics(model, spec.targets, spec.simulation)
    wide = measured(model)
    persons = model.households.persons.sum()
    assert stats["density"] == pytest.approx(wide["merchants_open"].mean() / persons * 10_000)
    assert stats["unemployment"] == pytest.approx(wide["unemployment_rate"].mean())
    assert stats["median_over_mean"] == pytest.approx(wide["income_median"].mean() / wide["income_mean"].mean())
    assert stats["pharmacy_coverage"] == pytest.approx(wide["coverage_15.pharmacy"].mean())
    assert stats["closures"] == pytest.approx(wide["merchant_deaths"].sum() / wide["merchants_open"].mean()
                                              / (model.days_total / 365.25))
    assert 0 < stats["basic_density"] < stats["density"]
    durations, closed = outlet_spells(model, spec.simulation)
    assert len(durations) > 0 and (durations >= 0).all()
    assert 0.0 <= stats["survival"] <= 1.0


def test_outlets_that_cannot_close_survive_and_none_close():
    spec = calibration_from_dict(base_dict(targets={k: ALL_STATISTICS[k] for k in ("survival", "closures")}),
                                 source="s.toml")
    forever = {"economy.closure_months": 120, "economy.exit_per_month": 0.0}
    model = LifeCircleModel(scenario=spec.base_scenario().with_updates(forever), seed=3, create_agents=False,
                            checkpoints=False)
    model.run_for(model.days_total)
    stats = summary_statistics(model, spec.targets, spec.simulation)
    assert stats == {"survival": 1.0, "closures": 0.0}


def test_sampled_values_are_applied_rounded_and_within_the_prior():
    spec = calibration_from_dict(base_dict(parameters={
        "economy.closure_months": {"low": 2, "high": 12},
        "economy.entry_hurdle": {"low": 0.9, "high": 1.6}}), source="s.toml")
    closure = spec.parameters["economy.closure_months"]
    assert apply_value("economy.closure_months", 1.51, closure, integer=True) == 2
    assert apply_value("economy.closure_months", 12.49, closure, integer=True) == 12
    assert apply_value("economy.closure_months", 1.5, closure, integer=True) == 2  # never below low
    values = scenario_values(spec, {"economy.closure_months": 6.7, "economy.entry_hurdle": 1.25})
    assert values == {"economy.closure_months": 7, "economy.entry_hurdle": 1.25}
    assert isinstance(values["economy.closure_months"], int)


def test_a_particle_s_run_seed_comes_from_the_job_s_generator():
    spec = calibration_from_dict(base_dict(simulation={"warmup_years": 0.25, "measure_years": 0.25,
                                                       "cohort_from_year": 0.0}), source="s.toml")
    particle = ParticleModel.of(spec)
    np.random.seed(5)
    first = particle({"economy.initial_knowledge": 0.5})
    np.random.seed(5)
    again = particle({"economy.initial_knowledge": 0.5})
    np.random.seed(6)
    other = particle({"economy.initial_knowledge": 0.5})
    assert first == again and first != other


class _Result:
    def __init__(self, value: float) -> None:
        self.value = value
        self.accepted = value < 0.5


def _draw() -> _Result:
    return _Result(float(np.random.random()))


def test_seeded_jobs_depend_on_seed_generation_and_job_id_only():
    pickled = cloudpickle.dumps(_draw)
    one = [r[0].value for r in seeded_job(pickled, 3, [7, 8, 9], 42, 2)]
    np.random.seed(999)  # whatever the worker's generator held before
    same = [r[0].value for r in seeded_job(pickled, 3, [7, 8, 9], 42, 2)]
    assert one == same
    assert [r[0].value for r in seeded_job(pickled, 3, [10, 11, 12], 42, 2)] != one
    assert [r[0].value for r in seeded_job(pickled, 3, [7, 8, 9], 42, 3)] != one
    assert [r[0].value for r in seeded_job(pickled, 3, [7, 8, 9], 43, 2)] != one
    batch = seeded_job(pickled, 3, [7, 8, 9], 42, 2)
    assert [r[2] for r in batch] == [7, 8, 9] and all(r[1] == r[0].accepted for r in batch)
    assert not np.array_equal(job_seed(1, 0, 0), job_seed(1, 0, 1))
