"""Where the files that ship with lifecircle are, found through the installed package.

Notebooks, scripts and the view find the shipped scenarios (and the districts they name) through
the ``sim`` package itself, wherever they are opened or run: a notebook copied to the desktop works
as well as one opened in ``notebooks/``. lifecircle installs in editable mode (``./lc``,
``pip install -e .``), so the package lives in the source checkout and the scenario files beside it.
"""

from __future__ import annotations

from pathlib import Path

import sim

CHECKOUT = Path(sim.__file__).resolve().parent.parent
"""The source checkout the installed ``sim`` package lives in."""


def scenarios_dir() -> Path:
    """The folder of the shipped scenario files (``scenarios/``).

    Raises:
        FileNotFoundError: lifecircle was installed without its source checkout (a plain wheel).
    """
    folder = CHECKOUT / "scenarios"
    if not (folder / "baseline.toml").is_file():
        raise FileNotFoundError(
            f"lifecircle's scenario files are not beside the installed package ({folder}): install it "
            "from its source checkout with `./lc` or `pip install -e .`")
    return folder


def scenario_path(name: str) -> Path:
    """A shipped scenario file by name, e.g. ``scenario_path("baseline")`` or ``"platform.toml"``.

    Raises:
        FileNotFoundError: No such scenario; the message lists the ones there are.
    """
    folder = scenarios_dir()
    path = folder / (name if name.endswith(".toml") else f"{name}.toml")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.toml")))
        raise FileNotFoundError(f"no scenario {name!r} in {folder}; there are: {known}")
    return path
