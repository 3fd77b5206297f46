"""Warm up once, fork many: settled starts saved without pickle, found by content, rebuilt when
mismatched or corrupt, shared by the runs of a seed -- and never changing a result."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from sim.io.checkpoint import CheckpointStore, CheckpointWarning, warmup_key
from sim.model import LifeCircleModel
from tests.conftest import small_scenario

WARM = {"warmup_years": 1.0, "years": 0.5}


def _run(store, seed: int = 5, **updates) -> LifeCircleModel:
    model = LifeCircleModel(scenario=small_scenario(**{**WARM, **updates}), seed=seed, create_agents=False,
                            checkpoints=store)
    model.run_for(model.days_total)
    return model


def test_a_run_from_a_checkpoint_equals_one_that_warmed_up_itself(tmp_path):
    store = CheckpointStore(tmp_path)
    first = _run(store)
    assert first.warmup_source == "computed"
    again = _run(store)
    assert again.warmup_source == "checkpoint"
    alone = _run(False)
    assert alone.warmup_source == "computed"
    for other in (again, alone):
        pd.testing.assert_frame_equal(other.timeseries(), first.timeseries())
        pd.testing.assert_frame_equal(other.warmup_timeseries(), first.warmup_timeseries())
        assert np.array_equal(other.ledger.resident_cash, first.ledger.resident_cash)
        assert other.streams.state() == first.streams.state()
        assert other.ledger.accounts_csv() == first.ledger.accounts_csv()  # the same rows in the same order
    # The warm-up's months are negative up to month 0; the measured ones start at 1.
    assert first.warmup_timeseries()["month"].between(-11, 0).all()
    assert first.timeseries()["month"].min() == 1


def test_runs_with_levers_share_the_settled_start_of_their_seed(tmp_path):
    store = CheckpointStore(tmp_path)
    _run(store)
    lever = _run(store, **{"levers.platform.enabled": True, "years": 0.25, "output.indicators": ["needs"]})
    assert lever.warmup_source == "checkpoint"
    other_seed = _run(store, seed=6)
    assert other_seed.warmup_source == "computed"
    assert len(list(tmp_path.glob("*.npz"))) == 2
    # What the warm-up depends on: not levers, years or outputs; yes the economy and the seed.
    base = small_scenario(**WARM)
    assert warmup_key(base, 5) == warmup_key(base.with_updates({"levers.lockers.enabled": True, "years": 3.0,
                                                                  "output.indicators": ["needs"], "name": "x"}), 5)
    assert warmup_key(base, 5) != warmup_key(base, 6)
    assert warmup_key(base, 5) != warmup_key(base.with_updates({"economy.rent_multiplier": 1.1}), 5)


def test_the_warm_up_key_and_the_batch_fingerprint_hold_the_residents_per_block(monkeypatch):
    # Each block of the daily passes draws from its own stream, so results depend on the block size
    # (LIFECIRCLE_BLOCK_RESIDENTS, a test setting): a checkpoint or a batch's runs made with another
    # are not this one's (a reviewer's run loading one matched neither pure run).
    from sim.batch.spec import load_batch
    from sim.services import blocks
    from tests.conftest import SCENARIOS

    base = small_scenario(**WARM)
    key, batch = warmup_key(base, 5), load_batch(SCENARIOS / "batches" / "demo.toml")
    before = batch.fingerprint()
    monkeypatch.setattr(blocks, "RESIDENT_BLOCK", 256)
    assert warmup_key(base, 5) != key and batch.fingerprint() != before


def test_checkpoints_hold_no_pickles_and_a_header_that_says_what_they_are(tmp_path):
    _run(CheckpointStore(tmp_path))
    (npz,) = tmp_path.glob("*.npz")
    with zipfile.ZipFile(npz) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                dtype = read(member)[2]
            assert not dtype.hasobject, name
    head = json.loads(npz.with_suffix(".json").read_text())
    assert head["key"] == npz.stem and head["seed"] == 5 and len(head["sha256"]) == 64
    assert "streams" in head and "ledger" in head


@pytest.mark.parametrize("damage", ["truncate", "header", "engine"])
def test_a_corrupt_or_mismatched_checkpoint_is_rebuilt_with_a_warning(tmp_path, damage):
    store = CheckpointStore(tmp_path)
    first = _run(store)
    (npz,) = tmp_path.glob("*.npz")
    head_path = npz.with_suffix(".json")
    if damage == "truncate":
        npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    else:
        head = json.loads(head_path.read_text())
        head["key" if damage == "header" else "engine"] = "0" * 16
        head_path.write_text(json.dumps(head))
    with pytest.warns(CheckpointWarning, match="warming up again"):
        rebuilt = _run(store)
    assert rebuilt.warmup_source == "computed"
    pd.testing.assert_frame_equal(rebuilt.timeseries(), first.timeseries())
    assert _run(store).warmup_source == "checkpoint"  # ... and saved again, sound


def test_a_checkpoint_keeps_the_reach_memo_and_a_part_of_it_changes_nothing(tmp_path, monkeypatch):
    """The nodes within reach of each node searched during the warm-up (``nodes_within``) are kept
    with the settled start, so the first month ends after a load need not search them again; kept
    whole or only in part (``REACH_MEMO_BYTES``), the run is the same: the memo is a cache."""
    from sim.io import state

    def build(store):
        return LifeCircleModel(scenario=small_scenario(**WARM), seed=5, create_agents=False, checkpoints=store)

    whole = CheckpointStore(tmp_path / "whole")
    warmed = build(whole)
    assert warmed.warmup_source == "computed" and len(warmed._within_cache) > 2
    loaded = build(whole)
    assert loaded.warmup_source == "checkpoint"
    assert list(loaded._within_cache) == list(warmed._within_cache)
    for key, (nodes, dist) in warmed._within_cache.items():
        got_nodes, got_dist = loaded._within_cache[key]
        assert (got_nodes.dtype, got_dist.dtype) == (nodes.dtype, dist.dtype)
        assert np.array_equal(got_nodes, nodes) and np.array_equal(got_dist, dist)

    sizes = np.cumsum([nodes.nbytes + dist.nbytes for nodes, dist in warmed._within_cache.values()])
    monkeypatch.setattr(state, "REACH_MEMO_BYTES", int(sizes[-1] // 2))
    part_store = CheckpointStore(tmp_path / "part")
    assert build(part_store).warmup_source == "computed"
    part = build(part_store)
    kept = int(np.searchsorted(sizes, sizes[-1] // 2, side="right"))
    assert 0 < kept < len(sizes)
    # The memo restored comes first (the measured period's first entrants, decided as the model is
    # built, search more nodes after it).
    assert list(part._within_cache)[:kept] == list(warmed._within_cache)[:kept]

    for model in (warmed, loaded, part):
        model.run_for(model.days_total)
    for other in (loaded, part):
        pd.testing.assert_frame_equal(other.timeseries(), warmed.timeseries())
        assert np.array_equal(other.ledger.resident_cash, warmed.ledger.resident_cash)
        assert np.array_equal(other.merchants.open, warmed.merchants.open)
        assert other.streams.state() == warmed.streams.state()
