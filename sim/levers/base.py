"""What every lever shares: its timeline (start, end, phase-in) and the hooks the model calls.

A lever's *strength* in a month is 0 before ``start_month`` and from ``end_month`` on, ramps
linearly over ``phase_in_months`` after the start, and is scaled by the implementation strength of
the governance system (mayor responsibility; see :mod:`sim.levers.governance`). Levers act through
the model's mechanisms, never on outputs: some *override* an economy parameter (the effective
value is ``default + strength x (lever value - default)``), others act in hooks (install lockers,
adopt smart stores, route orders, move vendors). Investments made while a lever acts (lockers,
digitalised stores, renovated space) persist after it ends; support (subsidies, priority rules,
the platform's operation) stops on ``end_month``, and so does its spending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.scenario import LeverConfig

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


def timeline_strength(config: LeverConfig, month: int) -> float:
    """Strength in [0, 1] of a lever's timeline in ``month`` (before governance scaling)."""
    if not config.enabled or month < config.start_month:
        return 0.0
    if config.end_month is not None and month >= config.end_month:
        return 0.0
    if config.phase_in_months <= 0:
        return 1.0
    return min(1.0, (month - config.start_month + 1) / config.phase_in_months)


class Lever:
    """Base class of a policy lever.

    Class attributes:
        name: The scenario table (``[levers.<name>]``).
        measure: The action-plan measure it implements.
        mechanism: One line on how it acts.
        indicator: What it moves, in words (with the mechanism where the sign needs one).
        claims: (indicator, +1 or -1[, period]) tuples: what it moves, and which way, at its shipped
            default settings on the settled baseline district while support lasts (or in the named
            period, e.g. ``"after support"``) -- checked by the lever tests and measured in
            ``docs/lever_effects.md`` (``benchmarks/lever_effects.py``).
        overrides: Economy parameter -> the lever's config field that replaces it at full strength.
    """

    name: ClassVar[str] = ""
    measure: ClassVar[str] = ""
    mechanism: ClassVar[str] = ""
    indicator: ClassVar[str] = ""
    claims: ClassVar[tuple[tuple, ...]] = ()
    overrides: ClassVar[dict[str, str]] = {}

    def __init__(self, config: LeverConfig, model: LifeCircleModel) -> None:
        self.config = config
        self.model = model
        self.strength_now = 0.0

    @property
    def acting(self) -> bool:
        """Whether the lever acts this month."""
        return self.strength_now > 0

    @property
    def rng(self) -> np.random.Generator:
        """The lever's own random stream (never drawn from while the lever is off)."""
        return self.model.streams[f"lever.{self.name}"]

    def in_effect(self) -> bool:
        """Acting now, or holding assets that keep working after support ends."""
        return self.acting

    # Hooks (default: nothing). -------------------------------------------------
    def setup(self) -> None:
        """Once, after the model is built."""

    def on_month(self) -> None:
        """At the start of each month, after strengths are updated (also when not acting)."""

    def on_day_end(self) -> None:
        """At the end of each day while in effect."""

    def intercept_needs(self, model: LifeCircleModel, res: np.ndarray, cats: np.ndarray,
                        night: np.ndarray, served: np.ndarray) -> None:
        """Meet some of today's needs before residents choose outlets (sets ``served``)."""

    def on_outlets_opened(self, ids: np.ndarray) -> None:
        """New merchants exist (ids)."""

    def on_reach_changed(self, categories: np.ndarray) -> None:
        """The walking tables of ``categories`` changed."""
