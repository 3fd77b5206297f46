"""docs/ODD.md stays in step with the code: every lever, agent type, indicator and scenario section
is named in it, and every file and function it points at exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import agents
from sim.metrics import indicators as metrics
from sim.levers import LEVERS
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
ODD = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")


def test_the_odd_names_every_lever_agent_indicator_and_scenario_section():
    missing = [f"lever {cls.name}" for cls in LEVERS if f"`{cls.name}`" not in ODD]
    missing += [f"agent {name}" for name in agents.__all__ if f"`{name}`" not in ODD]
    missing += [f"indicator {name}" for name in metrics.REGISTRY if f"`{name}`" not in ODD]
    missing += [f"indicator group {g}" for g in {i.group for i in metrics.REGISTRY.values()} if f"**{g}**" not in ODD]
    missing += [f"scenario key {k}" for k in Scenario.model_fields if k != "base_dir" and f"`{k}`" not in ODD]
    assert not missing, missing


def test_the_odd_s_pointers_to_files_and_functions_exist():
    pointers = set(re.findall(r"`((?:sim|agents|benchmarks|tests)/[\w/]+\.py)(?:::(\w+(?:\.\w+)?))?`", ODD))
    assert len(pointers) > 20
    for path, name in pointers:
        assert (ROOT / path).is_file(), path
        if name and path.startswith("sim/"):
            module = importlib.import_module(path[:-3].replace("/", "."))
            obj = module
            for part in name.split("."):
                assert hasattr(obj, part), f"{path}::{name}"
                obj = getattr(obj, part)


def test_the_readme_points_to_the_odd():
    assert "docs/ODD.md" in (ROOT / "README.md").read_text(encoding="utf-8")
