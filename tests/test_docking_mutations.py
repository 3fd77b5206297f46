"""Proof of power: the docking fails when one rule of the engine alone is changed.

Each change of :data:`benchmarks.reference.docking.MUTATIONS` is made to the engine's scenario
only (a parameter overridden for the engine's runs; nothing in ``sim/`` knows of it); the
reference's runs, and the weights the choice scores are computed with, stay the part's. The
changes are the ones issue 12 found the old agreement test blind to -- crowding weight 0, walking
weight halved, price weight 0, night opening 0.2 -> 0.3, word of mouth x10, closure after 1 losing
month instead of 6 -- and one or more per monthly rule: closures and hand-overs (owners leave ten
times as often), entry (no arrivals; arrivals at one random site instead of the best of three),
the accounts (wages x0.8, rent x1.5) and the labour market (no jobs found outside, no local hiring).

Each test asserts that the docking's verdict is "differ": some statistic of some part falls
outside its tolerance. The parts are tried cheapest first (first month, three years, day one) and
the first that fails decides, so a change caught in the first month costs three seconds of
engine runs; the reference's runs are shared with ``test_reference_agreement.py``
(``tests/docking_runs.py``). Which statistics catch each change, and by how much, is printed by
``benchmarks/docking_report.py --mutations`` and tabled in docs/ODD.md, section 9.
"""

from __future__ import annotations

import pytest

from docking_runs import dock

from benchmarks.reference.docking import CHEAPEST_FIRST, MUTATIONS, verdict


@pytest.mark.slow
@pytest.mark.parametrize("label", list(MUTATIONS))
def test_the_docking_fails_when_one_rule_of_the_engine_changes(label: str) -> None:
    word, agreements = "agree", []
    for part in CHEAPEST_FIRST:
        agreements = dock(part, MUTATIONS[label])
        word = verdict(agreements)
        if word == "differ":
            break
    assert word == "differ", (f"the docking passes with the engine changed ({label}: {MUTATIONS[label]})\n"
                              + "\n".join(a.line() for a in agreements))
