"""The teaching notebooks are lessons that run top to bottom and compute what they claim.

Each notebook is copied to a temporary folder outside the repository (a notebook finds its data
through the installed package wherever it is opened) and executed with nbclient in a ``python3``
kernel that is this interpreter (``sys.executable``: a kernelspec written to a temporary
``JUPYTER_PATH``, so a ``python3`` kernel of another Python on the machine cannot be picked up).
Solutions run too (they are collapsed, not removed). A cell appended after the notebook prints the
variables the notebook computed, as JSON, and the test checks them. Each lesson has exercises with
code cells, collapsed solutions and teacher notes.

A session that runs the notebooks starts them when its tests are collected, in its low-priority
background workers (``session_background.py``, through :func:`start_in_background`); the tests
collect what they printed.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MARKER = "LIFECIRCLE-NOTEBOOK-RESULT:"


def _check_day(values: dict) -> None:
    assert 0.0 < values["basic_coverage_15"] < 1.0
    assert 0.85 < values["employment_rate"] < 1.0
    rings = values["ring_nodes"]
    # A retiree's rings are inside an adult's: the same streets, a slower walk.
    for tier in ("5", "10", "15"):
        assert rings["retiree"][tier] <= rings["adult"][tier]
    assert rings["adult"]["5"] < rings["adult"]["10"] < rings["adult"]["15"]
    cells = values["walked_cells"]
    assert len(cells) > 2 and cells[0] == cells[-1]  # out along the streets and home again
    assert values["farthest"] and values["elderly_gap"] > 0


def _check_levers(values: dict) -> None:
    # Delivery reaches outlets beyond a 15-minute walk: the platform lifts effective coverage.
    assert values["effect_on_effective_coverage"] > 0.10
    delivered = {float(k): v for k, v in values["delivered"].items()}
    assert delivered[max(delivered)] > 5 * delivered[min(delivered)]  # the slider moves use, not reach
    assert values["vendor_effect"] == values["vendor_effect"]  # a number


def _check_district(values: dict) -> None:
    assert values["osm_outlets"] > 50 and values["synthesised_outlets"] > 0
    assert 0.0 <= values["basic_coverage_15"] <= 1.0
    assert values["coverage_without_fill"] == 0.0  # a category with no outlet leaves everyone uncovered
    # Entrants come to categories with demand and no outlet: settling can only fill gaps in.
    assert values["coverage_settled"] >= values["coverage_without_fill"]
    assert 10_000 <= values["derived_residents"] <= 30_000


def _check_batches(values: dict) -> None:
    low, mean, high = values["ci"]
    assert low < mean < high
    assert values["paired_width"] < values["unpaired_width"]  # pairing by seed removes shared noise
    assert values["width_4"] > 0


def _check_long_term(values: dict) -> None:
    # Digitalised stores stay digital after the subsidy; the platform's delivery stops with it.
    assert values["persistence"]["smart_stores"] > 0.5
    assert values["persistence"]["platform"] < 0.5
    assert values["delivered_month_3"]["phased in"] < values["delivered_month_3"]["immediate"]


CHECKS = {
    "01_a_residents_day": (["basic_coverage_15", "employment_rate", "ring_nodes", "walked_cells", "farthest",
                            "elderly_gap"], _check_day),
    "02_one_lever_at_a_time": (["effect_on_effective_coverage", "delivered", "vendor_effect"], _check_levers),
    "03_a_real_district": (["osm_outlets", "synthesised_outlets", "basic_coverage_15", "coverage_without_fill",
                            "coverage_settled", "derived_residents"], _check_district),
    "04_batches_and_confidence": (["ci", "paired_width", "unpaired_width", "width_4"], _check_batches),
    "05_long_term": (["persistence", "delivered_month_3"], _check_long_term),
}


def execute(path: str, names: list[str]) -> dict:
    """Run a copy of the notebook at ``path``, opened far from the repository, top to bottom in a
    ``python3`` kernel that is this interpreter, with a cell appended that prints ``names``; return
    what that cell printed, the wall seconds and the kernel's CPU seconds."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="lifecircle-notebook-") as folder:
        spec = Path(folder) / "jupyter" / "kernels" / "python3"  # this interpreter, first on JUPYTER_PATH
        spec.mkdir(parents=True)
        spec.joinpath("kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (lifecircle tests)", "language": "python",
        }))
        elsewhere = Path(folder) / "desktop"  # opened far from the repository
        elsewhere.mkdir()
        copy = Path(shutil.copy(path, elsewhere))
        notebook = nbformat.read(copy, as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(
            "import json as _json, sys as _sys\n"
            f"print({MARKER!r} + _json.dumps({{'python': _sys.executable, "
            + ", ".join(f"{n!r}: {n}" for n in names) + "}, default=float))"
        ))
        client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(elsewhere)}})
        previous = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = str(spec.parents[1])
        try:
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            client.execute()  # starts the kernel, runs every cell, shuts the kernel down and waits for it
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = previous
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    return {"printed": printed, "seconds": seconds,
            "cpu_seconds": (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)}


_started: dict = {}
"""Each notebook's run started in the session's background workers (:func:`start_in_background`)."""


def start_in_background(items: list[pytest.Item]) -> None:
    """Called by conftest when notebooks' tests (``items``) are collected: their notebooks start in
    the session's low-priority background workers (a kernel's results do not depend on where it
    runs)."""
    import session_background

    for path in [item.callspec.params["path"] for item in items if hasattr(item, "callspec")]:
        future = session_background.submit(execute, str(path), CHECKS[path.stem][0])
        if future is None:
            return
        _started[path.stem] = future


def test_every_notebook_is_a_lesson_with_a_check_and_no_outputs():
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(CHECKS), "one notebook per lesson, each with its check"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: stored with outputs"
        tagged = lambda tag, kind: [c for c in notebook.cells if c.cell_type == kind and tag in c.metadata.get("tags", [])]  # noqa: E731
        exercises, solutions = tagged("exercise", "code"), tagged("solution", "code")
        assert len(exercises) >= 2, f"{path.name}: exercises need code cells"
        assert len(solutions) >= len(exercises), f"{path.name}: a solution per exercise"
        assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in solutions), f"{path.name}: collapse solutions"
        notes = tagged("teacher-notes", "markdown")
        assert len(notes) == 1 and notes[0].source.startswith("## Teacher notes"), path.name
        source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert "scenario_path(" in source and "Path.cwd()" not in source, f"{path.name}: find data through the package"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    names, check = CHECKS[path.stem]
    # started at collection; else (one core, or this test not collected as slow) run here
    future = _started.get(path.stem)
    ran = future.result() if future is not None else execute(str(path), names)
    printed = ran["printed"]
    assert MARKER in printed, printed
    values = json.loads(printed.split(MARKER, 1)[1])
    assert Path(values["python"]).resolve() == Path(sys.executable).resolve()
    check(values)
    print(f"\nNOTEBOOK {path.stem}: {ran['seconds']:.1f} s, kernel CPU {ran['cpu_seconds']:.1f} s")
    # The kernel's CPU time, not the wall time: in the session's low-priority background the wall time
    # counts the waits for the tests in front. A kernel computing on one thread or two takes about as
    # long, or less, on a free machine.
    assert 0 < ran["cpu_seconds"] < 120, (f"{path.name} took {ran['cpu_seconds']:.0f} s of CPU; a teaching notebook "
                                          "must run in well under 2 minutes")
