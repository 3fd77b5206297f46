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
    indicator = "merchant_births (entry rate), time to fill a gap"
    overrides = {"licence_days": "licence_days", "startup_cost_multiplier": "startup_cost_multiplier"}
