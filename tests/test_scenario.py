"""Scenario files: validation errors name the file, key, value and what is allowed; extends works."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from sim.scenario import Scenario, ScenarioError, field_docs, load_scenario, parse_set_option
from tests.conftest import SCENARIOS


def write(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_baseline_loads_with_every_lever_off():
    s = load_scenario(SCENARIOS / "baseline.toml")
    assert s.name == "baseline"
    assert s.population.residents == 20000
    assert all(not getattr(s.levers, name).enabled for name in type(s.levers).model_fields)


def test_unknown_key_names_file_key_value_and_allowed(tmp_path):
    path = write(tmp_path, '[economy]\nrent_multiplyer = 2.0\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert str(path) in msg and "economy.rent_multiplyer" in msg and "2.0" in msg
    assert "rent_multiplier" in msg  # the allowed keys are listed


def test_wrong_type_is_an_error(tmp_path):
    path = write(tmp_path, '[population]\nresidents = "many"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "population.residents" in str(err.value) and "'many'" in str(err.value)


def test_out_of_range_says_the_range(tmp_path):
    path = write(tmp_path, '[population]\nelderly_share = 1.5\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "population.elderly_share" in str(err.value) and "<= 1.0" in str(err.value)


def test_bad_literal_lists_choices(tmp_path):
    path = write(tmp_path, '[city]\nkind = "hex"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "city.kind" in str(err.value) and "'grid'" in str(err.value)


def test_lever_end_before_start_is_an_error(tmp_path):
    path = write(tmp_path, '[levers.platform]\nenabled = true\nstart_month = 12\nend_month = 6\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "end_month" in str(err.value)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "years = = 2"))


def test_extends_merges_tables_and_loops_are_caught(tmp_path):
    write(tmp_path, 'name = "base"\nyears = 3.0\n[economy]\nrent_multiplier = 1.5\nwage_multiplier = 1.2\n', "base.toml")
    child = write(tmp_path, 'extends = "base.toml"\nname = "child"\n[economy]\nrent_multiplier = 2.0\n', "child.toml")
    s = load_scenario(child)
    assert (s.name, s.years, s.economy.rent_multiplier, s.economy.wage_multiplier) == ("child", 3.0, 2.0, 1.2)
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(ScenarioError, match="loops"):
        load_scenario(tmp_path / "a.toml")


def test_scenario_is_frozen_and_updates_validate():
    s = Scenario()
    with pytest.raises(Exception):
        s.years = 3.0  # type: ignore[misc]
    assert s.with_updates({"years": 3}).years == 3.0
    with pytest.raises(ScenarioError, match="unknown key 'economy.nope'"):
        s.with_updates({"economy.nope": 1})
    with pytest.raises(ScenarioError, match="years"):
        s.with_updates({"years": -1.0})


def test_set_option_parses_toml_values():
    assert parse_set_option("economy.rent_multiplier=2.0") == ("economy.rent_multiplier", 2.0)
    assert parse_set_option("levers.platform.enabled=true") == ("levers.platform.enabled", True)
    assert parse_set_option("city.path=data/x.osm.pbf") == ("city.path", "data/x.osm.pbf")
    with pytest.raises(ScenarioError):
        parse_set_option("years")


def test_resolved_toml_round_trips(tmp_path):
    s = load_scenario(SCENARIOS / "baseline.toml", updates={"economy.rent_multiplier": 1.7})
    text = s.to_toml(extra={"seed": s.seed})
    data = tomllib.loads(text)
    assert data["provenance"]["seed"] == s.seed
    del data["provenance"]
    again = load_scenario(write(tmp_path, text.split("[provenance]")[0]))
    assert again.content_hash() == s.content_hash()
    assert again.start_date == dt.date(2024, 1, 1)


def test_every_field_has_a_docstring():
    rows = field_docs()
    assert len(rows) > 80
    missing = [key for key, _, doc in rows if not doc]
    assert missing == []
