"""Atomic file writes: a file is either complete or absent, never half written.

Results and manifests are written through here, so a run or batch killed mid-write leaves no
truncated file behind (a resumed batch trusts what it finds). Kept apart from :mod:`sim.run` so
that a batch coordinator can write its files without importing the model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that it is either complete or absent (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
