"""The on-disk store of a batch: one Parquet file per finished run, a manifest, provenance.

Layout of ``DIR``::

    DIR/batch.toml              copy of the batch file
    DIR/batch.json              fingerprint, design method, SALib problem, input-file digests
    DIR/design.parquet          the design matrix as run (point, one column per parameter; integer keys rounded)
    DIR/design_drawn.parquet    the matrix as the sampler drew it, where that differs (for SALib's analysers)
    DIR/provenance.json         package versions, git commit, python, command line
    DIR/manifest.jsonl          one JSON line per event: run done (with its file's SHA-256) / failed
    DIR/scenarios/<package>-<hash>.toml   every resolved scenario that ran (seed included)
    DIR/runs/<run_id>.parquet   tidy rows of one run
    DIR/accounts/<run_id>.csv   money by sector at the start and end of the run
    DIR/corrupt/                run files found damaged on resume, moved aside (never read)
    DIR/.lock                   held by the batch writing into DIR (one at a time)

A run file is written to a hidden temporary file in ``runs/`` (``.<run_id>.parquet.<random>.tmp``,
which pyarrow's dataset discovery skips because it starts with ``.``), synced to disk and renamed
into place, so it is complete or absent. On resume a run counts as done only when its file is
*verified*: its SHA-256 matches the one the manifest recorded when the run finished, or -- for a
file renamed into place just before a kill, with no manifest line yet -- the whole file reads as
Parquet and holds that run's rows. A file that fails is moved to ``corrupt/`` with a warning and
the run is computed again. The manifest is a log appended (flush + fsync) by the coordinating
process only; a line torn by a crash, or not UTF-8, is skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from sim.io.atomic import atomic_write_bytes
from sim.scenario import ScenarioError

RUNS = "runs"
MANIFEST = "manifest.jsonl"
BATCH_INFO = "batch.json"
ACCOUNTS = "accounts"
CORRUPT = "corrupt"
LOCK = ".lock"


def run_path(out: Path, run_id: str) -> Path:
    """Where run ``run_id``'s Parquet file lives."""
    return Path(out) / RUNS / f"{run_id}.parquet"


def write_run_frame(out: Path, run_id: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Write one run's rows atomically; returns ``{"sha256", "bytes"}`` of the file for the manifest."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    data = buf.getvalue()
    atomic_write_bytes(run_path(out, run_id), data)
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def finished_runs(out: Path) -> set[str]:
    """Run ids whose Parquet file exists in ``runs/`` (see :func:`verify_runs` for complete ones)."""
    folder = Path(out) / RUNS
    if not folder.is_dir():
        return set()
    return {p.name.removesuffix(".parquet") for p in folder.glob("*.parquet") if not p.name.startswith(".")}


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _readable_run(path: Path, run_id: str) -> str | None:
    """Why ``path`` is not a complete run file of ``run_id`` (None: it is)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["run_id"])
    except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
        return f"not a readable Parquet file ({err})"
    if table.num_rows == 0:
        return "holds no rows"
    ids = set(table.column("run_id").to_pylist())
    if ids != {run_id}:
        return f"holds rows of {sorted(ids)[:3]}, not of {run_id}"
    return None


@dataclass
class Verified:
    """What :func:`verify_runs` found in ``runs/``."""

    done: set[str] = field(default_factory=set)
    """Run ids whose file is complete."""
    recovered: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Complete files with no manifest line (renamed into place just before a kill): their digests."""
    moved: dict[str, str] = field(default_factory=dict)
    """Run id (or file name) -> why its file was moved to ``corrupt/``."""
    foreign: set[str] = field(default_factory=set)
    """Of :attr:`moved`, the files that are not runs of this batch (moved, never computed)."""


def verify_runs(out: Path, digests: dict[str, str], planned: Callable[[str], bool]) -> Verified:
    """Check every file in ``runs/``; move damaged or foreign ones to ``corrupt/`` with a warning.

    Args:
        out: The batch folder.
        digests: Run id -> the SHA-256 the manifest recorded when the run finished.
        planned: Whether a run id belongs to this batch's plan.
    """
    found = Verified()
    for run_id in sorted(finished_runs(out)):
        path = run_path(out, run_id)
        if not planned(run_id):
            reason = "not a run of this batch"
        elif run_id in digests:
            reason = None if file_sha256(path) == digests[run_id] else "its contents differ from the file the run wrote (SHA-256 mismatch)"
        else:
            reason = _readable_run(path, run_id)
            if reason is None:
                found.recovered[run_id] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
        if reason is None:
            found.done.add(run_id)
            continue
        found.moved[run_id] = reason
        target = quarantine(out, path)
        if planned(run_id):
            warnings.warn(f"{path}: {reason}; moved to {target}, the run will be computed again", stacklevel=2)
        else:
            found.foreign.add(run_id)
            warnings.warn(f"{path}: {reason}; moved to {target} (nothing to compute for it)", stacklevel=2)
    return found


def quarantine(out: Path, path: Path) -> Path:
    """Move a damaged or foreign file out of ``runs/`` into ``corrupt/`` (kept for inspection, never read)."""
    folder = Path(out) / CORRUPT
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    os.replace(path, target)
    return target


def remove_stale_temp_files(out: Path) -> int:
    """Delete temp files a killed worker left in ``runs/`` (and ``accounts/``); returns how many."""
    count = 0
    for name in (RUNS, ACCOUNTS):
        folder = Path(out) / name
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                count += 1
    return count


class Manifest:
    """Append-only JSON-lines log of run outcomes, written by the coordinator only."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / MANIFEST
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")
        # A line torn by a kill has no newline: start on a fresh line, or the next entry is lost with it.
        if self._fh.tell() > 0:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._fh.write(b"\n")

    def record(self, entry: dict[str, Any]) -> None:
        """Append one entry and make it durable (flush + fsync) before returning."""
        self._fh.write((json.dumps(entry, sort_keys=True, default=str) + "\n").encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_manifest(out: Path) -> Iterator[dict[str, Any]]:
    """Every readable manifest entry, in order: a line torn by a crash, or not UTF-8 JSON, is skipped."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        return
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(entry, dict):
                yield entry


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """Every readable manifest entry, in order (see :func:`iter_manifest`)."""
    return list(iter_manifest(out))


def run_status(out: Path) -> dict[str, dict[str, Any]]:
    """The latest manifest entry of each run id."""
    return {entry["run_id"]: entry for entry in iter_manifest(out) if "run_id" in entry}


def done_digests(out: Path) -> dict[str, str]:
    """Run id -> SHA-256 of its file, from the latest "done" entry of each run (only what resume needs)."""
    digests: dict[str, str] = {}
    for entry in iter_manifest(out):
        run_id = entry.get("run_id")
        if not isinstance(run_id, str):
            continue
        if entry.get("status") == "done" and isinstance(entry.get("sha256"), str):
            digests[run_id] = entry["sha256"]
        else:
            digests.pop(run_id, None)
    return digests


def read_runs(out: Path, columns: list[str] | None = None, filters: list | None = None) -> pd.DataFrame:
    """All finished runs as one tidy frame (``pd.read_parquet(DIR / "runs")`` with options).

    Raises:
        ScenarioError: a run file is damaged (named, with what to do) -- not a pyarrow traceback.
    """
    try:
        return pd.read_parquet(Path(out) / RUNS, columns=columns, filters=filters)
    except (OSError, ValueError) as err:
        bad = [run_path(out, r) for r in sorted(finished_runs(out)) if _readable_run(run_path(out, r), r)]
        named = ", ".join(map(str, bad[:5])) or f"({err})"
        raise ScenarioError(f"{out}: damaged run file(s) {named}; run the same `lifecircle batch` command "
                            f"again: it moves them to {Path(out) / CORRUPT} and computes those runs again") from None


def read_batch_info(out: str | Path) -> dict:
    """``DIR/batch.json``, the batch's description; a missing or damaged one is a clear error."""
    path = Path(out) / BATCH_INFO
    if not path.is_file():
        raise ScenarioError(f"{out}: not a batch output folder (no {BATCH_INFO}); run `lifecircle batch` first")
    try:
        info = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ScenarioError(f"{path}: damaged ({type(err).__name__}: {err}); the folder's runs cannot be "
                            f"matched to a batch: start the batch in a new --out folder") from None
    if not isinstance(info, dict) or "fingerprint" not in info:
        raise ScenarioError(f"{path}: damaged (no fingerprint); start the batch in a new --out folder")
    return info


def versions() -> dict[str, str]:
    """Versions of lifecircle and the packages whose behaviour decides the results."""
    out = {}
    for dist in ("lifecircle", "mesa", "numpy", "pandas", "pyarrow", "dask", "distributed", "SALib", "pydantic", "pyabc"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def git_commit(where: Path) -> str | None:
    """The git commit of the lifecircle source tree (``+dirty`` if it has changes), or None."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def provenance() -> dict[str, Any]:
    """Package versions, git commit, python and the command line of this process."""
    import sim

    return {
        "versions": versions(),
        "git_commit": git_commit(Path(sim.__file__).resolve().parent),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "argv": sys.argv,
    }


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    atomic_write_bytes(Path(path), (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def write_design(out: Path, names: list[str], X: Any, drawn: Any = None) -> None:
    """Store the design matrix as the runs took it (``design.parquet``: integer keys rounded), and,
    where the sampler drew other values (an integer key in a Latin, Sobol' or Morris design), the
    matrix as drawn (``design_drawn.parquet``), which SALib's analysers need exactly."""
    for name, matrix in (("design.parquet", X), (DRAWN_DESIGN, drawn)):
        if matrix is None or (name == DRAWN_DESIGN and np.array_equal(np.asarray(matrix), np.asarray(X))):
            continue
        frame = pd.DataFrame(matrix, columns=names)
        frame.insert(0, "point", range(len(frame)))
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(Path(out) / name, buf.getvalue())


DRAWN_DESIGN = "design_drawn.parquet"
"""The design matrix as the sampler drew it, where it differs from the one run (``design.parquet``)."""


def read_drawn_design(out: Path) -> pd.DataFrame:
    """The design matrix as drawn: ``design_drawn.parquet`` where the runs rounded some of it, else
    ``design.parquet`` (the two are the same)."""
    out = Path(out)
    drawn = out / DRAWN_DESIGN
    return pd.read_parquet(drawn if drawn.is_file() else out / "design.parquet")


class BatchLock:
    """An exclusive lock on a batch folder (``DIR/.lock``, :mod:`filelock`), held while a batch writes.

    A second batch pointed at the same folder while the first runs stops at once with a clear
    message instead of computing every run twice. The lock is released when the process ends, however
    it ends (the operating system drops a killed process's locks), so a killed batch never blocks its
    own resume.
    """

    def __init__(self, out: Path) -> None:
        from filelock import FileLock

        self.out = Path(out)
        self._lock = FileLock(str(self.out / LOCK), timeout=0)

    def __enter__(self) -> BatchLock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise ScenarioError(
                f"--out {self.out}: another lifecircle batch is writing into this folder (it holds "
                f"{self.out / LOCK}); wait for it to finish, or choose another --out folder") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
