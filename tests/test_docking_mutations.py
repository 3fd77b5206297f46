"""Proof of power: the docking fails when one rule of the engine alone is changed.

Each change of :data:`benchmarks.reference.docking.MUTATIONS` -- the ones issue 12 found the old
agreement test blind to (crowding weight 0, walking weight halved, price weight 0, night opening
0.2 -> 0.3, word of mouth x10, closure after 1 losing month instead of 6) and one per monthly rule
(entry off; wages x0.8 and rent x1.5 for the accounts; jobs outside the circle and local hiring
off for the labour market) -- is made to the engine's scenario only; the reference runs, and the
weights the choice scores are computed with, stay the part's. The test asserts that some statistic
of some part then falls outside its tolerance. Parts are compared in order (day one, first month,
three years) and the first that fails is enough, so a change caught on day one costs no simulated
day; ``benchmarks/docking_report.py --mutations`` prints every part for every change.

What catches each, at the seeds of the docking (``t`` = paired t, tolerance = |t| of about 3.5
for the day one, 4.6-4.8 for the first month, 5.8 for three years), measured at the commit that
added this test:

========================  =====================================================================
change                    statistics outside their tolerance (mean difference / tolerance)
========================  =====================================================================
see docs/ODD.md, section 9, "A second implementation", for the table of figures
========================  =====================================================================
"""

from __future__ import annotations

import pytest

from docking_runs import dock

from benchmarks.reference.docking import MUTATIONS, PARTS


@pytest.mark.slow
@pytest.mark.parametrize("label", list(MUTATIONS))
def test_the_docking_fails_when_one_rule_of_the_engine_changes(label: str) -> None:
    failing = []
    for part in PARTS:
        failing = [a for a in dock(part, MUTATIONS[label]) if not a.passes]
        if failing:
            break
    assert failing, f"the docking passes with the engine changed ({label}: {MUTATIONS[label]})"


@pytest.mark.slow
def test_the_docking_passes_with_the_engine_unchanged() -> None:
    failing = [a for part in PARTS for a in dock(part) if not a.passes]
    assert not failing, "\n".join(a.line() for a in failing)
