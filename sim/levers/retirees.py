"""Retirees: a volunteering programme and re-employment services.

While the lever acts the share of retirees who volunteer rises towards ``volunteer_share``; their
hours become elder-care visits (``care_visits_per_hour``), free home visits for elder-care needs
left unmet that day, whatever kept them unmet: no care outlet in reach, every one turned them away, or
they could not pay. Retirees under 70 who wish to work (``wish_to_work_share``) and whom the
re-employment service reaches (``strength`` of them: all at full strength, the same ones as strength
grows) join the job queue for local vacancies. Re-employed retirees keep their jobs when the lever
ends.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever
from sim.economy.population import NO_JOB, RETIRED


class Retirees(Lever):
    name = "retirees"
    measure = "retirees: volunteering, re-employment services"
    mechanism = "more retirees volunteer (care visits); retirees who wish to work are matched to jobs"
    indicator = "volunteer_hours, retirees_working; elder care met by volunteers only where care needs go unmet (none in reach, turned away or unable to pay)"
    claims = (("volunteer_hours", +1), ("retirees_working", +1))
    overrides = {"volunteer_share": "volunteer_share", "care_visits_per_hour": "care_visits_per_hour"}

    def setup(self) -> None:
        pop = self.model.population
        young_old = (pop.status == RETIRED) & (pop.age < 70)
        pop.wants_work = young_old & (self.rng.random(pop.n) < self.config.wish_to_work_share)
        self.reach = self.rng.random(pop.n)  # the re-employment service reaches those below its strength

    def seeking(self) -> np.ndarray:
        """(N,) bool: retirees without a job who want one and whom the service reaches this month."""
        pop = self.model.population
        return (pop.status == RETIRED) & pop.wants_work & (pop.employer == NO_JOB) & (self.reach < self.strength_now)
