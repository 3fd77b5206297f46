"""Start-up services and electronic licences.

While the lever acts, the days from licence application to opening fall towards
``licence_days`` and the start-up cost towards ``startup_cost_multiplier`` of the catalogue's:
fewer entrants give up while waiting (``economy.abandon_per_day``), gaps fill sooner and new
outlets need less capital.
"""

from __future__ import annotations

from sim.levers.base import Lever


class Licences(Lever):
    name = "licences"
    measure = "start-up services, electronic licences"
    mechanism = "shorter licence delay and lower start-up cost for new outlets"
    indicator = "days from application to opening (licence_wait_days); a cheaper start-up lets a few more marginal sites pay (about one outlet in 300 in the settled baseline, within the seed noise); the fees waived are revenue forgone, not spending: public_spending does not count them"
    claims = (("licence_wait_days", -1),)
    overrides = {"licence_days": "licence_days", "startup_cost_multiplier": "startup_cost_multiplier"}
