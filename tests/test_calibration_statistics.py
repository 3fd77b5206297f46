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
from sim.calibration.simulate import ParticleModel, fresh_streams, settle, simulate, start_seeds
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
    """A small calibration spec and one finished run of its scenario (1 warm-up year, half a year of
    adjustment, 1 measured)."""
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
    # Left truncation: spells observed from a later age are at risk only from then. At 2 the spell
    # entering at 3 is not at risk (1 of 4 closes: 3/4); at 4 it is (1 of 4 closes: 3/4 again).
    entry = np.array([0, 0, 0, 3, 1])
    durations, closed = np.array([5, 2, 6, 4, 4]), np.array([False, True, False, True, False])
    assert kaplan_meier(durations, closed, 4.5, entry) == pytest.approx(3 / 4 * 3 / 4)
    assert kaplan_meier(durations, closed, 3, entry) == pytest.approx(3 / 4)
    assert kaplan_meier(durations, closed, 4.5) == pytest.approx(4 / 5 * 3 / 4)  # without: all at risk from 0
    assert np.isnan(kaplan_meier(np.array([5]), np.array([False]), 2, np.array([3])))  # entered after the horizon


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(1, 50))
def test_kaplan_meier_without_censoring_is_the_share_still_open(durations, horizon):
    durations = np.array(durations)
    closed = np.ones(len(durations), dtype=bool)
    assert kaplan_meier(durations, closed, horizon) == pytest.approx((durations > horizon).mean())


def test_outlets_open_at_each_collection_are_the_registry_s_merchants_open(finished):
    spec, model = finished
    wide = measured(model, spec.simulation)
    days = wide.index.to_numpy()
    assert np.array_equal(open_at(model, days), wide["merchants_open"].to_numpy())
    every = [open_at(model, days, [name]) for name in model.catalogue.names]
    assert np.array_equal(np.sum(every, axis=0), open_at(model, days))


def test_every_statistic_of_a_finished_run(finished):
    spec, model = finished
    stats = summary_statistics(model, spec.targets, spec.simulation)
    every = measured(model)
    wide = measured(model, spec.simulation)
    assert list(wide.index) == list(every.index[6:])  # the adjustment's 6 monthly collections are not measured
    assert every.index[5] < 0.5 * 366 < every.index[6]
    persons = model.households.persons.sum()
    assert stats["density"] == pytest.approx(wide["merchants_open"].mean() / persons * 10_000)
    assert stats["unemployment"] == pytest.approx(wide["unemployment_rate"].mean())
    assert stats["median_over_mean"] == pytest.approx(wide["income_median"].mean() / wide["income_mean"].mean())
    assert stats["pharmacy_coverage"] == pytest.approx(wide["coverage_15.pharmacy"].mean())
    # The measured year runs from the day after the adjustment's last collection to the end.
    measured_days = model.days_total - (every.index[5] + 1)
    assert 360 <= measured_days <= 370
    assert stats["closures"] == pytest.approx(wide["merchant_deaths"].sum() / wide["merchants_open"].mean()
                                              / (measured_days / 365.25))
    assert 0 < stats["basic_density"] < stats["density"]
    durations, closed, entry = outlet_spells(model, spec.simulation)
    assert len(durations) > 0 and (durations >= entry).all() and (entry >= 0).all()
    # Observed from survival_from_year (0.5) after the start: no spell ends before it, and those opened
    # before it enter at the age they had then.
    opened_before = entry > 0
    assert opened_before.any() and (durations[closed] - entry[closed] > 0).all()
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


def test_a_particle_s_run_seed_comes_from_the_job_s_generator(tmp_path):
    spec = calibration_from_dict(base_dict(simulation={"warmup_years": 0.25, "adjust_years": 0.0, "measure_years": 0.25,
                                                       "survival_from_year": 0.0}), source="s.toml")
    particle = ParticleModel.of(spec, tmp_path)
    np.random.seed(5)
    first = particle({"economy.initial_knowledge": 0.5})
    np.random.seed(5)
    again = particle({"economy.initial_knowledge": 0.5})
    np.random.seed(6)
    other = particle({"economy.initial_knowledge": 0.5})
    assert first == again and first != other


# ----------------------------------------------------------------------------- settled starts

def settled_spec(**simulation: float):
    return calibration_from_dict(base_dict(
        targets=ALL_STATISTICS,
        simulation={"warmup_years": 1.0, "adjust_years": 0.25, "measure_years": 0.75, "survival_from_year": 0.0,
                    "settled_seeds": 3, **simulation}), source="s.toml")


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.isnan(a[k]) and np.isnan(b[k]) or a[k] == b[k] for k in a)


def test_a_particle_starts_from_its_seed_s_settled_checkpoint_exactly_as_if_it_had_warmed_up(tmp_path):
    spec = settled_spec()
    base = spec.base_scenario()
    start = start_seeds(spec.seed, 3)[1]
    # The settled start is computed once into the store, then read.
    assert settle(base, start, tmp_path) == "computed" and settle(base, start, tmp_path) == "checkpoint"
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len([f for f in files if f.endswith(".npz")]) == 1
    from_start = simulate(base, {}, start, 77, spec.targets, spec.simulation, store=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # a particle writes no checkpoint
    model = LifeCircleModel(scenario=base, seed=start, create_agents=False, checkpoints=False)  # warms up itself
    fresh_streams(model, 77)
    model.run_for(model.days_total)
    assert same(from_start, summary_statistics(model, spec.targets, spec.simulation))
    # Fresh noise: another run seed from the same start differs; the same one repeats.
    assert same(simulate(base, {}, start, 77, spec.targets, spec.simulation, store=tmp_path), from_start)
    assert not same(simulate(base, {}, start, 78, spec.targets, spec.simulation, store=tmp_path), from_start)


def test_a_particle_s_values_act_from_its_settled_start(tmp_path):
    spec = settled_spec()
    base = spec.base_scenario()
    start = start_seeds(spec.seed, 3)[0]
    forever = {"economy.closure_months": 120, "economy.exit_per_month": 0.0}
    stats = simulate(base, forever, start, 5, spec.targets, spec.simulation, store=tmp_path)
    assert stats["closures"] == 0.0 and stats["survival"] == 1.0  # settled with closures, none after the start
    many = simulate(base, {"economy.entrants_per_month": 1.5, "economy.entry_hurdle": 0.9}, start, 5,
                    spec.targets, spec.simulation, store=tmp_path)
    default = simulate(base, {}, start, 5, spec.targets, spec.simulation, store=tmp_path)
    assert many["density"] > default["density"]  # more and less demanding entrants open more outlets


def test_start_seeds_are_distinct_fixed_and_follow_the_calibration_seed():
    assert start_seeds(7, 8) == start_seeds(7, 8) and len(set(start_seeds(7, 8))) == 8
    assert start_seeds(7, 3) == start_seeds(7, 8)[:3]
    assert not set(start_seeds(7, 8)) & set(start_seeds(8, 8))
    assert all(0 <= s < 2**31 - 1 for s in start_seeds(7, 100))


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


def _many_draws() -> _Result:
    # pyabc's kernel and ParticleModel's seeds are many draws from the global generator; a short sleep
    # lets another thread's job run between them, as a Dask worker's threads would
    import time

    values = []
    for _ in range(20):
        values.append(float(np.random.random()))
        time.sleep(0.0005)
    return _Result(values[-1] + sum(values))


def test_a_worker_with_several_threads_gives_each_job_its_own_particle():
    # A --scheduler cluster's workers run several threads: jobs take turns on the process's global
    # generators, so each gives the particle it gives alone.
    from concurrent.futures import ThreadPoolExecutor

    pickled = cloudpickle.dumps(_many_draws)
    alone = [seeded_job(pickled, 1, [j], 7, 2)[0][0].value for j in range(16)]
    with ThreadPoolExecutor(4) as pool:
        threaded = [f.result()[0][0].value for f in [pool.submit(seeded_job, pickled, 1, [j], 7, 2) for j in range(16)]]
    assert threaded == alone


def test_a_worker_running_other_code_than_the_calibration_refuses_its_particles():
    from sim.calibration.simulate import ParticleModel

    stale = ParticleModel(spec=None, base=None, store=None, starts=(1,), engine="fedcba9876543210")
    with pytest.raises(RuntimeError, match="other lifecircle code .* than the calibration \\(engine fedcba9876543210\\)"):
        stale({})
