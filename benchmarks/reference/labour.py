"""The month's labour market, resident by resident (engine: :mod:`sim.economy.labour`).

1. **Separations.** Each employee (local or outside job) leaves with ``separation_per_month``;
   so does each commuter on a merchant's staff.
2. **Vacancies.** Each vacancy at an open merchant goes, with ``local_hire_share``, to a resident
   job seeker: the merchant hears of up to ``INFORMAL_SEARCH`` seekers (drawn at random) and hires
   the nearest (city-block distance between home and shop). Seekers are the unemployed, in a random
   order, a seeker with a disability heard of with ``disability_hiring_factor``. Other vacancies,
   and those no seeker is left for, go to commuters.
3. **Jobs outside.** The unemployed find a job outside the circle with
   ``outside_job_finding_per_month`` (times ``disability_hiring_factor`` with a disability);
   freelancers with ``freelancer_job_search`` of that.
4. **Gig work.** Freelancers quit with ``freelancer_exit_per_month``; then the unemployed take up
   gig work with ``freelance_uptake_per_month``.
5. **Participation.** People outside the labour force start looking for work with
   ``labour_force_entry_per_month``; as many in it leave it as keep the share outside steady.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.reference.resident import (EMPLOYED, FREELANCER, OUT_OF_LABOUR, OUTSIDE, UNEMPLOYED, Resident)

if TYPE_CHECKING:
    from benchmarks.reference.model import ReferenceModel

INFORMAL_SEARCH = 20
"""Seekers a merchant hears of per vacancy (word of mouth)."""


def clear_labour_market(model: ReferenceModel) -> None:
    """One month of the labour market (see the module docstring)."""
    econ = model.scenario.economy
    rnd = model.random
    residents = list(model.agents_by_type[Resident])
    merchants = model.open_merchants()

    # 1. Separations.
    for person in residents:
        if person.status == EMPLOYED and rnd.random() < econ.separation_per_month:
            person.lose_job()
    for merchant in merchants:
        merchant.commuters -= int(model.rng.binomial(merchant.commuters, econ.separation_per_month))

    # 2. Vacancies, filled by residents nearby or by commuters.
    vacancies = [m for m in merchants for _ in range(max(m.staff_target - len(m.staff) - m.commuters, 0))]
    rnd.shuffle(vacancies)
    seekers = [p for p in residents if p.status == UNEMPLOYED]
    rnd.shuffle(seekers)
    seekers = [p for p in seekers if not p.disabled or rnd.random() < min(econ.disability_hiring_factor, 1.0)]
    for merchant in vacancies:
        if rnd.random() < econ.local_hire_share and seekers:
            heard = [rnd.randrange(len(seekers)) for _ in range(min(INFORMAL_SEARCH, len(seekers)))]
            pick = min(heard, key=lambda i: model.streets.straight_l1(seekers[i].home, merchant.node))
            seekers.pop(pick).take_job(merchant)
        else:
            merchant.commuters += 1

    # 3. Jobs outside the circle.
    for person in residents:
        if person.status in (UNEMPLOYED, FREELANCER):
            chance = econ.outside_job_finding_per_month
            chance *= econ.disability_hiring_factor if person.disabled else 1.0
            chance *= econ.freelancer_job_search if person.status == FREELANCER else 1.0
            if rnd.random() < chance:
                person.take_job(OUTSIDE)

    # 4. Gig work.
    for person in residents:
        if person.status == FREELANCER and rnd.random() < econ.freelancer_exit_per_month:
            person.status = UNEMPLOYED
    for person in residents:
        if person.status == UNEMPLOYED and rnd.random() < econ.freelance_uptake_per_month:
            person.status = FREELANCER
            person.benefit_left = 0

    # 5. Participation.
    share = model.scenario.population.outside_labour_force_share
    p_in = econ.labour_force_entry_per_month
    p_out = p_in * share / (1 - share) if share < 1 else 0.0
    entering = [p for p in residents if p.status == OUT_OF_LABOUR and rnd.random() < p_in]
    for person in residents:
        if not person.elderly and person.status in (EMPLOYED, UNEMPLOYED, FREELANCER) and rnd.random() < p_out:
            person.leave_employer()
            person.benefit_left = 0
            person.status = OUT_OF_LABOUR
    for person in entering:
        person.status = UNEMPLOYED
