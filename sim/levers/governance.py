"""Mayor responsibility system, evaluation system and long-term mechanism.

Without the system every lever acts at ``economy.lever_implementation`` of its design. With it, a
district leader is responsible: levers act at ``implementation_strength`` from the start month,
and every ``evaluation_period_months`` the scorecard is evaluated against
``target_basic_coverage``; a missed target raises implementation by ``accountability_gain``
(up to 1). Each evaluation is recorded (``model.evaluations``) and scored by the indicators. Over
``phase_in_months`` implementation ramps from ``economy.lever_implementation`` (no system) to the
system's; a city budget is allocated in full from the start month.

In a city of several life circles, or with a city budget (``budget_cny_per_resident`` > 0), the
system also evaluates every life circle each period and allocates the budget between them by a
rule (:mod:`sim.levers.city_budget`).
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class Governance(Lever):
    name = "governance"
    measure = "mayor responsibility system; evaluation system; long-term mechanism"
    mechanism = ("levers roll out more fully; indicators scored each period raise effort when targets are missed; "
                 "with a city budget, circles are evaluated and funded by a rule")
    indicator = ("lever_implementation (and through it every other lever's indicators), evaluations_passed; "
                 "with a city budget: circles_passing_share, circle_coverage_min")
    claims = (("lever_implementation", +1),)

    def setup(self) -> None:
        self.level = self.config.implementation_strength
        self.budget = None
        if self.config.budget_cny_per_resident > 0 or self.model.circles.k > 1:
            from sim.levers.city_budget import CityBudget

            self.budget = CityBudget(self.config, self.model, self.rng)

    def on_month(self) -> None:
        if self.budget is not None:
            self.budget.on_month(self.model.month, self.acting)

    def on_outlets_opened(self, ids: np.ndarray) -> None:
        if self.budget is not None:
            self.budget.on_outlets_opened(ids, self.acting)

    def implementation(self, month: int) -> float:
        """Implementation strength in ``month`` (after any evaluation due at its start)."""
        cfg = self.config
        since = month - cfg.start_month
        if since > 0 and since % cfg.evaluation_period_months == 0 and len(self.model.evaluations) < since // cfg.evaluation_period_months:
            from sim.metrics.indicators import basic_coverage

            coverage = basic_coverage(self.model, 15.0)
            passed = coverage >= cfg.target_basic_coverage
            self.model.evaluations.append({"month": month, "basic_coverage_15": coverage, "passed": float(passed), "level": self.level})
            if not passed:
                self.level = min(1.0, self.level + cfg.accountability_gain)
        return self.level
