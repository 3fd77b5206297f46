"""Output folders: where a run's results go, checked before the simulation and never mixed.

* A folder derived from a scenario's ``name`` (``results/<name>``) is made of a sanitised name and
  stays under ``results/``: a name such as ``"../../x"`` or ``"/etc"`` cannot write elsewhere.
* ``--out`` is created and tested for writing *before* the simulation (:func:`writable_dir`): an
  existing file, a path under a file or a read-only folder is a clear error, not a traceback after
  an hour of simulation.
* A run owns its folder through a marker file, ``.lifecircle-run.json``, which lists the files the
  run wrote, and the scenario's name (:func:`claim_run_dir`, :func:`finish_run_dir`). Rerunning the
  same scenario into a folder it owns replaces those files and removes the ones the new run does not
  write (no figures of the first run beside the report of the second). A folder holding anything
  else, or another scenario's results, is refused unless ``force``: then earlier lifecircle outputs
  in it (by their names) are replaced and other files are left as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Iterable

from sim.io.atomic import atomic_write_bytes
from sim.scenario import ScenarioError

RESULTS = Path("results")
"""Folder (relative to the working directory) of runs whose ``--out`` is not given."""
MARKER = ".lifecircle-run.json"
"""The file by which a run marks a folder as its own, listing what it wrote."""
KNOWN_OUTPUTS = ("timeseries.parquet", "warmup.parquet", "effects.csv", "persistence.csv", "scorecard.csv",
                 "scenario.resolved.toml", "report.md", "accounts.csv", "outlets.parquet", "homes.parquet",
                 "circles.parquet", "circle_scorecard.csv", "circle_nodes.csv", "circle_evaluations.csv",
                 "figures", "timings.json")
"""Everything ``lifecircle run`` may write (``figures`` is a folder of PNGs): replaced under
``force``, and after a run killed while writing (a test runs a city with every lever and checks
that nothing it writes is missing here)."""


def safe_name(name: str) -> str:
    """A scenario name made into one safe path component: letters (any script), digits, ``_ . -``;
    every other run of characters (``/``, ``\\``, spaces, ``:`` ...) becomes ``_``; leading and
    trailing dots, dashes and underscores are dropped (no ``..``, no hidden folder)."""
    cleaned = re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._-")
    return cleaned[:120] or "unnamed"


def default_run_dir(name: str, results: Path = RESULTS) -> Path:
    """``results/<safe name>``; always a direct child of ``results``."""
    path = results / safe_name(name)
    if path.resolve().parent != results.resolve():  # cannot happen with safe_name; kept as the invariant
        raise ScenarioError(f"name = {name!r}: cannot make an output folder under {results}/ from it")
    return path


def writable_dir(path: str | Path, *, option: str = "--out") -> Path:
    """Create ``path`` (and its parents) if needed and check that files can be written in it.

    Raises:
        ScenarioError: ``path`` is a file, lies under a file, cannot be created, or is read-only.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ScenarioError(f"{option} {path}: is a file, not a folder; allowed: a new or existing folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ScenarioError(f"{option} {path}: a part of this path is a file, not a folder; "
                            f"allowed: a new or existing folder") from None
    except OSError as err:
        raise ScenarioError(f"{option} {path}: cannot create the folder ({err.strerror or err})") from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".lifecircle-probe-"):
            pass
    except OSError as err:
        raise ScenarioError(f"{option} {path}: cannot write in this folder ({err.strerror or err}); "
                            f"allowed: a folder you can write to") from None
    return path


def _read_marker(path: Path) -> dict | None:
    marker = path / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": []}  # ours (the name says so) but unreadable: it listed nothing we trust
    return data if isinstance(data, dict) else {"files": []}


def _write_marker(path: Path, data: dict) -> None:
    atomic_write_bytes(path / MARKER, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def claim_run_dir(path: str | Path, *, force: bool = False, scenario: str = "") -> Path:
    """Make ``path`` a folder this run may write its outputs into, before the simulation.

    A new or empty folder, or one a previous lifecircle run of the same ``scenario`` (its name)
    marked as its own, is claimed. A folder with other files, or marked by a run of another
    scenario, is refused, unless ``force``: then the earlier lifecircle outputs in it
    (:data:`KNOWN_OUTPUTS`) are removed when the run's outputs are written, and other files stay.

    Raises:
        ScenarioError: the folder cannot be written, holds files that are not a run's outputs, or
            holds another scenario's results.
    """
    path = writable_dir(path)
    marker = _read_marker(path)
    if marker is None:
        others = sorted(p.name for p in path.iterdir())
        if others and not force:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            raise ScenarioError(
                f"--out {path}: the folder is not empty and was not written by a lifecircle run ({shown}); "
                f"allowed: a new or empty folder, or a previous run's folder; --force writes into it anyway "
                f"(earlier lifecircle outputs there are replaced, other files are kept)")
        previous = [name for name in KNOWN_OUTPUTS if (path / name).exists()] if force else []
        marker = {"files": previous}
    elif marker.get("scenario") and scenario and marker["scenario"] != scenario and not force:
        # Another scenario's results: replacing them is not what rerunning means, so it is asked for.
        raise ScenarioError(
            f"--out {path}: holds the results of scenario {marker['scenario']!r}, not {scenario!r}; allowed: a new "
            f"or empty folder, or a folder of an earlier run of {scenario!r}; --force replaces "
            f"{marker['scenario']!r}'s results (other files there are kept)")
    if marker.get("state") == "running":
        # A run killed while writing left files its marker does not list yet: they are ours to replace.
        present = [name for name in KNOWN_OUTPUTS if (path / name).exists()]
        marker["files"] = sorted(set(marker.get("files", [])) | set(present))
    marker.update({"tool": "lifecircle run", "state": "running", "scenario": scenario,
                   "started": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    _write_marker(path, marker)
    return path


def discard_previous_outputs(path: str | Path) -> None:
    """Remove the earlier run's outputs from a claimed folder, just before this run writes its own:
    a run killed while writing then leaves some of its own files (its marker says "running"), never
    its files beside an earlier run's. (The earlier results are replaced by this run's in any case;
    they are kept until its results exist.)"""
    path = Path(path)
    marker = _read_marker(path)
    if marker is None:
        return
    _remove_listed(path, set(marker.get("files", [])), keep=set())
    marker.update({"files": [], "state": "running"})
    marker.pop("finished", None)
    _write_marker(path, marker)


def finish_run_dir(path: str | Path, written: Iterable[Path]) -> None:
    """Record the files a run wrote into its folder and remove what an earlier run left there.

    Every file the marker listed before (an earlier run's outputs) that this run did not write is
    deleted, so the folder holds exactly one run's results.
    """
    path = Path(path)
    marker = _read_marker(path) or {"files": []}
    now = sorted({Path(p).resolve().relative_to(path.resolve()).as_posix() for p in written})
    _remove_listed(path, set(marker.get("files", [])) - set(now), keep=set(now))
    marker.update({"state": "complete", "files": now,
                   "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    _write_marker(path, marker)


def _remove_listed(path: Path, listed: set[str], keep: set[str]) -> None:
    """Delete the files ``listed`` (relative to ``path``; a folder: its files not in ``keep``), never
    following a path out of the folder; folders of outputs left empty go too."""
    for stale in listed:
        target = (path / stale).resolve()
        if target.parent != path.resolve() and path.resolve() not in target.parents:
            continue  # the marker is ours, but never follow a path out of the folder
        if target.is_dir() and not target.is_symlink():
            # A folder of outputs (figures/): remove what is not written now, then the folder if empty.
            for child in target.rglob("*"):
                if child.is_file() and child.relative_to(path.resolve()).as_posix() not in keep:
                    child.unlink()
            if not any(target.iterdir()):
                target.rmdir()
        elif target.exists() or target.is_symlink():
            target.unlink()
            parent = target.parent  # a sub-folder of outputs (figures/) left empty goes too
            while parent != path.resolve() and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


def run_dir_owned(path: str | Path) -> bool:
    """Whether a lifecircle run has marked ``path`` as its output folder."""
    return (Path(path) / MARKER).is_file()

