"""The command line: run writes every output; bad input exits 2 with a message and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from sim.cli import main
from tests.conftest import SCENARIOS

SMALL = ["--set", "population.residents=1500", "--set", "city.blocks_x=6", "--set", "city.blocks_y=6"]


def test_run_writes_scorecard_timeseries_resolved_scenario_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), "--years", "0.2", "--seed", "7", *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "basic_coverage_15" in printed and "scorecard" in printed
    frame = pd.read_parquet(out / "timeseries.parquet")
    assert {"day", "indicator", "value", "seed"} <= set(frame.columns) and (frame["seed"] == 7).all()
    card = pd.read_csv(out / "scorecard.csv")
    assert "basic_coverage_15" in set(card["indicator"])
    resolved = (out / "scenario.resolved.toml").read_text()
    assert "seed = 7" in resolved and "lifecircle_version" in resolved and "residents = 1500" in resolved
    for name in ("coverage_map", "access", "employment", "income"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000


def test_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "%s"\n[economy]\nrent_multiplier = -3\n' % (SCENARIOS / "baseline.toml"))
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "economy.rent_multiplier" in proc.stderr and "-3" in proc.stderr and ">= 0.0" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "validate", str(tmp_path / "missing.toml")], capture_output=True, text=True)
    assert proc.returncode == 2 and "no such scenario file" in proc.stderr


def test_unknown_indicator_is_an_error(tmp_path, capsys):
    code = main(["validate", str(SCENARIOS / "baseline.toml"), "--set", 'output.indicators=["basic_coverage_15", "happiness"]'])
    assert code == 2
    assert "happiness" in capsys.readouterr().err


def test_validate_levers_indicators_and_schema_list_things(capsys):
    assert main(["validate", str(SCENARIOS / "baseline.toml")]) == 0
    assert main(["levers"]) == 0
    text = capsys.readouterr().out
    for name in ("smart_stores", "lockers", "platform", "siting", "service_map", "local_hiring",
                 "flexible_employment", "graduate_startups", "disability_priority", "retirees",
                 "governance", "renovation", "licences", "mobile_vendors"):
        assert f"[levers.{name}]" in text
    assert main(["indicators"]) == 0
    assert "disability_employment_gap" in capsys.readouterr().out


def test_scorecard_reports_time_to_target():
    from sim.run import scorecard

    frame = pd.DataFrame({
        "day": [30, 60, 90, 30, 60, 90], "month": [1, 2, 3, 1, 2, 3],
        "indicator": ["basic_coverage_15"] * 3 + ["income_gini"] * 3,
        "value": [0.5, 0.92, 0.88, 0.5, 0.45, 0.3],
    })
    card = scorecard(frame).set_index("indicator")
    # The collection labelled 2 covers month 1 (month 0 is the first measured month, as levers count).
    assert card.loc["basic_coverage_15", "first_met_month"] == "1"   # target >= 0.9 first met in month 1
    assert card.loc["basic_coverage_15", "met"] == "no"              # ... but not at the end
    assert card.loc["income_gini", "first_met_month"] == "2" and card.loc["income_gini", "met"] == "yes"
    assert card.loc["basic_coverage_15", "change"] == 0.88 - 0.5


def test_report_shows_levers_and_effects_against_the_counterfactual(tmp_path):
    out = tmp_path / "out"
    code = main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), "--years", "0.5", *SMALL,
                 "--set", "warmup_years=0.5", "--replicates", "2",
                 "--set", "levers.smart_stores.enabled=true", "--set", "levers.smart_stores.end_month=3"])
    assert code == 0
    report = (out / "report.md").read_text()
    assert "## Scorecard" in report and "basic_coverage_15" in report
    assert "| smart_stores |" in report and "month 3" in report
    assert "## Effects against the counterfactual" in report and "2 paired seed(s)" in report
    assert "during support" in report and "after support" in report
    assert "### What persists after support ends" in report
    assert "warm-up of 0.5 years" in report
    assert "![map](figures/coverage_map.png)" in report
    effects = pd.read_csv(out / "effects.csv")
    assert set(effects["period"]) == {"during support", "after support", "end"}
    assert (effects.loc[effects["indicator"] == "night_needs_met_share", "n"] == 2).all()
    warmup = pd.read_parquet(out / "warmup.parquet")
    assert warmup["month"].max() <= 0 < pd.read_parquet(out / "timeseries.parquet")["month"].min()


def test_a_baseline_run_has_no_counterfactual(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--out", str(out), "--years", "0.2", *SMALL]) == 0
    assert not (out / "effects.csv").exists()
    assert "Effects against the counterfactual" not in (out / "report.md").read_text()


def test_help_imports_nothing_heavy():
    """``lifecircle --help`` (and building the parser of every subcommand) loads no numerical or
    simulation library: each command imports what it needs when it runs. It took 4-9 s when the
    parser imported the scenario schema and every batch analysis (SciPy, pandas, Dask)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sim.cli import build_parser\n"
        "parser = build_parser()\n"
        "for name in ('batch', 'compare', 'run', 'district', 'calibrate'):\n"
        "    try:\n"
        "        parser.parse_args([name, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'numpy', 'pandas', 'scipy', 'pydantic', 'dask', 'mesa', 'numba', 'pyarrow', 'matplotlib'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
