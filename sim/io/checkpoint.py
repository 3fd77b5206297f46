"""The settled state of a district as a file: warm up once, fork many runs from it.

A run first simulates ``warmup_years`` with every lever off (see :class:`sim.model.LifeCircleModel`).
That state depends only on the scenario's district, people and economy, the seed and the engine's
code -- never on the levers, the years measured or the outputs -- so every run of the same seed
(paired packages of a batch, the interactive view, notebooks) can start from one saved copy.

A checkpoint is two files in a store folder, named by its key (a content hash):

* ``<key>.npz``: the state arrays (NumPy's format, read back with ``allow_pickle=False``);
* ``<key>.json``: a small header: format, key, lifecircle version, seed, what the warm-up was
  computed from, the scalar state (random-stream positions, ledger balances, queues), and the
  SHA-256 of the ``.npz``.

Nothing is pickled. A checkpoint whose header, key or checksum does not match is rebuilt with a
warning; writes are atomic (a killed process leaves no half-written checkpoint behind), and a lock
per key (:meth:`CheckpointStore.lock`) lets only one of several processes that need the same
warm-up compute it (a batch of 8 packages x 4 seeds warms up 4 times, not 32).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim import __version__
from sim.errors import EngineChangedError
from sim.io.atomic import atomic_write_bytes

FORMAT = 1
"""Layout version of the files; a checkpoint of another format is rebuilt."""

ENV_STORE = "LIFECIRCLE_CHECKPOINTS"
"""Environment variable naming the default store folder (``off`` disables the default store)."""


class CheckpointWarning(UserWarning):
    """A checkpoint could not be used (mismatched or corrupt) and is being rebuilt."""


def _engine_files() -> list[Path]:
    root = Path(__file__).resolve().parents[1]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".toml", ".csv", ".json"}
                  and "__pycache__" not in p.parts)


def _stamps(files: list[Path]) -> dict[str, tuple[int, int]]:
    """Each file's modification time (ns) and size."""
    return {str(p): (stat.st_mtime_ns, stat.st_size) for p in files for stat in (p.stat(),)}


def _hash_engine() -> tuple[str, dict[str, tuple[int, int]]]:
    root = Path(__file__).resolve().parents[1]
    files = _engine_files()
    stamps = _stamps(files)  # before reading: a file changed while it is read shows as changed later
    digest = hashlib.sha256(__version__.encode())
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16], stamps


_LOADED = _hash_engine()
"""The engine's fingerprint when this module was imported (with every simulation module, by any run),
and each file's modification time and size then."""


def engine_fingerprint() -> str:
    """A hash of the engine's code and data (every file under ``sim/``) as this process loaded them: a
    checkpoint or a batch's run made by other rules is never reused or mixed in, whatever the version
    number says.

    It is taken when the process first imports the engine, not when asked: a process that keeps
    running (a Jupyter kernel, a Dask worker) while the files change goes on running the code it
    loaded. If the files have changed since, there is no honest answer and
    :class:`EngineChangedError` says to restart the process.
    """
    fingerprint, stamps = _LOADED
    now = _stamps(_engine_files())
    if now != stamps:
        changed = sorted(set(now) ^ set(stamps) | {k for k in now.keys() & stamps.keys() if now[k] != stamps[k]})
        root = Path(__file__).resolve().parents[1]
        names = ", ".join(Path(k).relative_to(root.parent).as_posix() for k in changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise EngineChangedError(
            f"lifecircle's code changed after this process loaded it ({names}): what it computes now would be "
            f"recorded as the new code's. Restart the process (the Jupyter kernel, the Dask workers) to run "
            f"the code on disk")
    return fingerprint


def warmup_basis(scenario: Any, seed: int) -> dict[str, Any]:
    """Everything the warm-up of ``scenario`` with ``seed`` depends on, as plain data.

    The scenario without its name, description, measured years, levers, outputs and life circles (none of which the warm-up reads); the contents
    of every input file it reads (catalogue, city and table files) except the life circles' file
    (``circles.path``: polygons or a node table); the seed, the engine and the residents per block.
    """
    data = scenario.to_dict()
    for key in ("name", "description", "years", "levers", "output", "circles"):
        data.pop(key, None)
    from sim.io.inputs import input_digests

    from sim.services import blocks

    inputs = {key: digest for key, digest in input_digests(scenario).items() if not key.startswith("circles.")}
    # The residents per block of the daily passes (each block draws from its own stream): results
    # depend on it (LIFECIRCLE_BLOCK_RESIDENTS, a test setting), never on the thread count.
    return {"format": FORMAT, "engine": engine_fingerprint(), "seed": int(seed), "scenario": data, "inputs": inputs,
            "block": int(blocks.RESIDENT_BLOCK)}


def warmup_key(scenario: Any, seed: int) -> str:
    """The store key of the warm-up of ``scenario`` with ``seed`` (24 hex digits)."""
    blob = json.dumps(warmup_basis(scenario, seed), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


@dataclass
class Checkpoint:
    """A settled state: arrays and a JSON-able header of scalars."""

    arrays: dict[str, np.ndarray]
    header: dict[str, Any]


class CheckpointStore:
    """A folder of checkpoints, found by key.

    Args:
        root: The folder (created on first save).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def paths(self, key: str) -> tuple[Path, Path]:
        """The ``.npz`` and ``.json`` files of ``key``."""
        return self.root / f"{key}.npz", self.root / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether both files of ``key`` exist (not whether they are valid)."""
        return all(p.is_file() for p in self.paths(key))

    def load(self, key: str) -> Checkpoint | None:
        """The checkpoint of ``key``, or None if there is none; a mismatched or corrupt one is
        reported with a :class:`CheckpointWarning` and None is returned (the caller rebuilds it)."""
        npz, head = self.paths(key)
        if not (npz.is_file() and head.is_file()):
            return None
        try:
            header = json.loads(head.read_text(encoding="utf-8"))
            blob = npz.read_bytes()
            problem = None
            if header.get("format") != FORMAT or header.get("key") != key:
                problem = f"format {header.get('format')} / key {header.get('key')} do not match {FORMAT} / {key}"
            elif header.get("engine") != engine_fingerprint():
                problem = "made by other model code"
            elif hashlib.sha256(blob).hexdigest() != header.get("sha256"):
                problem = "its arrays do not match their checksum"
            if problem is None:
                with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                    arrays = {name: data[name] for name in data.files}
                return Checkpoint(arrays=arrays, header=header)
        except (OSError, ValueError, KeyError, EOFError) as err:
            problem = f"unreadable ({type(err).__name__}: {err})"
        warnings.warn(f"checkpoint {npz.with_suffix('')} {problem}; warming up again", CheckpointWarning, stacklevel=3)
        return None

    def lock(self, key: str):
        """A lock on ``key`` across processes (and machines sharing the folder): the one process
        that holds it warms up and saves; the others wait and then load what it saved."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / f"{key}.lock")

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` under ``key`` (atomically: arrays first, then the header)."""
        npz, head = self.paths(key)
        buffer = io.BytesIO()
        np.savez(buffer, **checkpoint.arrays)
        blob = buffer.getvalue()
        header = {**checkpoint.header, "format": FORMAT, "key": key, "engine": engine_fingerprint(),
                  "lifecircle_version": __version__, "sha256": hashlib.sha256(blob).hexdigest()}
        atomic_write_bytes(npz, blob)
        atomic_write_bytes(head, json.dumps(header, indent=1, sort_keys=True).encode())


def default_store() -> CheckpointStore | None:
    """The store a model uses unless told otherwise: ``$LIFECIRCLE_CHECKPOINTS`` (``off``: none),
    else the user's cache folder (``~/.cache/lifecircle/checkpoints`` on Linux)."""
    where = os.environ.get(ENV_STORE)
    if where is not None:
        return None if where.strip().lower() in ("", "off", "none", "0") else CheckpointStore(where)
    import platformdirs

    return CheckpointStore(Path(platformdirs.user_cache_dir("lifecircle")) / "checkpoints")
