"""Shared fixtures: small scenarios that build and run in about a second."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Settled states go to a folder of this test session, not the user's cache (subprocesses inherit it);
# the session removes the folder it made at its end.
_SESSION_CHECKPOINTS: list[str] = []
if "LIFECIRCLE_CHECKPOINTS" not in os.environ:
    _SESSION_CHECKPOINTS.append(tempfile.mkdtemp(prefix="lifecircle-test-checkpoints-"))
    os.environ["LIFECIRCLE_CHECKPOINTS"] = _SESSION_CHECKPOINTS[0]

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
def settled_baseline_checkpoints() -> Path:
    """One store of settled starts for the tests that run the shipped baseline grid after its default
    warm-up (test_households, test_lever_claims, test_settle): the 20-year warm-up of a seed is
    simulated once in the session, not once per file (seeds 1-3 were warmed up three times), and in
    the background from the session's start (the seeds each module lists in SETTLED_BASELINE_SEEDS;
    pytest_collection_finish). A run from a checkpoint equals one that warmed up itself
    (tests/test_checkpoint.py), so what each test measures does not depend on which of them, or the
    background, made it first."""
    import session_background

    return session_background.settled_baseline_store()


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
    """Start, in the session's low-priority background workers (``tests/session_background.py``), the
    slow set-ups that collected tests will need, so that they use what the tests before them leave
    idle: the docking's reference runs (``tests/docking_runs.py``), then the settled baseline's
    warm-ups of the seeds the collected modules list in SETTLED_BASELINE_SEEDS, then what each
    collected module's ``start_in_background(items)`` hands the pool for its collected slow tests,
    in the tests' order (the lever claims' runs, the notebooks)."""
    if session.config.option.collectonly:
        return
    slow = [item for item in session.items if item.get_closest_marker("slow")]
    if any(item.path.name in DOCKING_TESTS for item in slow):
        import docking_runs

        docking_runs.start_reference_runs()
    modules = list(dict.fromkeys(getattr(item, "module", None) for item in slow))  # in the tests' order
    seeds = sorted({seed for module in modules for seed in getattr(module, "SETTLED_BASELINE_SEEDS", ())})
    if seeds:
        import session_background

        store = str(session_background.settled_baseline_store())
        for seed in seeds:
            session_background.submit(session_background.warm_up_settled_baseline, seed, store)
    for module in modules:
        start = getattr(module, "start_in_background", None)
        if start is not None:
            start([item for item in slow if getattr(item, "module", None) is module])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Background work a stopped session no longer needs is not waited for; the settled starts and the
    session's checkpoint folder go."""
    background = sys.modules.get("session_background")
    if background is not None:
        background.stop()
    folders = list(_SESSION_CHECKPOINTS)
    if background is not None and background.settled_store_made():
        folders.append(background.settled_baseline_store())
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
