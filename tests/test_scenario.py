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
    assert str(path) in msg and "economy.rent_multiplyer" in msg
    assert "rent_multiplier" in msg  # the allowed keys are listed


def test_unknown_key_is_named_without_its_value(tmp_path):
    # Issue 16, item 12: `extends` of any TOML file (a config with secrets, say) must not echo
    # the values of keys that are not scenario keys into an error message or a log.
    secrets = write(tmp_path, 'api_token = "s3cr3t-value"\n[economy]\npassword = "hunter2"\n', "secrets.toml")
    path = write(tmp_path, f'extends = "{secrets.name}"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert "unknown key 'api_token'" in msg and "unknown key 'economy.password'" in msg
    assert "s3cr3t" not in msg and "hunter2" not in msg


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


def test_a_stored_scenario_with_its_provenance_table_loads_as_written(tmp_path):
    """Issue 14: run/validate refused a run's own scenario.resolved.toml ("unknown key 'provenance'")."""
    s = load_scenario(SCENARIOS / "baseline.toml", updates={"economy.rent_multiplier": 1.7, "seed": 99})
    path = write(tmp_path, s.to_toml(extra={"seed": 99, "lifecircle_version": "x", "scenario_hash": "abc"}))
    again = load_scenario(path)
    assert again.content_hash() == s.content_hash() and again.seed == 99
    from sim.cli import main

    assert main(["validate", str(path)]) == 0  # `lifecircle validate` on a run's own resolved scenario
    bad = write(tmp_path, 'name = "x"\nprovenance = 3\n', "bad.toml")
    with pytest.raises(ScenarioError, match="key 'provenance' = 3: allowed: a table"):
        load_scenario(bad)


def test_every_field_has_a_docstring():
    rows = field_docs()
    assert len(rows) > 80
    missing = [key for key, _, doc in rows if not doc]
    assert missing == []


# ----------------------------------------------------------------------------- issue 16, item 10

@pytest.mark.parametrize("text, expected", [
    # A start date whose run would leave the calendar crashed the run after validate passed.
    ("start_date = 9999-12-01\n", "key 'start_date' = datetime.date(9999, 12, 1): allowed: <= 2200-12-31"),
    ("start_date = 1066-10-14\n", "allowed: >= 1900-01-01"),
    # Renovation months outside the run's possible months were accepted.
    ("[levers.renovation]\nmonths = [-1, 9999]\n", "key 'levers.renovation.months.0' = -1: allowed: >= 0"),
    ("[levers.renovation]\nmonths = [6, 9999]\n", "key 'levers.renovation.months.1' = 9999: allowed: <= 1200"),
    # No indicators: empty outputs with exit 0.
    ("[output]\nindicators = []\n", "key 'output.indicators' = []: allowed: at least 1 item"),
    # NaN was reported as "allowed: <= 100.0", which it is not the problem with.
    ("years = nan\n", "key 'years' = nan: allowed: a finite number"),
    ("[economy]\nrent_multiplier = inf\n", "key 'economy.rent_multiplier' = inf: allowed: a finite number"),
    # base_dir is set by the loader; in a file it was silently replaced.
    ('base_dir = "/etc"\n', "unknown key 'base_dir'"),
    # No vendor categories: validate passed and the run divided by zero; a repeat doubled a category's vendors.
    ("[levers.mobile_vendors]\nenabled = true\ncategories = []\n",
     "key 'levers.mobile_vendors.categories' = []: allowed: at least 1 item"),
    ('[levers.mobile_vendors]\ncategories = ["breakfast", "repair", "breakfast"]\n',
     "key 'levers.mobile_vendors.categories' = ['breakfast', 'repair', 'breakfast']: "
     "allowed: each category once (breakfast repeated)"),
    # A grid city ignored a district file (even a missing one) and its name, yet recorded them.
    ('[city]\npath = "nowhere.osm.pbf"\ndistrict = "My district"\n',
     "city.path = 'nowhere.osm.pbf', city.district = 'My district': read only for a real district"),
    ('[city]\npoi_crs = "bd09"\n', "city.poi_crs = 'bd09': read only for a real district (city.kind = 'osm')"),
    # Circles of kind "none" read no file: a missing one passed.
    ('[circles]\npath = "missing.geojson"\n',
     "circles.path = 'missing.geojson' with circles.kind = 'none', which reads no file"),
    ('[circles]\nkind = "grid"\npath = "c.csv"\n', "circles.path = 'c.csv' with circles.kind = 'grid'"),
])
def test_validation_gaps_are_errors(tmp_path, text, expected):
    path = write(tmp_path, f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n{text}')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_empty_scenario_file_is_an_error(tmp_path):
    for text in ("", "# only a comment\n\n"):
        with pytest.raises(ScenarioError, match="empty scenario file"):
            load_scenario(write(tmp_path, text))


def test_set_base_dir_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match="unknown key 'base_dir'"):
        load_scenario(SCENARIOS / "baseline.toml", updates={"base_dir": "/etc"})
    with pytest.raises(ScenarioError, match="unknown key 'base_dir'"):
        Scenario().with_updates({"base_dir": "/etc"})


def test_unknown_lever_category_is_found_by_validate(tmp_path, capsys):
    from sim.cli import main

    path = write(tmp_path, f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n'
                 '[levers.mobile_vendors]\nenabled = true\ncategories = ["breakfast", "fortune_telling"]\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "levers.mobile_vendors.categories" in err and "'fortune_telling'" in err and "breakfast" in err
    assert str(path) in err


def test_a_scenario_keeps_its_file_for_messages_through_updates_and_pickling():
    import pickle

    path = SCENARIOS / "baseline.toml"
    loaded = load_scenario(path)
    assert loaded.source == str(path.resolve()) and Scenario().source == "scenario"
    updated = loaded.with_updates({"years": 2})
    assert updated.source == loaded.source
    assert pickle.loads(pickle.dumps(updated)).source == loaded.source
    with pytest.raises(ScenarioError, match="<updates>"):  # a bad update is still blamed on the update
        loaded.with_updates({"years": -1.0})


@pytest.mark.parametrize("years, months, days", [(2.0, 24, 731), (0.5, 6, 182), (0.25, 3, 91), (0.1, 1, 31),
                                                 (0.01, 1, 31), (0.55, 7, 213), (0.34, 4, 121), (1 / 24, 1, 31)])
def test_a_run_is_whole_calendar_months_ending_on_a_month_s_last_day(years, months, days):
    # The accounts close at each month's end: a run cut part-way through a month was charged the whole
    # month (a one-day "month" of full wages, rent and losing-month counts).
    from sim.model import LifeCircleModel

    scenario = Scenario().with_updates({"years": years, "warmup_years": years, "population.residents": 300,
                                        "city.blocks_x": 4, "city.blocks_y": 4})
    model = LifeCircleModel(scenario=scenario, checkpoints=False, create_agents=False)
    assert model.days_total == days
    last, after = model.date_of(days - 1), model.date_of(days)
    assert after.day == 1 and (after.year * 12 + after.month) - (2024 * 12 + 1) == months and last.month != after.month
    assert model.date_of(-model.warmup_days).day == 1  # the warm-up starts on a month's first day too
    assert model._month_ends(days - 1) and not model._month_ends(days - 2)


def test_a_scenario_starts_on_the_first_of_a_month():
    with pytest.raises(ScenarioError, match=r"start_date.*allowed: the first day of a month"):
        Scenario().with_updates({"start_date": dt.date(2024, 1, 15)})
    assert Scenario().with_updates({"start_date": dt.date(2024, 3, 1)}).start_date == dt.date(2024, 3, 1)
