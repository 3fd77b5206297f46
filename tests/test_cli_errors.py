"""Bad command-line input is one message with exit status 2 before anything runs, never a traceback;
output folders and derived scenario files are never silently mixed or overwritten (README, "The
command line"). Each test reproduces one breach a review found."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from tests.conftest import SCENARIOS, TEST_DATA
from tests.test_batch import LIFECIRCLE, REPO, write_batch
from tests.test_ema import EXPERIMENT
from tests.test_ema_commands import ROBUST

BASELINE = SCENARIOS / "baseline.toml"
OSM = TEST_DATA / "beijing_haidian.osm.pbf"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, stdout, stderr). An exception escaping
    ``main`` (a traceback on the command line) fails the test; argparse's exit is a status."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def one_message(err: str) -> str:
    """The error message (``lifecircle: error: ...`` or argparse's ``lifecircle CMD: error: ...``),
    checked to be the only one."""
    starts = [line for line in err.splitlines() if line.startswith("lifecircle") and " error: " in line]
    assert len(starts) == 1, err
    return err


# ----------------------------------------------------------------------------- 1. household sizes

@pytest.mark.parametrize("sizes, expected", [
    ("[-0.5, 1.5]", ["population.household_sizes.0", "-0.5", ">= 0"]),
    ("[0.0, 0.0]", ["population.household_sizes", "[0.0, 0.0]", "sum"]),
])
def test_household_sizes_must_be_non_negative_with_a_positive_sum(capsys, sizes, expected):
    code, _, err = cli(capsys, "validate", BASELINE, "--set", f"population.household_sizes={sizes}")
    assert code == 2
    for text in expected:
        assert text in one_message(err)


# ----------------------------------------------------------------------------- 2., 11. batch files

def test_a_batch_value_that_is_not_a_number_is_named(tmp_path, capsys):
    batch = write_batch(tmp_path, replications=1,
                        extra='[uncertainties."economy.rent_multiplier"]\nvalues = [1.0, "x"]\n'
                              '[design]\nmethod = "factorial"\n')
    code, _, err = cli(capsys, "validate", batch)
    assert code == 2
    assert "economy.rent_multiplier" in one_message(err) and "'x'" in err and "number" in err


def test_a_lever_mix_naming_an_unknown_category_is_refused_before_any_run(tmp_path, capsys):
    extra = ('[levers."levers.mobile_vendors.enabled"]\nvalues = [true]\n'
             '[levers."levers.mobile_vendors.categories"]\nvalues = [["unicorn"], ["breakfast"]]\n'
             '[lever_design]\nmethod = "factorial"\n')
    batch = write_batch(tmp_path, replications=1, extra=extra)
    for argv in (["validate", batch], ["batch", batch, "--dry-run"]):
        code, _, err = cli(capsys, *argv)
        assert code == 2, argv
        assert "levers.mobile_vendors.categories" in one_message(err) and "'unicorn'" in err
        assert "allowed:" in err and "breakfast" in err.split("allowed:")[1]


# ----------------------------------------------------------------------------- 3., 4., 12., 18. analysis commands

@pytest.fixture(scope="module")
def one_uncertainty(tmp_path_factory):
    """A finished batch with one uncertainty and no levers: baseline and platform at 4 points, 1 seed."""
    folder = tmp_path_factory.mktemp("one_uncertainty")
    (folder / "platform.toml").write_text(f'extends = "{BASELINE.as_posix()}"\nname = "platform"\n'
                                          f'[levers.platform]\nenabled = true\n', encoding="utf-8")
    batch = write_batch(folder, replications=1, extra_packages='platform = "platform.toml"',
                        extra='"warmup_years" = 0\n[uncertainties."economy.rent_multiplier"]\nlow = 0.5\nhigh = 2.0\n'
                              '[design]\nmethod = "latin"\nsamples = 4\n')
    out = folder / "out"
    proc = subprocess.run([*LIFECIRCLE, "batch", str(batch), "--out", str(out), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return out


def test_discover_with_one_uncertainty_reports_prim_cart_and_scores(one_uncertainty, capsys):
    from sim.batch.ema import load_experiments

    _, outcomes = load_experiments(one_uncertainty, series=False)
    values = np.sort(outcomes["needs_met_share"])
    for threshold in (values[len(values) // 2], values[0]):  # cases and others (a CART split); all cases
        code, out, _ = cli(capsys, "discover", one_uncertainty, "--outcome", "needs_met_share", "--threshold",
                           repr(float(threshold)), "--no-figures")
        assert code == 0
        assert "PRIM" in out and "Feature scores" in out
    assert (one_uncertainty / "discover" / "cart_needs_met_share.csv").is_file()


def test_cart_and_feature_scores_take_a_single_variable():
    from sim.batch.discover import cart_rules, feature_scores

    x = pd.DataFrame({"economy__rent_multiplier": np.linspace(0.5, 2.0, 12)})
    y = x["economy__rent_multiplier"].to_numpy() < 1.2
    rules = cart_rules(x, y)
    assert len(rules) == 2 and rules["coverage"].max() == pytest.approx(1.0)
    scores = feature_scores(x, {"o": x["economy__rent_multiplier"].to_numpy() * 2.0})
    assert scores.loc["economy__rent_multiplier", "o"] == pytest.approx(1.0)


@pytest.mark.parametrize("option, value, allowed", [
    ("--peel-alpha", "0", "between 0 and 1"),
    ("--peel-alpha", "1.5", "between 0 and 1"),
    ("--mass-min", "nan", "from 0 to 1"),
    ("--mass-min", "2", "from 0 to 1"),
    ("--mass-min", "-1", "from 0 to 1"),
    ("--density", "2", "from 0 to 1"),
    ("--density", "-1", "from 0 to 1"),
    # nan said "the outcome never passes the threshold" after reading the batch.
    ("--threshold", "nan", "a finite number (not nan or inf)"),
    ("--threshold", "inf", "a finite number (not nan or inf)"),
    ("--threshold", "high", "a finite number"),
])
def test_discover_options_out_of_range(tmp_path, capsys, option, value, allowed):
    code, _, err = cli(capsys, "discover", tmp_path, "--outcome", "o", "--threshold", "0.3", option, value)
    assert code == 2
    assert option in one_message(err) and value in err and allowed in err


def test_compare_last_months_cannot_exceed_the_runs(one_uncertainty, capsys):
    # The batch's runs have 3 months: 999 was accepted, all months used, and the title said 999.
    code, out, err = cli(capsys, "compare", one_uncertainty, "--last-months", "999", "--no-figure")
    assert code == 2 and not out
    assert "--last-months = 999" in one_message(err) and "have 3 month(s)" in err and "allowed: 1 to 3" in err
    code, out, _ = cli(capsys, "compare", one_uncertainty, "--last-months", "3", "--no-figure")
    assert code == 0 and "last 3 month(s)" in out


def test_compare_period_must_be_a_period(one_uncertainty, capsys):
    code, out, err = cli(capsys, "compare", one_uncertainty, "--by", "point", "--period", "decade")
    assert code == 2 and not out
    assert "--period" in one_message(err) and "decade" in err and "during support" in err
    # a period of the timeline this batch does not reach (3 months: no year 3): its own periods are named
    code, out, err = cli(capsys, "compare", one_uncertainty, "--by", "point", "--period", "year 3", "--no-figure")
    assert code == 2
    assert "'year 3'" in one_message(err) and "during support, end" in err


@pytest.mark.parametrize("argv, option", [
    (["batch", "BATCH", "--dry-run", "--dry-run-limit", "-1"], "--dry-run-limit"),
    (["compare", "DIR", "--by", "point", "--limit", "-3"], "--limit"),
    (["settle", str(BASELINE), "--seeds", "0"], "--seeds"),
])
def test_counts_below_their_minimum(tmp_path, capsys, argv, option):
    argv = [str(tmp_path) if a in ("BATCH", "DIR") else a for a in argv]
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert option in one_message(err) and "allowed: a whole number >=" in err


# ----------------------------------------------------------------------------- 5., 6., 9. district

def test_district_with_a_truncated_file(tmp_path, capsys):
    trunc = tmp_path / "trunc.osm.pbf"
    trunc.write_bytes(OSM.read_bytes()[: OSM.stat().st_size // 2])
    code, _, err = cli(capsys, "district", trunc, "--scenario-file", tmp_path / "d.toml", "--out", tmp_path / "o")
    assert code == 2
    assert "trunc.osm.pbf" in one_message(err) and "truncated" in err
    assert not (tmp_path / "d.toml").exists()


def test_district_scenario_file_that_cannot_be_written(tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "afile").write_text("x")
    for target in (folder, tmp_path / "afile" / "x.toml"):
        code, _, err = cli(capsys, "district", OSM, "--residents", "300", "--scenario-file", target,
                           "--out", tmp_path / "o")
        assert code == 2, target
        assert "--scenario-file" in one_message(err) and str(target) in err
    assert (tmp_path / "afile").read_text() == "x"


def test_district_refuses_to_overwrite_a_scenario_file_unless_forced(tmp_path, capsys):
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "baseline.toml"\n# my edits\n')
    argv = ["district", OSM, "--residents", "0", "--scenario-file", mine, "--out", tmp_path / "o"]
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert str(mine) in one_message(err) and "--force" in err
    assert mine.read_text() == 'extends = "baseline.toml"\n# my edits\n' and not (tmp_path / "o").exists()
    # --force replaces it (the run then stops on residents = 0, before simulating anything)
    code, out, err = cli(capsys, *argv, "--force")
    assert code == 2 and "population.residents" in err and f"wrote {mine}" in out
    assert "# my edits" not in mine.read_text()
    # the same command again finds the file it wrote, unchanged: nothing to refuse
    code, _, err = cli(capsys, *argv)
    assert code == 2 and "population.residents" in err


def test_district_default_scenario_file_is_not_overwritten(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("beijing_haidian.toml").write_text("# someone else's\n")
    code, _, err = cli(capsys, "district", OSM, "--residents", "300", "--out", "o")
    assert code == 2 and "beijing_haidian.toml" in one_message(err)
    assert Path("beijing_haidian.toml").read_text() == "# someone else's\n"


# ----------------------------------------------------------------------------- 7., 10., 13. --out

@pytest.fixture
def robust_batch(tmp_path):
    batch = write_batch(tmp_path / "b", replications=1, extra=EXPERIMENT + ROBUST)
    batch.write_text(batch.read_text().replace("[outcomes.merchants_gain]",
                                               '[outcomes.merchants_gain]\nkind = "maximize"'))
    return batch


def test_robust_out_is_a_file(tmp_path, capsys, robust_batch):
    (tmp_path / "afile").write_text("x")
    code, _, err = cli(capsys, "robust", robust_batch, "--out", tmp_path / "afile", "--nfe", "8")
    assert code == 2
    assert "--out" in one_message(err) and "afile" in err and "allowed:" in err


def test_robust_refuses_a_folder_of_other_files(tmp_path, capsys, robust_batch):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "robust", robust_batch, "--out", foreign, "--nfe", "8")
    assert code == 2
    assert "--out" in one_message(err) and "notes.txt" in err and "allowed:" in err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("argv", [
    ["run", str(BASELINE), "--out", ""],
    ["batch", "BATCH", "--out", ""],
    ["robust", "BATCH", "--out", ""],
    ["district", str(OSM), "--out", ""],
    ["calibrate", "CAL", "--out", ""],
])
def test_an_empty_out_is_an_error(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert "--out" in one_message(err) and "allowed:" in err
    assert list(tmp_path.iterdir()) == []


def test_no_traceback_on_the_command_line(tmp_path):
    """The same, through the console script's module in a process of its own."""
    trunc = tmp_path / "trunc.osm.pbf"
    trunc.write_bytes(OSM.read_bytes()[:50_000])
    for argv in (["settle", str(BASELINE), "--seeds", "0"], ["district", str(trunc), "--out", str(tmp_path / "o")]):
        proc = subprocess.run([*LIFECIRCLE, *argv], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        one_message(proc.stderr)


# ----------------------------------------------------------------------------- a second review: messages that named the wrong thing

NO_PACKAGE = f'baseline = "{BASELINE.as_posix()}"\n'


@pytest.mark.parametrize("top, extra, expected", [
    ('baseline = "nope"\n', "", ["key 'baseline' = 'nope'", "allowed: a package: baseline"]),
    ('lever_base = "ghost"\n', '[levers."levers.platform.enabled"]\n[lever_design]\nmethod = "factorial"\n',
     ["key 'lever_base' = 'ghost'", "allowed: a package: baseline"]),
    ("", '"seed" = 3\n', ["key 'overrides.seed' = 3", "master_seed"]),
    ("", '[robust]\nobjectives = ["nothing"]\n', ["key 'robust.objectives' = ['nothing']", "allowed: an outcome"]),
    ("", '[uncertainties."economy.rent_multiplier"]\nlow = 1.0\nhigh = 2.0\n'
         '[design]\nmethod = "explicit"\npoints = [{"economy.colour" = 1.0}]\n',
     ["key 'design.points[0]' = {'economy.colour': 1.0}", "allowed: exactly the keys ['economy.rent_multiplier']"]),
    (NO_PACKAGE, "", ["key 'packages' = {}", "allowed: at least one package"]),
], ids=["baseline", "lever_base", "overrides.seed", "robust.objectives", "design.points", "packages"])
def test_a_check_of_the_whole_batch_names_its_key_not_the_whole_file(tmp_path, capsys, top, extra, expected):
    batch = write_batch(tmp_path, replications=1, extra=extra)
    text = batch.read_text()
    batch.write_text(text.replace(NO_PACKAGE, "") if top == NO_PACKAGE else top + text)
    code, _, err = cli(capsys, "validate", batch)
    assert code == 2
    message = one_message(err)
    for text in expected:
        assert text in message, message
    assert "(top level)" not in message and "source_sections" not in message
    assert len(message.replace(str(batch), "")) < 300, message


def test_a_batch_file_cannot_set_the_loaders_own_keys(tmp_path, capsys):
    batch = write_batch(tmp_path, replications=1)
    for key in ("source", "source_sections", "posterior"):  # posterior: written [uncertainties] from_posterior
        batch.write_text(f'{key} = "/etc/passwd"\n' + batch.read_text().split("\n", 1)[1])
        code, _, err = cli(capsys, "validate", batch)
        assert code == 2
        assert f"unknown key '{key}'" in one_message(err) and "/etc/passwd" not in err
        allowed = err.split("allowed keys here:")[1]
        assert "uncertainties" in allowed and "source" not in allowed and "packages" in allowed


@pytest.mark.parametrize("design", ['[design]\nmethod = "latin"\n', ""])
def test_seed_as_an_uncertainty_cannot_be_a_design_variable(tmp_path, capsys, design):
    batch = write_batch(tmp_path, replications=1, extra=f'[uncertainties."seed"]\nlow = 1\nhigh = 9\n{design}')
    code, _, err = cli(capsys, "validate", batch)
    assert code == 2
    assert "seed cannot be a design variable" in one_message(err) and "master_seed" in err
    assert "from_posterior" not in err


@pytest.mark.parametrize("lines, expected", [
    ('low = "a"\nhigh = 2.0', ["uncertainties.\"economy.rent_multiplier\".low' = 'a'", "allowed: a finite number"]),
    ("low = true\nhigh = 2.0", ["low' = True", "allowed: a finite number"]),
    ("low = 1.0\nhigh = nan", ["high' = nan", "allowed: a finite number"]),
    ("low = 1.0\nhigh = 2.0\ncolour = 3", ["unknown key 'uncertainties.\"economy.rent_multiplier\".colour'",
                                            "allowed keys here: low, high, values, label"]),
])
def test_a_bad_uncertainty_range_is_one_line(tmp_path, capsys, lines, expected):
    batch = write_batch(tmp_path, replications=1, extra=f'[uncertainties."economy.rent_multiplier"]\n{lines}\n'
                                                        f'[design]\nmethod = "latin"\n')
    code, _, err = cli(capsys, "validate", batch)
    assert code == 2
    detail = one_message(err).strip().splitlines()[1:]
    assert len(detail) == 1, err
    for text in expected:
        assert text in detail[0], err
    assert ".float" not in err and ".int" not in err


@pytest.mark.parametrize("argv, expected", [
    (["run", BASELINE, "--years", "0"], "--years 0: allowed: > 0"),
    (["run", BASELINE, "--seed", "-5"], "--seed -5: allowed: >= 0"),
    (["settle", BASELINE, "--years", "nan"], "--years nan: allowed: a finite number"),
    (["validate", BASELINE, "--set", "years=0"], "--set years=0: allowed: > 0"),
    (["validate", BASELINE, "--set", "population.colour=3"],
     "--set population.colour=3: unknown key 'population.colour'; allowed keys here: residents"),
    (["validate", BASELINE, "--set", "=3"], "--set '=3': key '': allowed: a dotted scenario key"),
])
def test_a_bad_option_is_named_not_the_scenario_file(tmp_path, capsys, argv, expected):
    code, _, err = cli(capsys, *argv, *(["--out", tmp_path / "o"] if argv[0] == "run" else []))
    assert code == 2
    assert expected in one_message(err) and "baseline.toml" not in err and "(top level)" not in err
    assert not (tmp_path / "o").exists()


def test_an_empty_batch_file_gets_batch_advice(tmp_path, capsys):
    empty = tmp_path / "batch.toml"
    empty.write_text("")
    code, _, err = cli(capsys, "batch", empty, "--out", tmp_path / "o", "--dry-run")
    assert code == 2
    assert "empty batch file" in one_message(err) and "[packages]" in err and "extends" not in err
    code, _, err = cli(capsys, "validate", empty)  # a scenario or a batch: the file cannot say which
    assert code == 2
    assert "empty file" in one_message(err) and "[packages]" in err and "extends" in err


def test_validate_says_a_calibration_file_is_one(capsys):
    path = SCENARIOS / "calibration" / "grid_behaviour.toml"
    code, _, err = cli(capsys, "validate", path)
    assert code == 2
    assert "a calibration file" in one_message(err) and "lifecircle calibrate" in err
    assert "unknown key" not in err


def test_a_homes_table_with_both_counts_says_which_it_uses(tmp_path, capsys):
    """Documented (docs/osm.md, sim/city/homes_table.py): population where given, else households x 2.62."""
    from sim.city.homes_table import PERSONS_PER_HOUSEHOLD, read_homes_table

    table = tmp_path / "compounds.csv"
    table.write_text("households,population,lon,lat\n100,300,116.35,40.0\n200,,116.351,40.001\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"compounds.csv: 1 of 2 compounds give both population and households"
                                         r".*population is used"):
        homes = read_homes_table(table, crs="gcj02")
    assert homes.residents.tolist() == pytest.approx([300.0, 200 * PERSONS_PER_HOUSEHOLD])
    code, out, _ = cli(capsys, "validate", SCENARIOS / "beijing.toml", "--set", f"city.homes_table={table}")
    assert code == 0 and "1 give both population and households: population is used" in out
