"""The set-up script finds Python >= 3.12 by itself, and says what is missing when there is none.

The script runs in a sealed environment: a PATH holding only the tools it needs and a fake
``python3`` that is too old, no pyenv, an empty HOME and no system folders to search.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("bash", "cat", "cksum", "cut", "dirname", "ls", "sort", "id")


def _sealed(tmp_path: Path, python_version: str) -> tuple[Path, dict[str, str]]:
    for name in ("lc", "setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), bin_dir / tool)
    fake = bin_dir / "python3"  # answers the version check like the given version would
    fake.write_text(f"#!{shutil.which('bash')}\nexec {sys.executable} -c "
                    f"'import sys; sys.exit(0 if {python_version} >= (3, 12) else 1)'\n")
    fake.chmod(0o755)
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LIFECIRCLE_SYSTEM_DIRS": str(empty)}
    return tmp_path / "lc", env


def test_without_a_suitable_python_it_says_what_is_missing(tmp_path):
    lc, env = _sealed(tmp_path, "(3, 11)")
    proc = subprocess.run([shutil.which("bash"), str(lc), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "needs Python 3.12 or newer" in proc.stderr and "LIFECIRCLE_PYTHON" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_an_old_python_named_explicitly_is_refused(tmp_path):
    lc, env = _sealed(tmp_path, "(3, 11)")
    env["LIFECIRCLE_PYTHON"] = str(tmp_path / "bin" / "python3")
    proc = subprocess.run([shutil.which("bash"), str(lc), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 3 and "needs Python 3.12" in proc.stderr


def test_a_suitable_python_on_the_path_is_the_one_used(tmp_path):
    lc, env = _sealed(tmp_path, "(3, 12)")
    proc = subprocess.run([shutil.which("bash"), str(lc), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    # The fake interpreter cannot really make a venv, so set-up stops after choosing it.
    assert f"creating .venv with {tmp_path / 'bin' / 'python3'}" in proc.stderr
    assert proc.returncode != 0


@pytest.mark.slow
def test_lc_notebook_starts_jupyterlab_on_the_notebooks(tmp_path):
    """``./lc notebook`` starts JupyterLab (installed by the notebook extras) serving notebooks/."""
    import json
    import signal
    import socket
    import time
    import urllib.request

    if not (ROOT / ".venv" / "bin" / "jupyter").is_file():
        pytest.fail("JupyterLab is not installed in .venv: run ./lc test (the test extras include it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen([shutil.which("bash"), str(ROOT / "lc"), "notebook", "--no-browser", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=lesson"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, listing = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=lesson", timeout=5) as r:
                    listing = json.load(r)
                    break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, proc.stdout.read().decode(errors="replace")[-3000:] if proc.poll() is not None else "no answer"
        names = sorted(item["name"] for item in listing["content"])
        assert names == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=lesson", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
