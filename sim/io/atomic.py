"""Atomic file writes: a file is either complete or absent, never half written.

Results and manifests are written through here, so a run or batch killed mid-write leaves no
truncated file behind (a resumed batch trusts what it finds). Kept apart from :mod:`sim.run` so
that a batch coordinator can write its files without importing the model.

The data is written to a hidden temporary file in the same folder, flushed to disk (``fsync``) and
renamed over the target, and the folder itself is synced so that the rename survives a power cut.
The temporary file is created with the permissions any new file gets (``0666`` less the umask,
usually ``0644``), not the ``0600`` of :func:`tempfile.mkstemp`, so results stay readable by the
group and others exactly like the files written beside them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that it is either complete or absent (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: a fresh file of our own; mode 0o666 lets the process umask decide, as for open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
