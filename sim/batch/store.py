"""The on-disk store of a batch: one Parquet file per finished run, a manifest, provenance.

Layout of ``DIR``::

    DIR/batch.toml              copy of the batch file
    DIR/batch.json              fingerprint, design method and SALib problem
    DIR/design.parquet          the design matrix as drawn (point, one column per parameter)
    DIR/provenance.json         package versions, git commit, python, command line
    DIR/manifest.jsonl          one JSON line per event: run done / failed (with its error text)
    DIR/scenarios/<package>-<hash>.toml   every resolved scenario that ran (seed included)
    DIR/runs/<run_id>.parquet   tidy rows of one run

A run file is written to a hidden temporary file in ``runs/`` (``.<run_id>.parquet.<random>.tmp``,
which pyarrow's dataset discovery skips because it starts with ``.``) and renamed into place, so
it is complete or absent: its existence is what "done" means on resume. The manifest is a log
appended (flush + fsync) by the coordinating process only; a line torn by a crash is skipped.
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.atomic import atomic_write_bytes

RUNS = "runs"
MANIFEST = "manifest.jsonl"


def run_path(out: Path, run_id: str) -> Path:
    """Where run ``run_id``'s Parquet file lives."""
    return Path(out) / RUNS / f"{run_id}.parquet"


def write_run_frame(out: Path, run_id: str, frame: pd.DataFrame) -> Path:
    """Write one run's rows atomically (hidden temp file in ``runs/`` + ``os.replace``)."""
    path = run_path(out, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            frame.to_parquet(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def finished_runs(out: Path) -> set[str]:
    """Run ids whose Parquet file exists (complete by construction)."""
    folder = Path(out) / RUNS
    if not folder.is_dir():
        return set()
    return {p.name.removesuffix(".parquet") for p in folder.glob("*.parquet") if not p.name.startswith(".")}


def remove_stale_temp_files(out: Path) -> int:
    """Delete temp files a killed worker left in ``runs/``; returns how many."""
    folder = Path(out) / RUNS
    count = 0
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
        self._fh = open(self.path, "a", encoding="utf-8")

    def record(self, entry: dict[str, Any]) -> None:
        """Append one entry and make it durable (flush + fsync) before returning."""
        self._fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """Every readable manifest entry, in order (a line torn by a crash is skipped)."""
    path = Path(out) / MANIFEST
    entries = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


def run_status(out: Path) -> dict[str, dict[str, Any]]:
    """The latest manifest entry of each run id."""
    return {entry["run_id"]: entry for entry in read_manifest(out) if "run_id" in entry}


def read_runs(out: Path, columns: list[str] | None = None, filters: list | None = None) -> pd.DataFrame:
    """All finished runs as one tidy frame (``pd.read_parquet(DIR / "runs")`` with options)."""
    return pd.read_parquet(Path(out) / RUNS, columns=columns, filters=filters)


def versions() -> dict[str, str]:
    """Versions of lifecircle and the packages whose behaviour decides the results."""
    out = {}
    for dist in ("lifecircle", "mesa", "numpy", "pandas", "pyarrow", "dask", "distributed", "SALib", "pydantic"):
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


def write_design(out: Path, names: list[str], X: Any) -> None:
    """Store the design matrix as drawn (SALib's analysers need exactly this)."""
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "point", range(len(frame)))
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(Path(out) / "design.parquet", buf.getvalue())
