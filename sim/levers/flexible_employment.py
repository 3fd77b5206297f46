"""Flexible employment: remote work, part-time, instant retail, catering, online training.

While the lever acts, unemployed residents take up supported gig work with
``unemployed_uptake_per_month`` (at full strength, replacing the economy default); every
freelancer gets ``strength x extra_tasks_per_month`` more tasks a month through platform access;
the training programme reaches ``strength`` of the freelancers (all at full strength; the same
residents as strength grows: each resident's place in line is drawn once), who are trained once
(``training_cost_cny`` each, from the public budget) and then earn ``training_pay_gain`` more per
task, which persists after the lever ends.
"""

from __future__ import annotations

import numpy as np

from sim.services.catalogue import FEN_PER_CNY
from sim.levers.base import Lever
from sim.economy.population import FREELANCER


class FlexibleEmployment(Lever):
    name = "flexible_employment"
    measure = "flexible employment: remote, part-time, instant retail, catering, online training"
    mechanism = "more gig uptake and tasks, training raises pay per task"
    indicator = "freelancers, freelancer_income_mean, employment_rate; unemployed residents drawn into better-paid gig work lift their households' income, so fewer needs go unpaid (unmet_money, low_income_needs_met_share); after support, mean income is lower until the extra freelancers move on to regular jobs"
    claims = (("freelancers", +1), ("freelancer_income_mean", +1), ("employment_rate", +1), ("needs_met_by.unmet_money", -1))
    overrides = {"freelance_uptake_per_month": "unemployed_uptake_per_month"}

    def setup(self) -> None:
        self.reach = self.rng.random(self.model.population.n)  # the programme reaches those below its strength

    def in_effect(self) -> bool:
        return self.acting or bool(self.model.population.trained.any())

    def on_month(self) -> None:
        if not self.acting:
            return
        pop = self.model.population
        new = np.flatnonzero((pop.status == FREELANCER) & ~pop.trained & (self.reach < self.strength_now))
        if len(new):
            cost = int(round(self.config.training_cost_cny * FEN_PER_CNY))
            self.model.ledger.transfer("public_budget", "suppliers", np.full(len(new), cost), "lever.flexible_employment.training")
            pop.trained[new] = True

    def gig_pay(self, model, freelancers: np.ndarray, pay: np.ndarray) -> np.ndarray:
        """Monthly gig pay (fen) of ``freelancers``: the lever's extra tasks while it acts, and the
        trained freelancers' higher pay per task, which they keep after the lever ends."""
        if self.acting:
            task = model.catalogue.money["gig_task"]
            pay = pay + self.rng.poisson(self.strength_now * self.config.extra_tasks_per_month, size=len(freelancers)) * task
        gain = np.where(model.population.trained[freelancers], 1 + self.config.training_pay_gain, 1.0)
        return np.round(pay * gain)
