"""A run's output folder (issue 16, items 3, 4, 5, 12): names cannot escape results/, a bad --out is
found before the simulation, folders are never mixed, files get normal permissions, and every run
reports its accounts."""

from __future__ import annotations

import csv
import json
import os

import pytest

import sim.run
from sim.cli import main
from sim.io.outdir import KNOWN_OUTPUTS, MARKER, claim_run_dir, safe_name
from tests.conftest import SCENARIOS

TINY = ["--set", "population.residents=300", "--set", "city.blocks_x=3", "--set", "city.blocks_y=3",
        "--years", "0.1", "--quiet"]


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a simulation starts (errors must come before it)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started before the error was found")

    monkeypatch.setattr(sim.run, "run_scenario", refuse)


def scenario_named(folder, name: str):
    path = folder / "named.toml"
    path.write_text(f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\nname = {json.dumps(name)}\n',
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("name, folder", [
    ("../../ESCAPED", "ESCAPED"),
    ("{tmp}/ABSOLUTE", None),  # an absolute path (inside this test's folder, to see where it lands)
    ("..", "unnamed"),
    ("海淀 baseline", "海淀_baseline"),
])
def test_names_stay_under_results(tmp_path, monkeypatch, name, folder):
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    name = name.format(tmp=tmp_path.as_posix())
    folder = folder or safe_name(name)
    assert folder.endswith("ABSOLUTE") or folder in ("ESCAPED", "unnamed", "海淀_baseline")
    assert main(["run", str(scenario_named(tmp_path, name)), *TINY, "--no-figures"]) == 0
    assert sorted(p.name for p in (work / "results").iterdir()) == [folder]
    assert (work / "results" / folder / "timeseries.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named.toml", "work"]  # nothing above results/


def test_safe_name_rules():
    assert safe_name("a/b\\c:d e") == "a_b_c_d_e"
    assert safe_name(".hidden") == "hidden" and safe_name("") == "unnamed" and safe_name("...") == "unnamed"
    assert safe_name("platform-2025_v1.2") == "platform-2025_v1.2"


def test_bad_out_is_found_before_the_simulation(tmp_path, no_simulation, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub" / "deeper"):
        assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY]) == 2
        err = capsys.readouterr().err
        assert f"--out {out}" in err and "file, not a folder" in err and "Traceback" not in err


def test_a_folder_with_other_files_is_refused_unless_forced(tmp_path, no_simulation, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "not empty and was not written by a lifecircle run (notes.txt)" in err and "--force" in err
    assert not (out / MARKER).exists()


def _folder_of_a_run(out, scenario: str):
    """A folder as a finished run of ``scenario`` leaves it (marker and a report)."""
    out.mkdir()
    (out / "report.md").write_text(f"report of {scenario}")
    (out / MARKER).write_text(json.dumps({"tool": "lifecircle run", "state": "complete", "scenario": scenario,
                                          "files": ["report.md"]}))
    return out


def test_a_folder_of_another_scenario_s_results_is_refused_unless_forced(tmp_path, no_simulation, capsys):
    # Its results were deleted and replaced by the new scenario's without a word.
    out = _folder_of_a_run(tmp_path / "out", "baseline")
    assert main(["run", str(scenario_named(tmp_path, "gridpath")), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: holds the results of scenario 'baseline', not 'gridpath'" in err
    assert "--force replaces 'baseline''s results" in err and "Traceback" not in err
    assert (out / "report.md").read_text() == "report of baseline"
    assert claim_run_dir(out, scenario="gridpath", force=True) == out  # --force goes on


def test_a_folder_of_the_same_scenario_is_claimed_without_force(tmp_path):
    out = _folder_of_a_run(tmp_path / "out", "baseline")
    assert claim_run_dir(out, scenario="baseline") == out
    assert json.loads((out / MARKER).read_text())["files"] == ["report.md"]  # to be replaced by the new run


def test_a_second_run_replaces_the_first_and_leaves_nothing_of_it(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY]) == 0
    assert (out / "figures" / "access.png").is_file()
    first = json.loads((out / MARKER).read_text())
    assert first["state"] == "complete" and "figures/access.png" in first["files"]
    # The second run writes no figures: the first run's must not stay beside its report.
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures",
                 "--seed", "5"]) == 0
    assert not (out / "figures").exists()
    assert "figures" not in (out / "report.md").read_text()
    second = json.loads((out / MARKER).read_text())
    assert sorted(second["files"]) == sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert "seed = 5" in (out / "scenario.resolved.toml").read_text()


def test_a_run_killed_while_writing_leaves_none_of_the_earlier_run_s_files_beside_its_own(tmp_path, monkeypatch):
    # A re-run killed after its first output files were written left them beside the earlier run's
    # scenario, scorecard and report (a reviewer's SIGKILL): the earlier outputs now go just before the
    # new ones are written, and the marker says "running" until the run finishes.
    from sim.io import report

    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures"]) == 0
    assert (out / "report.md").is_file() and (out / "scorecard.csv").is_file()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies while writing, after the tables

    monkeypatch.setattr(report, "write_report", killed)
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures", "--seed", "5"]) == 130
    marker = json.loads((out / MARKER).read_text())
    assert marker["state"] == "running" and not (out / "report.md").exists()
    assert "seed = 5" in (out / "scenario.resolved.toml").read_text()  # what is there is the new run's
    monkeypatch.undo()
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures"]) == 0
    assert json.loads((out / MARKER).read_text())["state"] == "complete" and (out / "report.md").is_file()


def test_force_replaces_earlier_outputs_and_keeps_other_files(tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "access.png").write_bytes(b"an old figure")  # from a run before markers existed
    (out / "report.md").write_text("old report")
    (out / "notes.txt").write_text("my notes")
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures", "--force"]) == 0
    assert (out / "notes.txt").read_text() == "my notes"
    assert not (out / "figures").exists() and (out / "report.md").read_text() != "old report"


def test_every_output_of_a_run_is_a_known_output_so_force_replaces_it(tmp_path):
    """A city of circles with every lever and its counterfactual writes every kind of output; each
    is listed in KNOWN_OUTPUTS, so a forced run into a folder without a marker replaces it. A
    policy run's effects.csv was missing there and stayed beside a later baseline run's report."""
    out = tmp_path / "city"
    assert main(["run", str(SCENARIOS / "full_plan.toml"), "--out", str(out), *TINY, "--replicates", "2",
                 "--set", "circles.kind=grid", "--set", "circles.cells_x=2", "--set", "circles.cells_y=2"]) == 0
    written = {p.name for p in out.iterdir()} - {MARKER}
    assert {"effects.csv", "persistence.csv", "circles.parquet", "figures"} <= written
    assert written <= set(KNOWN_OUTPUTS), written - set(KNOWN_OUTPUTS)
    (out / MARKER).unlink()  # the folder as a run before markers left it, or another tool copied it
    (out / "notes.txt").write_text("my notes")
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures", "--force"]) == 0
    left = {p.name for p in out.iterdir()} - {MARKER}
    assert "effects.csv" not in left and "circles.parquet" not in left and "figures" not in left
    assert "notes.txt" in left


def test_outputs_have_normal_permissions_and_accounts(tmp_path):
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), *TINY, "--no-figures"]) == 0
    finally:
        os.umask(old)
    for name in ("timeseries.parquet", "scorecard.csv", "scenario.resolved.toml", "report.md", "accounts.csv", MARKER):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    rows = list(csv.DictReader((out / "accounts.csv").open()))
    assert rows[-1]["account"] == "total" and rows[-1]["start_cny"] == rows[-1]["end_cny"]
    assert {"resident", "merchant", "public_budget"} <= {r["account"] for r in rows}
