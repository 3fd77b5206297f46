"""Shared fixtures: small scenarios that build and run in about a second."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(scope="session")
def batch_checkpoints(tmp_path_factory) -> Path:
    """Settled starts of the tests' tiny batches (``tests/test_batch.py``'s TINY: 300 residents on 3 x 3
    blocks, replicate seeds from master_seed 42), passed as ``run_batch(checkpoint_dir=...)`` by the
    in-process batches of tests that are not about where a batch keeps its warm-ups -- as a robust
    search's generations share theirs. A seed's 20-year warm-up is then simulated once in the session,
    not once per batch (about 0.9 s each, a few dozen times). The warm-up depends only on the district,
    people, economy and seed, and a run from a checkpoint equals one that warmed up itself, so no result
    depends on which test filled the store."""
    return tmp_path_factory.mktemp("batch-warm-ups")


DOCKING_TESTS = ("test_reference_agreement.py", "test_docking_mutations.py")


def pytest_collection_finish(session: pytest.Session) -> None:
    """A session that will dock the engine with the per-agent reference starts the reference's runs
    now, at the lowest CPU priority, so that they use what the tests before the docking leave idle
    (``tests/docking_runs.py``); the docking tests then collect them."""
    if session.config.option.collectonly:
        return
    if any(item.path.name in DOCKING_TESTS and item.get_closest_marker("slow") for item in session.items):
        import docking_runs

        docking_runs.start_reference_runs()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Reference runs a stopped session no longer needs are not waited for."""
    docking = sys.modules.get("docking_runs")
    if docking is not None:
        docking.stop_reference_runs()
