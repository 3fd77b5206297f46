"""Shared fixtures: small scenarios that build and run in about a second."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Settled states go to a folder of this test session, not the user's cache (subprocesses inherit it).
os.environ.setdefault("LIFECIRCLE_CHECKPOINTS", tempfile.mkdtemp(prefix="lifecircle-test-checkpoints-"))

SMALL = {
    "population.residents": 2000,
    "city.blocks_x": 6,
    "city.blocks_y": 6,
    "years": 0.25,
    "warmup_years": 0.0,  # unit tests follow the rules from the synthetic first day
}


def small_scenario(**updates: object) -> Scenario:
    """The baseline shrunk to 2,000 residents on 6 x 6 blocks for three months, with no warm-up,
    plus ``updates``."""
    return load_scenario(SCENARIOS / "baseline.toml", updates={**SMALL, **updates})


@pytest.fixture
def small() -> Scenario:
    return small_scenario()


@pytest.fixture(scope="session")
def settled_baseline_checkpoints(tmp_path_factory) -> Path:
    """One store of settled starts for the tests that run the shipped baseline grid after its default
    warm-up (test_households, test_lever_claims, test_settle): the 20-year warm-up of a seed is
    simulated once in the session, not once per file (seeds 1-3 were warmed up three times). A run
    from a checkpoint equals one that warmed up itself (tests/test_checkpoint.py), so what each test
    measures does not depend on which of them ran first."""
    return tmp_path_factory.mktemp("settled-baseline")
