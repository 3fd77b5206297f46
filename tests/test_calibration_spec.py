"""Calibration files (issue 13): validated like scenarios -- one message naming the file, the key, the
value and what is allowed, exit status 2 -- and the shipped calibrations cite a source for every
observed value."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.calibration import calibration_from_dict, load_calibration
from sim.calibration.priors import frozen, pyabc_prior, support
from sim.scenario import WARMUP_YEARS, ScenarioError

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
SHIPPED = sorted((REPO / "scenarios" / "calibration").glob("*.toml"))
LIFECIRCLE = [sys.executable, "-m", "sim.cli"]


def base_dict(**changes: object) -> dict:
    """A small valid calibration, with top-level ``changes``."""
    data = {
        "name": "t", "scenario": str(BASELINE), "seed": 3,
        "overrides": {"population.residents": 2000, "city.blocks_x": 6, "city.blocks_y": 6},
        "simulation": {"warmup_years": 1.0, "adjust_years": 0.5, "measure_years": 1.0, "survival_from_year": 0.5,
                       "settled_seeds": 2},
        "parameters": {"economy.initial_knowledge": {"prior": "uniform", "low": 0.2, "high": 1.0}},
        "targets": {"unemployment": {"statistic": "mean", "indicator": "unemployment_rate", "observed": 0.052,
                                     "tolerance": 0.005, "source": "NBS 2023"}},
        "abc": {"population_size": 10}, "stop": {"max_generations": 2},
    }
    data.update(copy.deepcopy(changes))
    return data


def with_parameter(key: str, prior: dict) -> dict:
    return base_dict(parameters={key: prior})


def with_target(target: dict) -> dict:
    return base_dict(targets={"t1": {"observed": 1.0, "tolerance": 0.1, "source": "x", **target}})


def test_a_valid_calibration_loads_with_its_derived_settings():
    spec = calibration_from_dict(base_dict(), source="cal.toml")
    base = spec.base_scenario()
    # A particle runs adjust_years + measure_years after the settled start of warmup_years.
    assert base.population.residents == 2000 and base.warmup_years == 1.0 and base.years == 1.5
    assert "unemployment_rate" in base.output.indicators and "merchants_open" in base.output.indicators
    assert spec.observed() == {"unemployment": 0.052}
    # The fingerprint follows what decides the posterior, not the stopping rule.
    more = calibration_from_dict(base_dict(stop={"max_generations": 9}), source="cal.toml")
    assert more.fingerprint() == spec.fingerprint()
    other = calibration_from_dict(base_dict(seed=4), source="cal.toml")
    assert other.fingerprint() != spec.fingerprint()
    starts = calibration_from_dict(base_dict(simulation={"settled_seeds": 3}), source="cal.toml")
    assert starts.fingerprint() != spec.fingerprint()
    # Settled starts take the scenario schema's warm-up unless the file says otherwise.
    assert starts.simulation.warmup_years == WARMUP_YEARS and starts.base_scenario().warmup_years == WARMUP_YEARS


@pytest.mark.parametrize("data, expected", [
    (base_dict(colour="red"), "unknown key 'colour'"),
    (base_dict(scenario="nowhere.toml"), "no such scenario file"),
    (base_dict(parameters={}), "parameters"),
    (base_dict(targets={}), "targets"),
    (with_parameter("economy.initial_knowledge", {"low": 0.8, "high": 0.2}), "low (0.8) must be below high (0.2)"),
    (with_parameter("economy.initial_knowledge", {"low": 0.2, "high": 1.5}), "economy.initial_knowledge"),
    (with_parameter("economy.initial_knowledge", {"low": 0.2, "high": 1.5}), "<= 1.0"),
    (with_parameter("economy.entrants_per_month", {"prior": "loguniform", "low": 0.0, "high": 1.0}), "low > 0"),
    (with_parameter("economy.price_weight", {"prior": "normal", "low": 1.0, "high": 5.0}), "needs mean and sd"),
    (with_parameter("economy.price_weight", {"prior": "normal", "low": 1.0, "high": 5.0, "mean": 7.0, "sd": 1.0}),
     "must lie between"),
    (with_parameter("economy.price_weight", {"prior": "uniform", "low": 1.0, "high": 5.0, "sd": 1.0}),
     "mean and sd are for a normal prior"),
    (with_parameter("economy.price_weight", {"prior": "gamma", "low": 1.0, "high": 5.0}), "'uniform', 'loguniform' or 'normal'"),
    (with_parameter("city.kind", {"low": 0.0, "high": 1.0}), "not a number"),
    (with_parameter("economy.no_such_thing", {"low": 0.0, "high": 1.0}), "unknown scenario key"),
    (with_parameter("economy.closure_months", {"low": 2.5, "high": 6.0}), "whole-number ends"),
    (with_parameter("seed", {"low": 1.0, "high": 5.0}), "set by the calibration itself"),
    (base_dict(overrides={"years": 3.0}), "set by the calibration itself"),
    # The targets' indicators replaced it silently.
    (base_dict(overrides={"output.indicators": ["income_mean"]}),
     "'output.indicators' = ['income_mean'] is set by the calibration itself (output.indicators: the indicators"),
    (base_dict(overrides={"output": {"indicators": ["income_mean"]}}), "'output.indicators' = ['income_mean']"),
    (base_dict(overrides={"economy.initial_knowledge": 0.5}), "both an override and a calibrated parameter"),
    (base_dict(overrides={"population.residents": -5}), "population.residents"),
    (with_target({"statistic": "mean"}), "needs indicator"),
    (with_target({"statistic": "mean", "indicator": "unemployment_rate", "years": 1.0}), "takes no years"),
    (with_target({"statistic": "ratio", "indicator": "income_median"}), "needs denominator"),
    (with_target({"statistic": "mean", "indicator": "happiness"}), "not an indicator"),
    (with_target({"statistic": "mean", "indicator": "coverage_15"}), "not an indicator"),
    (with_target({"statistic": "mean", "indicator": "coverage_15.teleporter"}), "has no member 'teleporter'"),
    (with_target({"statistic": "outlets_per_10k", "categories": ["casino"]}), "not a service category"),
    (with_target({"statistic": "outlet_survival", "years": 5.0}), "cannot be observed"),
    (with_target({"statistic": "closure_rate", "tolerance": 0.0}), "tolerance"),
    (with_target({"statistic": "closure_rate", "source": ""}), "source"),
    (with_target({"statistic": "closure_rate", "source": "   "}), "source must say"),
    (with_target({"statistic": "closure_rate", "observed": float("nan")}), "finite"),
    (with_target({"statistic": "fortune"}), "statistic"),
    (base_dict(targets={"bad name!": {"statistic": "closure_rate", "observed": 1.0, "tolerance": 0.1, "source": "x"}}),
     "letters, digits"),
    (base_dict(simulation={"warmup_years": 1.0, "measure_years": 1.0, "survival_from_year": 3.0}), "survival_from_year"),
    (base_dict(simulation={"settled_seeds": 0}), "simulation.settled_seeds"),
    (base_dict(simulation={"adjust_years": -1.0}), "simulation.adjust_years"),
    (with_parameter("population.move_per_month", {"low": 0.001, "high": 0.01}), "not an economy.* key"),
    (base_dict(abc={"population_size": 1}), "abc.population_size"),
    (base_dict(abc={"distance": "manhattan"}), "'pnorm' or 'adaptive'"),
    (base_dict(stop={"max_generations": 0}), "stop.max_generations"),
])
def test_bad_calibration_is_one_clear_error(data, expected):
    with pytest.raises(ScenarioError) as err:
        calibration_from_dict(data, source="my_cal.toml")
    message = str(err.value)
    assert "my_cal.toml" in message and expected in message


def test_an_unknown_key_is_named_without_its_value():
    with pytest.raises(ScenarioError) as err:
        calibration_from_dict(base_dict(password="hunter2"), source="c.toml")
    assert "password" in str(err.value) and "hunter2" not in str(err.value)


# ----------------------------------------------------------------------------- property tests

FIELDS = {  # numeric scenario keys with their schema range
    "economy.initial_knowledge": (0.0, 1.0),
    "economy.walk_minute_weight": (0.0, 10.0),
    "economy.entry_hurdle": (0.0, 10.0),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(FIELDS)), a=st.floats(0, 1), b=st.floats(0, 1),
       shape=st.sampled_from(["uniform", "loguniform", "normal"]))
def test_priors_inside_the_schema_parse_and_leave_it_outside_fail(key, a, b, shape):
    lo_bound, hi_bound = FIELDS[key]
    low, high = sorted((lo_bound + a * (hi_bound - lo_bound), lo_bound + b * (hi_bound - lo_bound)))
    prior = {"prior": shape, "low": low, "high": high}
    if shape == "normal":
        prior.update(mean=(low + high) / 2, sd=max(high - low, 1e-3))
    valid = low < high and (shape != "loguniform" or low > 0)
    if valid:
        spec = calibration_from_dict(with_parameter(key, prior), source="p.toml")
        dist = frozen(spec.parameters[key])
        assert dist.pdf((low + high) / 2) > 0 and dist.cdf(low) == pytest.approx(0, abs=1e-9)
        assert dist.cdf(high) == pytest.approx(1, abs=1e-9)
        assert pyabc_prior(spec).pdf({key: (low + high) / 2}) == pytest.approx(dist.pdf((low + high) / 2))
        too_high = dict(prior, high=hi_bound + 1.0)
        with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
            calibration_from_dict(with_parameter(key, too_high), source="p.toml")
    else:
        with pytest.raises(ScenarioError, match="low"):
            calibration_from_dict(with_parameter(key, prior), source="p.toml")


@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.text(max_size=5),
                       st.booleans(), st.none(), st.lists(st.integers(), max_size=2)))
def test_any_tolerance_is_accepted_only_when_a_positive_finite_number(value):
    data = with_target({"statistic": "closure_rate", "tolerance": value})
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if ok:
        assert calibration_from_dict(data, source="q.toml").targets["t1"].tolerance == value
    else:
        with pytest.raises(ScenarioError) as err:
            calibration_from_dict(data, source="q.toml")
        assert "q.toml" in str(err.value) and "tolerance" in str(err.value)


def test_an_integer_key_s_uniform_prior_gives_each_whole_number_the_same_mass():
    spec = calibration_from_dict(with_parameter("economy.closure_months", {"low": 2, "high": 6}), source="i.toml")
    prior = spec.parameters["economy.closure_months"]
    assert spec.integer_keys() == {"economy.closure_months"}
    assert support(prior, integer=True) == (1.5, 6.5)
    dist = frozen(prior, integer=True)
    masses = [dist.cdf(k + 0.5) - dist.cdf(k - 0.5) for k in range(2, 7)]
    assert masses == pytest.approx([0.2] * 5)


# ----------------------------------------------------------------------------- shipped files and the CLI

def test_shipped_calibrations_load_and_cite_a_source_for_every_observed_value():
    assert SHIPPED, "scenarios/calibration/ ships at least one calibration"
    for path in SHIPPED:
        spec = load_calibration(path)
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        for name, target in raw["targets"].items():
            assert "observed" in target and len(target["source"]) > 40, (path.name, name)
        assert spec.abc.population_size >= 50 and spec.stop.max_generations >= 3


def test_a_bad_calibration_file_on_the_command_line_exits_2(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'scenario = "{BASELINE.as_posix()}"\n[parameters."economy.entry_hurdle"]\nlow = 2.0\nhigh = 1.0\n'
                    '[targets.u]\nstatistic = "mean"\nindicator = "unemployment_rate"\nobserved = 0.05\n'
                    'tolerance = 0.01\nsource = "x"\n', encoding="utf-8")
    proc = subprocess.run([*LIFECIRCLE, "calibrate", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "c.toml" in proc.stderr and "entry_hurdle" in proc.stderr and "must be below" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()
    for args, expected in ((["--workers", "0"], "--workers 0"), (["--scheduler", "localhost:8786"], "no scheme")):
        proc = subprocess.run([*LIFECIRCLE, "calibrate", str(SHIPPED[0]), "--out", str(tmp_path / "o"), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr


def test_an_out_folder_of_something_else_is_refused_before_any_cluster_starts(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    spec_path = tmp_path / "c.toml"
    import tomli_w

    spec_path.write_text(tomli_w.dumps(base_dict()), encoding="utf-8")
    proc = subprocess.run([*LIFECIRCLE, "calibrate", str(spec_path), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "notes.txt" in proc.stderr and "starting a local Dask" not in proc.stderr
