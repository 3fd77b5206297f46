"""The teaching notebooks run top to bottom in a real Jupyter kernel and compute what they claim.

Each notebook is executed with nbclient in a ``python3`` kernel that is this interpreter
(``sys.executable``: a kernelspec written to a temporary ``JUPYTER_PATH``, so a ``python3`` kernel
of another Python on the machine cannot be picked up). A cell appended after the notebook prints
the variables the notebook computed, as JSON, and the test checks them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MARKER = "LIFECIRCLE-NOTEBOOK-RESULT:"


def _check_basics(values: dict) -> None:
    assert 0.0 < values["basic_coverage_15"] < 1.0
    assert 0.85 < values["employment_rate"] < 1.0


def _check_levers(values: dict) -> None:
    # Delivery reaches outlets beyond a 15-minute walk: the platform lifts effective coverage.
    assert values["effect_on_effective_coverage"] > 0.10


def _check_long_term(values: dict) -> None:
    # Digitalised stores stay digital after the subsidy; the platform's delivery stops with it.
    assert values["persistence"]["smart_stores"] > 0.5
    assert values["persistence"]["platform"] < 0.5


CHECKS = {
    "01_life_circle_basics": (["basic_coverage_15", "employment_rate"], _check_basics),
    "02_policy_levers": (["effect_on_effective_coverage"], _check_levers),
    "03_long_term": (["persistence"], _check_long_term),
}


@pytest.fixture(scope="module")
def this_python_kernel(tmp_path_factory):
    """A ``python3`` kernelspec running this interpreter, first on ``JUPYTER_PATH``."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (lifecircle tests)", "language": "python",
    }))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(folder))
    yield "python3"
    patch.undo()


def test_every_notebook_has_a_check_and_is_stored_without_outputs():
    assert NOTEBOOKS, "no notebooks in notebooks/"
    for path in NOTEBOOKS:
        assert path.stem in CHECKS, f"{path.name}: add what it computes to CHECKS in {Path(__file__).name}"
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: stored with outputs"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, this_python_kernel):
    from nbclient import NotebookClient

    names, check = CHECKS[path.stem]
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json as _json, sys as _sys\n"
        f"print({MARKER!r} + _json.dumps({{'python': _sys.executable, "
        + ", ".join(f"{n!r}: {n}" for n in names) + "}, default=float))"
    ))
    client = NotebookClient(notebook, timeout=300, kernel_name=this_python_kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    assert MARKER in printed, printed
    values = json.loads(printed.split(MARKER, 1)[1])
    assert Path(values["python"]).resolve() == Path(sys.executable).resolve()
    check(values)
    assert seconds < 120, f"{path.name} took {seconds:.0f} s; a teaching notebook must run in well under 2 minutes"
