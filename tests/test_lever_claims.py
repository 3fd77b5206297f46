"""Each lever moves what it claims, at its shipped default settings, on the settled baseline
district, against the counterfactual (issue 10: "claims true at default settings").

The shipped baseline district (``scenarios/baseline.toml``: 20,000 residents, its default warm-up
with every lever off) is run from each seed's settled start: the baseline, and each lever alone with
its scenario defaults, on from month 0 and withdrawn at month 36. The baseline and a lever with a
claim after support run four measured years; a lever whose claims are all checked during support
runs the three years of its support (the months they share are the same either way). A claim
(``Lever.claims``: indicator, sign and, for an investment, its period; what ``lifecircle levers``
prints) holds when the 95 % Student-t interval of the paired differences during support (months
0-35; or the named period), over 8 seeds, lies on the claimed side of zero. Nothing is amplified:
no test-only settings, no controlled scenario.

Margin: the seeds are fixed, so for given code the test is deterministic. Each claim was kept only
where the 8-seed measurement in ``docs/lever_effects.md`` puts it clearly away from zero (the
narrowest: the graduate start-ups' merchant births, about 2.8 standard errors, then the platform's
effective coverage, 3.7); a change that halves an effect is then likely to fail here. The test is slow
(about two and a quarter minutes alone on 2 cores, the eight settled starts' warm-ups included;
2:48 when every arm ran four years); CI runs it. In a session its runs start at collection in the
session's low-priority background workers (:func:`start_in_background`), and the test collects them.
"""

from __future__ import annotations

import pytest

from sim.metrics.lever_effects import Measurement, claim_table, plan, run
from sim.levers import LEVERS
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS

SEEDS = list(range(1, 9))
SETTLED_BASELINE_SEEDS = tuple(SEEDS)
"""Seeds of the settled baseline run here (their warm-ups start in the background: conftest)."""
YEARS = 4.0
END_MONTH = 36

_started: dict = {}
"""The measurement whose runs started in the session's background workers (:func:`start_in_background`),
and their futures."""


def _measurement(checkpoints) -> Measurement:
    base = load_scenario(SCENARIOS / "baseline.toml", updates={"years": YEARS})
    during_only = {cls.name: END_MONTH / 12 for cls in LEVERS if all(len(claim) == 2 for claim in cls.claims)}
    return plan(base, [cls.name for cls in LEVERS], SEEDS, end_month=END_MONTH, checkpoints=checkpoints,
                years=during_only)


def start_in_background(items: list[pytest.Item]) -> None:
    """Called by conftest when claims' tests (``items``) are collected: every run of the measurement
    starts in the session's low-priority background workers, after the settled starts' warm-ups
    handed to them before (a run depends only on its task, so where and when it runs changes
    nothing)."""
    import session_background

    if session_background.pool() is None:
        return  # one core: the fixture runs them
    measurement = _measurement(session_background.settled_baseline_store())  # settled_baseline_checkpoints
    futures = [session_background.submit(run, task) for task in measurement.tasks]
    _started.update(measurement=measurement, futures=futures)


@pytest.fixture(scope="module")
def claims(settled_baseline_checkpoints):
    measurement = _measurement(settled_baseline_checkpoints)
    if _started:  # started at collection, from the same settled starts
        assert _started["measurement"].tasks == measurement.tasks
        frames = [future.result() for future in _started["futures"]]
    else:  # one core, or the claims not collected as slow: run them here
        frames = measurement.run_locally()
    effects, _, _ = measurement.summarise(frames)
    return claim_table(effects, {cls.name: cls.claims for cls in LEVERS})


def test_a_lever_that_claims_nothing_says_why():
    # A lever with no measurable effect at its defaults says so, and why, in what it moves.
    for cls in LEVERS:
        assert cls.claims or "settled district" in cls.indicator, cls.name


@pytest.mark.slow
@pytest.mark.parametrize("lever", [cls.name for cls in LEVERS])
def test_lever_claims_hold_at_default_settings(claims, lever):
    mine = claims[claims["lever"] == lever]
    expected = {c[0] for c in next(cls for cls in LEVERS if cls.name == lever).claims}
    assert set(mine["indicator"]) == set(expected)  # every claim was measured (none: nothing to hold)
    failed = mine[~mine["holds"]]
    assert failed.empty, "\n" + failed.to_string(index=False)
