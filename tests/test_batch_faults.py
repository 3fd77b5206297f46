"""Batches under faults (issue 16): nothing computed is lost, nothing is silently mixed, a killed or
damaged batch resumes. Each test reproduces one failure of the issue."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from sim.batch import load_batch, run_batch
from sim.batch.store import BatchLock, read_manifest, read_runs, run_status
from sim.scenario import ScenarioError
from tests.test_batch import BASELINE, LIFECIRCLE, REPO, read_sorted, write_batch, write_package

DEFAULT_CATALOGUE = REPO / "sim" / "data" / "catalogue.toml"


def own_catalogue_batch(folder: Path, *, replications: int) -> tuple[Path, Path]:
    """A batch whose package reads a catalogue file of its own (a copy of the default)."""
    folder.mkdir(parents=True, exist_ok=True)
    catalogue = folder / "catalogue.toml"
    catalogue.write_bytes(DEFAULT_CATALOGUE.read_bytes())
    write_package(folder, "own", '[economy]\ncatalogue = "catalogue.toml"')
    batch = write_batch(folder, replications=replications)
    text = batch.read_text(encoding="utf-8").replace(f'baseline = "{BASELINE.as_posix()}"', 'baseline = "own.toml"')
    batch.write_text(text, encoding="utf-8")
    return batch, catalogue


def raise_pension(catalogue: Path) -> None:
    text = catalogue.read_text(encoding="utf-8")
    changed = re.sub(r"pension_cny_month = (\d+)", lambda m: f"pension_cny_month = {int(m[1]) + 1200}", text)
    assert changed != text
    catalogue.write_text(changed, encoding="utf-8")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LIFECIRCLE, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


# ----------------------------------------------------------------------------- item 1: inputs by content

def test_resume_after_an_input_file_changed_is_refused_not_mixed(tmp_path):
    batch, catalogue = own_catalogue_batch(tmp_path / "b", replications=3)
    out = tmp_path / "out"
    stopped = []

    def stop_after_one(result):  # the batch is interrupted after one of its three runs
        stopped.append(result)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(load_batch(batch), out, workers=1, progress=False, on_result=stop_after_one)
    assert len(list((out / "runs").glob("*.parquet"))) == 1
    raise_pension(catalogue)  # same path, new contents
    proc = cli("batch", str(batch), "--out", str(out), "--workers", "1", "--quiet")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "different batch" in proc.stderr
    assert "economy.catalogue of package 'baseline'" in proc.stderr and str(catalogue) in proc.stderr
    assert len(list((out / "runs").glob("*.parquet"))) == 1  # nothing computed with the new pension


def test_resume_after_the_engine_changed_is_refused_not_mixed(tmp_path, monkeypatch):
    # Runs made by other rules (lifecircle updated between the kill and the resume) are another
    # batch's: the resume is refused, naming the engine, and nothing is computed.
    from sim.batch import runner
    from sim.io import checkpoint

    batch, _ = own_catalogue_batch(tmp_path / "b", replications=3)
    out = tmp_path / "out"

    def stop_after_one(result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(load_batch(batch), out, workers=1, progress=False, on_result=stop_after_one)
    assert len(list((out / "runs").glob("*.parquet"))) == 1
    monkeypatch.setattr(checkpoint, "engine_fingerprint", lambda: "0123456789abcdef")
    monkeypatch.setattr(runner, "engine_fingerprint", lambda: "0123456789abcdef")
    with pytest.raises(ScenarioError, match="different batch.*engine's code changed"):
        run_batch(load_batch(batch), out, workers=1, progress=False)
    assert len(list((out / "runs").glob("*.parquet"))) == 1


def test_a_worker_refuses_inputs_changed_after_the_batch_started(tmp_path):
    batch, catalogue = own_catalogue_batch(tmp_path / "b", replications=3)
    changed = []

    def change_once(result):
        if not changed:
            raise_pension(catalogue)
            changed.append(True)

    summary = run_batch(load_batch(batch), tmp_path / "out", workers=1, progress=False, on_result=change_once)
    assert (summary.done, summary.failed) == (1, 2)
    assert all("changed since the batch started" in e and "economy.catalogue" in e for e in summary.failures.values())
    assert read_runs(tmp_path / "out")["run_id"].nunique() == 1


def test_a_worker_running_other_code_than_the_batch_refuses_its_runs(tmp_path, monkeypatch):
    # A worker started before lifecircle's code changed (a Dask worker, a kernel) would compute with the
    # old code under the new code's fingerprint: each task carries the planner's engine and the worker
    # compares its own. (Here the worker's engine changes after the first run.)
    from sim.batch import runner

    batch, _ = own_catalogue_batch(tmp_path / "b", replications=3)

    def change_once(result):
        monkeypatch.setattr(runner, "engine_fingerprint", lambda: "fedcba9876543210")

    summary = run_batch(load_batch(batch), tmp_path / "out", workers=1, progress=False, on_result=change_once)
    assert (summary.done, summary.failed) == (1, 2)
    assert all("other lifecircle code (engine fedcba9876543210)" in e for e in summary.failures.values())


def test_the_engine_fingerprint_is_the_loaded_code_s_and_refuses_files_changed_since(monkeypatch):
    # Taken when the engine was imported; a file changed since (its time or size) has no honest answer.
    from sim.io import checkpoint

    fingerprint, stamps = checkpoint._LOADED
    assert checkpoint.engine_fingerprint() == fingerprint
    entry = next(k for k in stamps if k.endswith("economy/entry.py"))
    monkeypatch.setattr(checkpoint, "_LOADED", (fingerprint, {**stamps, entry: (stamps[entry][0] - 1, stamps[entry][1])}))
    with pytest.raises(checkpoint.EngineChangedError, match=r"changed after this process loaded it \(sim/economy/entry.py\)"):
        checkpoint.engine_fingerprint()


# ----------------------------------------------------------------------------- item 2: damaged run files

def test_damaged_run_files_are_recomputed_with_a_warning(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=4)
    out, clean = tmp_path / "out", tmp_path / "clean"
    run_batch(load_batch(batch), out, workers=1, progress=False)
    run_batch(load_batch(batch), clean, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    runs = sorted((out / "runs").glob("*.parquet"))
    runs[0].write_bytes(runs[0].read_bytes()[:100])   # truncated
    runs[1].write_bytes(b"")                          # emptied
    data = bytearray(runs[2].read_bytes())            # one byte flipped in the middle
    data[len(data) // 2] ^= 0xFF
    runs[2].write_bytes(bytes(data))
    with pytest.raises(ScenarioError, match="damaged run file"):
        read_runs(out)  # `compare` on the damaged folder: a clear message, not a pyarrow traceback
    proc = cli("batch", str(batch), "--out", str(out), "--workers", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "1 already done, 3 done now, 0 failed, 3 damaged file(s) moved to corrupt/" in proc.stdout
    assert proc.stderr.count("computed again") == 3 and runs[0].name in proc.stderr
    assert len(list((out / "corrupt").iterdir())) == 3
    pd.testing.assert_frame_equal(read_sorted(out), read_sorted(clean))
    again = run_batch(load_batch(batch), out, workers=1, progress=False)
    assert (again.skipped, again.done, again.recomputed) == (4, 0, 0)


def test_a_complete_file_without_its_manifest_line_is_recovered_not_recomputed(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=2)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(lines[0] + lines[1][:20])  # killed after the rename, mid-way through the line
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    summary = run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert (summary.skipped, summary.done, summary.recomputed) == (2, 0, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")} == mtimes
    entries = [e for e in read_manifest(out) if e.get("recovered")]
    assert len(entries) == 1 and len(entries[0]["sha256"]) == 64  # the torn line did not swallow it


# ----------------------------------------------------------------------------- item 4: bad --out of a batch

def test_bad_batch_out_is_a_clear_error_before_any_run(tmp_path):
    batch = write_batch(tmp_path / "b", replications=1)
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "sub"):
        proc = cli("batch", str(batch), "--out", str(out), "--quiet")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"--out {out}" in proc.stderr and "file, not a folder" in proc.stderr


# ----------------------------------------------------------------------------- item 7: a local worker dies

def die_on_second(task):
    """A worker function whose run number 1 kills its own worker process (test stand-in for a crash)."""
    if task.plan.run_id == "run-1":
        os._exit(9)
    return {"run_id": task.plan.run_id, "status": "done", "pid": os.getpid()}


class FakePlan:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


class FakeTask:
    def __init__(self, run_id: str) -> None:
        self.plan = FakePlan(run_id)


def test_a_run_that_kills_its_worker_is_failed_alone_and_the_rest_complete():
    from sim.batch.executors import run_processes

    results = []
    with pytest.warns(UserWarning, match="worker process died"):
        run_processes((FakeTask(f"run-{i}") for i in range(8)), 2, results.append, run=die_on_second)
    status = {r["run_id"]: r["status"] for r in results}
    assert status == {f"run-{i}": "failed" if i == 1 else "done" for i in range(8)}
    assert "died" in next(r["error"] for r in results if r["run_id"] == "run-1")


@pytest.mark.slow
def test_killing_one_local_worker_does_not_abort_the_batch(tmp_path, batch_checkpoints):
    import psutil

    # a second package that is not a twin of the baseline (a twin's runs are copied, not run by workers)
    (tmp_path / "b").mkdir(parents=True)
    (tmp_path / "b" / "other.toml").write_text(f'extends = "{BASELINE.as_posix()}"\nname = "other"\n'
                                               f'[levers.lockers]\nenabled = true\n', encoding="utf-8")
    batch = write_batch(tmp_path / "b", replications=12, extra_packages='copy = "other.toml"')
    out = tmp_path / "out"
    proc = subprocess.Popen([*LIFECIRCLE, "batch", str(batch), "--out", str(out), "--workers", "2", "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list((out / "runs").glob("*.parquet"))) < 2:
        time.sleep(0.05)
    # Workers are forked by the fork server (the coordinator's grandchildren), or spawned where there is none.
    coordinator = psutil.Process(proc.pid)
    children = coordinator.children(recursive=True)
    workers = [c for c in children if c.ppid() != proc.pid] or [
        c for c in children if any("spawn_main" in part for part in c.cmdline())]
    assert len(workers) == 2, [c.cmdline() for c in workers]
    workers[0].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "BrokenProcessPool" not in stderr and "Traceback" not in stderr
    assert "0 failed" in stdout
    statuses = {k: v["status"] for k, v in run_status(out).items()}
    assert len(statuses) == 24 and set(statuses.values()) == {"done"}
    clean = tmp_path / "clean"
    run_batch(load_batch(batch), clean, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    pd.testing.assert_frame_equal(read_sorted(out), read_sorted(clean))


def test_workers_end_when_their_coordinator_is_killed(tmp_path):
    import psutil

    from sim.batch.executors import WATCH_SECONDS

    batch = write_batch(tmp_path / "b", replications=8, extra_packages=f'copy = "{BASELINE.as_posix()}"')
    out = tmp_path / "out"
    proc = subprocess.Popen([*LIFECIRCLE, "batch", str(batch), "--out", str(out), "--workers", "2", "--quiet"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "runs").glob("*.parquet")):
        time.sleep(0.05)
    # Its workers (forked by the fork server, or spawned where there is none) and the fork server.
    workers = [c for c in psutil.Process(proc.pid).children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
    assert len(workers) >= 2, [c.cmdline() for c in workers]
    proc.kill()  # the coordinator alone (SIGKILL: it cannot stop its pool)
    proc.wait()

    def running(p: psutil.Process) -> bool:
        try:
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 5 * WATCH_SECONDS + 10
    while time.monotonic() < deadline and any(running(p) for p in workers):
        time.sleep(0.1)
    left = [p.pid for p in workers if running(p)]
    for pid in left:  # not to leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "worker processes (or their fork server) outlived their killed coordinator"


# ----------------------------------------------------------------------------- item 8: Dask

@pytest.mark.parametrize("address, expected", [
    ("foo", "not an address"),
    ("tcp://h:notaport", "invalid literal"),
    ("inproc://x", "scheme 'inproc' cannot reach a scheduler"),
    ("tcp://localhost:99999", "port from 1 to 65535"),
])
def test_malformed_scheduler_addresses_exit_2(tmp_path, address, expected):
    batch = write_batch(tmp_path / "b", replications=1)
    proc = cli("batch", str(batch), "--out", str(tmp_path / "out"), "--scheduler", address, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"--scheduler {address!r}" in proc.stderr and expected in proc.stderr
    assert "tcp://host:8786" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_an_address_that_is_not_a_dask_scheduler_fails_within_the_timeout():
    from sim.batch.cluster import probe

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(ScenarioError, match="no Dask answer within 2 s"):
            probe(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=2)
    finally:
        server.close()
    assert time.monotonic() - started < 15


def test_nobody_listening_is_a_clear_error(tmp_path):
    from sim.batch.cluster import probe

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ScenarioError, match="cannot reach a Dask scheduler|no Dask answer"):
        probe(f"tcp://127.0.0.1:{port}", timeout=2)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_dask_cluster_that_loses_every_worker_stops_the_batch_with_a_message(tmp_path):
    from distributed import Client, LocalCluster

    from sim.batch.executors import BatchStopped

    batch = write_batch(tmp_path / "b", replications=6)
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        def lose_workers(result):
            if len(cluster.workers):
                cluster.scale(0)

        started = time.monotonic()
        with pytest.raises(BatchStopped, match="no workers for 3 s"):
            run_batch(load_batch(batch), out, client=client, progress=False, on_result=lose_workers,
                      worker_timeout=3)
        assert time.monotonic() - started < 120
    done = [e for e in read_manifest(out) if e.get("status") == "done"]
    assert 1 <= len(done) < 6  # what finished is kept; rerunning resumes
    summary = run_batch(load_batch(batch), out, workers=1, progress=False)
    # A run the retiring worker finished after the coordinator stopped listening is recovered from its file.
    assert summary.skipped >= len(done) and summary.skipped + summary.done == 6 and summary.failed == 0


# ----------------------------------------------------------------------------- item 9: lazy planning

def test_a_huge_design_costs_the_coordinator_little_before_its_first_run(tmp_path):
    folder = tmp_path / "b"
    batch = write_batch(folder, replications=1, extra='\n[parameters."economy.rent_multiplier"]\nlow = 0.8\n'
                        'high = 1.2\n\n[design]\nmethod = "latin"\nsamples = 200000\n')
    text = batch.read_text(encoding="utf-8").replace("replications = 1", "replications = 20")
    batch.write_text(text, encoding="utf-8")  # 200,000 points x 20 replications = 4 million runs
    spec = load_batch(batch)

    class FirstRun(Exception):
        pass

    def stop(result):
        raise FirstRun

    tracemalloc.start()
    try:
        with pytest.raises(FirstRun):
            run_batch(spec, tmp_path / "out", workers=1, progress=False, on_result=stop)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The design matrix itself is 1.6 MB; a list of 4 million run plans was gigabytes.
    assert peak < 150 * 2**20, f"coordinator peaked at {peak / 2**20:.0f} MB before its first run"
    info = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert info["replications"] == 20 and len(info["replicate_seeds"]) == 20


# ----------------------------------------------------------------------------- item 11: folder integrity

def test_a_folder_whose_batch_json_was_deleted_is_refused(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    (out / "batch.json").unlink()
    other = write_batch(tmp_path / "c", replications=2)
    proc = cli("batch", str(other), "--out", str(out), "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no batch.json" in proc.stderr and "cannot be matched" in proc.stderr
    assert len(list((out / "runs").glob("*.parquet"))) == 1  # nothing of the other batch was mixed in


def test_foreign_run_files_are_moved_out_of_the_dataset(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    stray = out / "runs" / "baseline-p0000-r07.parquet"  # not a run of this batch (1 replication)
    stray.write_bytes((out / "runs" / "baseline-p0000-r00.parquet").read_bytes())
    with pytest.warns(UserWarning, match="not a run of this batch"):
        summary = run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    assert (summary.skipped, summary.recomputed, summary.foreign, summary.done) == (1, 0, 1, 0) and not stray.exists()
    assert read_runs(out)["run_id"].unique().tolist() == ["baseline-p0000-r00"]


@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe\x00garbage", b'{"name": "x"}'])
def test_a_damaged_batch_json_is_a_clear_error(tmp_path, damage, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    (out / "batch.json").write_bytes(damage)
    for args in (("batch", str(batch), "--out", str(out), "--quiet"), ("compare", str(out))):
        proc = cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "batch.json: damaged" in proc.stderr


def test_a_manifest_with_bytes_that_are_not_utf8_resumes(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=2)
    out = tmp_path / "out"
    run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints)
    with open(out / "manifest.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe garbage \xc3\x28\n")
    proc = cli("batch", str(batch), "--out", str(out), "--quiet")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "2 already done" in proc.stdout


def test_two_batches_into_one_folder_at_once_the_second_is_refused(tmp_path, batch_checkpoints):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [LIFECIRCLE[0], "-c", "import sys; from pathlib import Path; from sim.batch.store import BatchLock\n"
         f"with BatchLock(Path({str(out)!r})):\n    print('held', flush=True); sys.stdin.read()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = cli("batch", str(batch), "--out", str(out), "--quiet")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "another lifecircle batch is writing into this folder" in proc.stderr
        assert not (out / "runs").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with BatchLock(out):  # released with its process: the folder is usable again
        pass
    assert run_batch(load_batch(batch), out, workers=1, progress=False, checkpoint_dir=batch_checkpoints).done == 1


def test_batch_files_are_readable_like_the_files_beside_them(tmp_path):
    batch = write_batch(tmp_path / "b", replications=1)
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        run_batch(load_batch(batch), out, workers=1, progress=False)
    finally:
        os.umask(old)
    for path in [*(out / "runs").glob("*.parquet"), *(out / "accounts").glob("*.csv"), out / "batch.json",
                 *(out / "scenarios").glob("*.toml")]:
        assert path.stat().st_mode & 0o777 == 0o644, path
