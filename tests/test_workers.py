"""The default local worker count (issue 14: the default process pool ran the demo batch 2x slower
than --workers 1, each spawned worker importing lifecircle for 6-7 s). Whether the default is
faster is measured by benchmarks/bench_workers.py, which prints figures: a timed assertion here
would test the machine's load, not the rule."""

from __future__ import annotations

from sim.batch import workers
from sim.batch.workers import default_workers


def test_small_batches_run_serially_and_large_ones_on_every_idle_core(monkeypatch):
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert default_workers(4.0, cores=2) == 1           # 3 s to start workers + 2 s > 0.75 x 4 s
    assert default_workers(60.0, cores=2) == 2          # 3 + 30 s < 45 s
    assert default_workers(600.0, cores=8) == 8
    assert default_workers(600.0, cores=8, runs=3) == 3  # never more workers than runs


def test_busy_cores_do_not_count(monkeypatch):
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (6.5, 6.0, 5.0))  # a shared machine, others busy
    assert workers.idle_cores(2) == 1
    assert default_workers(600.0, cores=2) == 1
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (2.0, 2.0, 2.0))  # one other busy process
    assert workers.idle_cores(8) == 7
