"""The baseline is settled after its default warm-up (issue 10), and the settling check can fail.

The full check -- grid and Helsinki, 5 seeds, 10 measured years -- is measured by
``lifecircle settle`` and reported in docs/ODD.md; this is its shorter version on the grid.
"""

from __future__ import annotations

import pytest

from sim.metrics.settle import COVERAGE_TOLERANCE, settling
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS


SETTLED_BASELINE_SEEDS = (1, 2, 3)
"""Seeds of the settled baseline run here (their warm-ups start in the background: conftest)."""


@pytest.mark.slow
def test_the_baseline_grid_is_settled_after_its_default_warm_up(settled_baseline_checkpoints):
    scenario = load_scenario(SCENARIOS / "baseline.toml", updates={"years": 4.0})
    result = settling(scenario, list(SETTLED_BASELINE_SEEDS), checkpoints=settled_baseline_checkpoints)
    assert result.settled, "\n" + result.verdict.to_string(index=False)
    assert (result.verdict["max_closure_share"] < 0.05).all()


def test_without_a_warm_up_the_synthetic_start_is_not_settled(tmp_path):
    # The same check fails on the first measured years of a run that starts on the synthetic first day
    # (measured: seed 1's basic coverage moves by 0.071 in three years, seed 2's by 0.003; on a 9 x 9
    # grid of 6,000 residents both stay within the tolerance since entrants weigh three premises).
    scenario = load_scenario(SCENARIOS / "baseline.toml", updates={"years": 3.0, "warmup_years": 0.0})
    result = settling(scenario, [1, 2], checkpoints=tmp_path)
    assert not result.settled
    drift = result.verdict["coverage_change"].abs().max()
    assert drift > COVERAGE_TOLERANCE or (result.verdict["outlets_change"].abs() > 0.08).any()


@pytest.mark.slow
def test_a_two_year_warm_up_is_not_settled():
    # Two warm-up years end while outlets are still finding their places: over seeds 1-3 the measured
    # years' coverage is above the warm-up's last two years by +0.040 on average (+0.051, -0.001,
    # +0.070: one seed had settled, the mean has not).
    scenario = load_scenario(SCENARIOS / "baseline.toml", updates={"years": 3.0, "warmup_years": 2.0})
    result = settling(scenario, [1, 2, 3], checkpoints=False)
    assert not result.settled and (result.verdict["reference"] == "warm-up's last 2 years").all()
    assert result.mean_changes[0] > COVERAGE_TOLERANCE
