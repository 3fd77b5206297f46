"""A small golden regression: a tiny scenario's indicators, stored once, must not drift silently.

When a change alters results on purpose, regenerate with
``LIFECIRCLE_REGEN_GOLDEN=1 python -m pytest tests/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sim.run import run_scenario
from tests.conftest import small_scenario

GOLDEN = Path(__file__).parent / "golden" / "small_baseline.json"
WATCH = ("basic_coverage_15", "needs_met_share", "employment_rate", "income_mean", "merchants_open",
         "merchant_births", "needs_met_by.unmet_capacity", "disability_employment_gap")


def _values() -> dict[str, list[float]]:
    frame = run_scenario(small_scenario(seed=99), keep_model=False).timeseries
    return {name: frame[frame.indicator == name].sort_values("day")["value"].round(10).tolist() for name in WATCH}


def test_small_baseline_matches_golden_values():
    values = _values()
    if os.environ.get("LIFECIRCLE_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(values, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(golden) == set(values)
    for name in WATCH:
        assert np.allclose(values[name], golden[name], rtol=1e-9, atol=1e-12), (name, values[name], golden[name])
