"""The monthly labour market: separations, vacancies, matching, outside jobs and gig work.

Mechanism (each month's last day, after the accounts):

1. Employees leave or lose their jobs with ``separation_per_month`` (local and outside jobs alike;
   commuting shop staff too, which opens vacancies).
2. Each vacancy at a local merchant goes to a resident job seeker with ``local_hire_share``
   (else to a commuter from outside). Seekers are unemployed residents, plus retirees who want work
   whom the re-employment service reaches while it acts (the retirees lever's strength of them). A seeker with a disability is considered only with
   ``disability_hiring_factor``. Nearby jobs are preferred: without the local-hiring lever a
   merchant hears of a few seekers (``INFORMAL_SEARCH``, at random) and hires the nearest of them;
   with it, the nearest seeker within ``max_commute_minutes`` of the shop among all seekers is
   offered the job first. Under the disability-priority lever the seekers it recommends (each
   disabled seeker with the lever's strength) are matched first: the vacancies go to them by the
   same rule, and only the vacancies they leave go to the other seekers (:func:`_match_in_turn`).
3. Unemployed residents find jobs outside the circle with ``outside_job_finding_per_month``
   (times ``disability_hiring_factor`` for the disabled); freelancers, who keep looking for a
   regular job, with ``freelancer_job_search`` times that.
4. Freelancers quit with ``freelancer_exit_per_month``; unemployed residents take up gig work with
   ``freelance_uptake_per_month`` (more under the flexible-employment lever).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.economy.population import (EMPLOYED, FREELANCER, NO_JOB, OUT_OF_LABOUR, OUTSIDE_JOB, RETIRED, UNEMPLOYED,
                            draw_wages)

if TYPE_CHECKING:
    from sim.model import LifeCircleModel


def take_jobs(model: LifeCircleModel, people: np.ndarray, employer: np.ndarray | int, rng: np.random.Generator) -> None:
    """``people`` start work at ``employer`` (merchant ids, or ``OUTSIDE_JOB``), each at a wage drawn
    around the median of that kind of job (shop staff, or jobs outside the circle)."""
    pop, money, econ = model.population, model.catalogue.money, model.scenario.economy
    people = np.asarray(people, dtype=np.int64)
    if len(people) == 0:
        return
    employer = np.broadcast_to(np.asarray(employer, dtype=np.int32), people.shape)
    shop = employer >= 0
    wages = np.where(shop, draw_wages(money["shop_wage"], econ.shop_wage_spread, len(people), rng),
                     draw_wages(money["outside_wage"], econ.wage_spread, len(people), rng))
    pop.employer[people] = employer
    pop.status[people] = EMPLOYED
    pop.wage[people] = wages
    pop.benefit_left[people] = 0


def lose_jobs(model: LifeCircleModel, people: np.ndarray, rng: np.random.Generator) -> None:
    """``people`` lose their job (or business): back to retirement at retirement age, else
    unemployed, an insured share with ``benefit_months`` of unemployment insurance ahead."""
    pop = model.population
    people = np.asarray(people, dtype=np.int64)
    if len(people) == 0:
        return
    pop.employer[people] = NO_JOB
    pop.wage[people] = 0
    pop.status[people] = np.where(pop.elderly[people], RETIRED, UNEMPLOYED)
    insured = ~pop.elderly[people] & (rng.random(len(people)) < model.scenario.population.unemployment_insured_share)
    pop.benefit_left[people] = np.where(insured, model.scenario.economy.benefit_months, 0)


def staff_initial_outlets(model: LifeCircleModel, ids: np.ndarray) -> None:
    """Staff day-one outlets: ``local_hire_share`` of jobs from employed residents, the rest commuters."""
    pop, mer = model.population, model.merchants
    rng = model.streams["labour.init"]
    jobs = np.repeat(ids, mer.staff_target[ids])
    local = rng.random(len(jobs)) < model.scenario.economy.local_hire_share
    pool = np.flatnonzero(pop.employer == OUTSIDE_JOB)
    take = min(int(local.sum()), len(pool))
    chosen = rng.choice(pool, size=take, replace=False) if take else np.zeros(0, dtype=np.int64)
    local_jobs = jobs[np.flatnonzero(local)[:take]]
    take_jobs(model, chosen, local_jobs, rng)
    np.add.at(mer.staff_local, local_jobs, 1)
    mer.staff_outside[ids] = mer.staff_target[ids] - mer.staff_local[ids]


def month_labour(model: LifeCircleModel) -> None:
    """Run one month of the labour market (see the module docstring)."""
    pop, mer, econ = model.population, model.merchants, model.scenario.economy
    rng = model.streams["labour"]
    changed: list[np.ndarray] = []

    # 1. Separations.
    employed = np.flatnonzero((pop.status == EMPLOYED) & (pop.employer != NO_JOB))
    leave = employed[rng.random(len(employed)) < econ.separation_per_month]
    local_leavers = leave[pop.employer[leave] >= 0]
    np.subtract.at(mer.staff_local, pop.employer[local_leavers], 1)
    lose_jobs(model, leave, rng)
    changed.append(leave)
    open_ids = mer.open_ids()
    commuters = mer.staff_outside[open_ids]
    mer.staff_outside[open_ids] = commuters - rng.binomial(commuters, econ.separation_per_month)

    # 2. Vacancies and matching.
    vacancies = np.repeat(open_ids, np.maximum(mer.staff_target[open_ids] - mer.staff_local[open_ids] - mer.staff_outside[open_ids], 0))
    vacancies = vacancies[rng.permutation(len(vacancies))]
    local_share = model.param("local_hire_share")
    goes_local = rng.random(len(vacancies)) < local_share
    seekers, recommended = _job_seekers(model, rng)
    hired = _match_in_turn(model, vacancies[goes_local], seekers, recommended, rng)
    outside_filled = np.concatenate([vacancies[~goes_local], hired["unfilled"]])
    np.add.at(mer.staff_outside, outside_filled, 1)
    changed.append(hired["residents"])

    # 3. Jobs outside the circle: the unemployed, and freelancers looking for a regular job.
    unemployed = np.flatnonzero(pop.status == UNEMPLOYED)
    free = np.flatnonzero(pop.status == FREELANCER)
    searching = np.concatenate([unemployed, free])
    factor = np.where(pop.disabled[searching], model.param("disability_hiring_factor"), 1.0)
    factor[len(unemployed):] *= econ.freelancer_job_search
    find = searching[rng.random(len(searching)) < econ.outside_job_finding_per_month * factor]
    take_jobs(model, find, OUTSIDE_JOB, rng)
    changed.append(find)

    # 4. Gig work.
    free = np.flatnonzero(pop.status == FREELANCER)
    quit_gig = free[rng.random(len(free)) < econ.freelancer_exit_per_month]
    pop.status[quit_gig] = UNEMPLOYED
    unemployed = np.flatnonzero(pop.status == UNEMPLOYED)
    uptake = model.param("freelance_uptake_per_month")
    start = unemployed[rng.random(len(unemployed)) < uptake]
    pop.status[start] = FREELANCER
    pop.benefit_left[start] = 0
    changed += [quit_gig, start]

    # 5. Participation: some outside the labour force start looking for work; as many in it (not
    # running a business) leave it as keep the share outside steady.
    p_in = econ.labour_force_entry_per_month
    share = model.scenario.population.outside_labour_force_share
    p_out = p_in * share / (1 - share) if share < 1 else 0.0
    outside = np.flatnonzero(pop.status == OUT_OF_LABOUR)
    enter = outside[rng.random(len(outside)) < p_in]
    # (np.isin over a million status codes took 9.6 ms of a month end; three comparisons take 0.2.)
    status = pop.status
    in_force = np.flatnonzero(~pop.elderly & ((status == EMPLOYED) | (status == UNEMPLOYED) | (status == FREELANCER)))
    leave_force = in_force[rng.random(len(in_force)) < p_out]
    local_leavers = leave_force[pop.employer[leave_force] >= 0]
    np.subtract.at(mer.staff_local, pop.employer[local_leavers], 1)
    pop.employer[leave_force] = NO_JOB
    pop.wage[leave_force] = 0
    pop.benefit_left[leave_force] = 0
    pop.status[leave_force] = OUT_OF_LABOUR
    pop.status[enter] = UNEMPLOYED
    changed += [enter, leave_force]
    model.roles_changed(np.concatenate(changed))


def _job_seekers(model: LifeCircleModel, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The seekers considered (disabled ones thinned by ``disability_hiring_factor``) in a random
    order, those the disability-priority lever recommends first; and how many it recommends."""
    pop = model.population
    seeking = pop.status == UNEMPLOYED
    retirees = model.levers.get("retirees")
    if retirees is not None and retirees.acting:
        seeking |= retirees.seeking()
    ids = np.flatnonzero(seeking)
    order = rng.permutation(len(ids))
    ids = ids[order]
    factor = model.param("disability_hiring_factor")
    considered = ~pop.disabled[ids] | (rng.random(len(ids)) < min(factor, 1.0))
    ids = ids[considered]
    priority = model.levers.get("disability_priority")
    if priority is not None and priority.acting:
        first = pop.disabled[ids] & (model.streams["lever.disability_priority"].random(len(ids)) < priority.strength_now)
        return np.concatenate([ids[first], ids[~first]]), int(first.sum())
    return ids, 0


def _match_in_turn(model: LifeCircleModel, vacancies: np.ndarray, seekers: np.ndarray, recommended: int,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """:func:`_match`, the first ``recommended`` seekers before the others: the vacancies are
    matched among them alone (heard of, or nearest, by the usual rule), and the vacancies they leave
    among the others. With none recommended, exactly :func:`_match` over all of them."""
    if recommended == 0 or len(vacancies) == 0:
        return _match(model, vacancies, seekers, rng)
    first = _match(model, vacancies, seekers[:recommended], rng)
    rest = _match(model, first["unfilled"], seekers[recommended:], rng)
    return {"residents": np.concatenate([first["residents"], rest["residents"]]), "unfilled": rest["unfilled"]}


INFORMAL_SEARCH = 20
"""Seekers a merchant hears of per vacancy without the local-hiring lever (word of mouth)."""


def _match_informal(model: LifeCircleModel, vacancies: np.ndarray, seekers: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each vacancy, in turn, goes to the nearest (straight line) of the few seekers the merchant
    hears of: ``INFORMAL_SEARCH`` draws among the seekers still available, in the order given
    (:func:`_informal_picks`)."""
    take = min(len(vacancies), len(seekers))
    if take == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    xy = model.city.node_xy
    draws = rng.random((take, INFORMAL_SEARCH))
    picks = _informal_picks(draws, xy[model.population.home[seekers]], xy[model.merchants.node[vacancies[:take]]])
    return vacancies[:take], seekers[picks]


@njit(cache=True, nogil=True)
def _informal_picks(draws, seeker_xy, vacancy_xy):  # pragma: no cover - compiled
    """For vacancy i in turn: of the seekers still available (in their given order), those at ranks
    ``floor(draws[i, j] * available)`` for the first min(``draws.shape[1]``, available) draws; the
    one nearest the vacancy (|dx| + |dy|; the first heard of among equals) is picked and no longer
    available. Returns the picked seekers' positions.

    The rank-th available seeker is found in a Fenwick tree of who is available (log n steps, not
    a list of the available rebuilt for every vacancy: 11 ms of a 1,000,000-resident month end).
    """
    n = seeker_xy.shape[0]
    take = draws.shape[0]
    tree = np.zeros(n + 1, dtype=np.int64)  # tree[i]: available seekers among positions (i - lowbit(i), i]
    for i in range(1, n + 1):
        tree[i] += 1
        j = i + (i & -i)
        if j <= n:
            tree[j] += tree[i]
    top = 1
    while top * 2 <= n:
        top *= 2
    picks = np.empty(take, dtype=np.int64)
    for i in range(take):
        left = n - i
        best, best_d = -1, np.inf
        for j in range(min(draws.shape[1], left)):
            rank = np.int64(draws[i, j] * left)
            pos, before, step = 0, rank + 1, top  # the first position with rank + 1 available up to it
            while step > 0:
                if pos + step <= n and tree[pos + step] < before:
                    pos += step
                    before -= tree[pos]
                step //= 2
            d = abs(seeker_xy[pos, 0] - vacancy_xy[i, 0]) + abs(seeker_xy[pos, 1] - vacancy_xy[i, 1])
            if d < best_d:
                best, best_d = pos, d
        picks[i] = best
        k = best + 1
        while k <= n:
            tree[k] -= 1
            k += k & -k
    return picks


def _match(model: LifeCircleModel, vacancies: np.ndarray, seekers: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fill vacancies from seekers; returns hired resident ids and the vacancies left unfilled."""
    pop, mer = model.population, model.merchants
    hiring = model.levers.get("local_hiring")
    if hiring is not None and hiring.acting and len(vacancies) and len(seekers):
        pairs = hiring.match_nearby(model, vacancies, seekers, rng)
    else:
        pairs = _match_informal(model, vacancies, seekers, rng)
    jobs, people = pairs
    take_jobs(model, people, jobs, rng)
    np.add.at(mer.staff_local, jobs, 1)
    filled = np.zeros(len(vacancies), dtype=bool)
    # Vacancies are interchangeable within a merchant: mark as many as were filled per merchant.
    counts = np.bincount(jobs, minlength=mer.n) if len(jobs) else np.zeros(mer.n, dtype=np.int64)
    order = np.argsort(vacancies, kind="stable")
    sorted_v = vacancies[order]
    first = np.ones(len(sorted_v), dtype=bool)
    first[1:] = sorted_v[1:] != sorted_v[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(sorted_v)), 0)) if len(sorted_v) else sorted_v
    rank = np.arange(len(sorted_v)) - start
    filled[order] = rank < counts[sorted_v]
    return {"residents": people, "unfilled": vacancies[~filled]}
