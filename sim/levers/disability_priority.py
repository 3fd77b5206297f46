"""Priority job recommendation for people with disabilities.

While the lever acts, a job seeker with a disability is considered for vacancies with
``hiring_factor`` (at full strength, replacing the economy's ``disability_hiring_factor``) and is
recommended to local employers with probability equal to the lever's strength: the recommended
seekers are matched to the month's local vacancies before any other seeker (by the usual rule among
themselves: the nearest of those a merchant hears of, or under local hiring the nearest in reach;
:func:`sim.economy.labour._match_in_turn`). The same factor applies to jobs found outside the
circle (public employment services).
"""

from __future__ import annotations

from sim.levers.base import Lever


class DisabilityPriority(Lever):
    name = "disability_priority"
    measure = "priority job recommendation for people with disabilities"
    mechanism = "disabled job seekers are matched first and no longer screened out"
    indicator = "disability_employment_gap (narrows), employment_rate, the income of residents with a disability"
    claims = (("disability_employment_gap", -1), ("employment_rate", +1), ("income_mean_by_group.disabled", +1))
    overrides = {"disability_hiring_factor": "hiring_factor"}
