"""The up-front memory estimate (issue 16, item 9): sizes that cannot fit are refused before anything
is built, with the estimate in the message; the estimate is close to what a run really uses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sim.io.memory
import sim.run
from sim.cli import main
from sim.io.memory import estimate
from sim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS
from tests.test_batch import write_batch

EIGHT_GB = 8 * 2**30


@pytest.fixture
def eight_gb_free(monkeypatch):
    """This machine, as far as lifecircle can tell, has 8 GB free (as in the issue's report)."""
    monkeypatch.setattr(sim.io.memory, "available_bytes", lambda: EIGHT_GB)

    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(sim.run, "run_scenario", refuse)


@pytest.mark.parametrize("sets, named", [
    (["population.residents=20000000"], "population.residents = 20,000,000"),
    (["city.blocks_x=3000", "city.blocks_y=3000"], "city.blocks_x x blocks_y = 3,000 x 3,000"),
])
def test_sizes_that_do_not_fit_are_refused_before_the_run(eight_gb_free, capsys, sets, named):
    args = [part for item in sets for part in ("--set", item)]
    assert main(["run", str(SCENARIOS / "baseline.toml"), *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert named in err and "this machine has 8.0 GB of memory free" in err
    need = float(err.split("needs about ")[1].split(" GB")[0])
    assert need > 8.0
    assert "Traceback" not in err


def test_a_normal_scenario_fits_and_validate_reports_the_estimate(eight_gb_free, capsys):
    assert main(["validate", str(SCENARIOS / "baseline.toml")]) == 0
    assert "a run needs about 0." in capsys.readouterr().out
    assert main(["validate", str(SCENARIOS / "baseline.toml"), "--set", "population.residents=20000000"]) == 0
    captured = capsys.readouterr()
    assert "will refuse it here" in captured.err  # valid as a file; too big for this machine


def test_a_batch_is_checked_at_its_largest_run_times_its_workers(tmp_path, monkeypatch):
    from sim.batch import load_batch, run_batch
    from sim.scenario import ScenarioError

    batch = write_batch(tmp_path / "b", replications=1, extra='\n[parameters."population.residents"]\nlow = 1000\n'
                        'high = 3000000\n\n[design]\nmethod = "latin"\nsamples = 4\n')
    spec = load_batch(batch)
    big = estimate(spec.package_scenario("baseline").with_updates({"population.residents": 3_000_000})).total
    monkeypatch.setattr(sim.io.memory, "available_bytes", lambda: int(big * 1.5))
    with pytest.raises(ScenarioError, match=r"package 'baseline'.*x 2 runs at once.*fewer --workers"):
        run_batch(spec, tmp_path / "out", workers=2, progress=False)
    assert not (tmp_path / "out" / "runs").exists()


def test_the_estimate_is_close_to_a_measured_run(tmp_path):
    """Peak memory of a real run (its own process) lies below the estimate, and not far below."""
    script = (
        "import json, resource, sys\n"
        "from sim.scenario import load_scenario\n"
        "from sim.model import LifeCircleModel\n"
        "s = load_scenario(sys.argv[1], updates={'population.residents': 300000, 'city.blocks_x': 60,"
        " 'city.blocks_y': 60, 'years': 0.1, 'warmup_years': 0.0})\n"
        "m = LifeCircleModel(scenario=s)\n"
        "len(m.agents)\n"  # every Mesa agent view made: the estimate covers a run that inspects them
        "m.run_for(31)\n"  # 0.1 years: one whole month, 31 days from 1 January
        # The peak of this process's own memory: /proc's VmHWM. ru_maxrss would not do on Linux: a child
        # started by fork + exec inherits its parent's high-water mark there, so a large pytest process
        # (a full suite's imports) would be measured instead of the run.
        "import pathlib\n"
        "status = pathlib.Path('/proc/self/status')\n"
        "hwm = [l for l in status.read_text().splitlines() if l.startswith('VmHWM:')] if status.exists() else []\n"
        "peak = int(hwm[0].split()[1]) * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(json.dumps(peak))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(SCENARIOS / "baseline.toml")], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    scenario = load_scenario(SCENARIOS / "baseline.toml", updates={
        "population.residents": 300000, "city.blocks_x": 60, "city.blocks_y": 60, "years": 0.1, "warmup_years": 0.0})
    predicted = estimate(scenario).total
    assert measured <= predicted <= 2.0 * measured, (measured / 2**20, predicted / 2**20)
