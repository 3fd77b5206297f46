"""The dynamic map of life-circle services.

Each month the share of residents using the map is brought up to ``strength x adoption_share``
(new users drawn at random). A map user knows every outlet within walking range, not only those
found by chance or word of mouth, so demand spreads to outlets that would otherwise be missed.
When the lever ends the map stops being updated: users keep what they knew but learn no more.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class ServiceMap(Lever):
    name = "service_map"
    measure = "dynamic map of life-circle services"
    mechanism = "map users know every outlet in reach, not only the ones they found"
    indicator = "what residents know of the outlets in reach (known_outlet_share); in a settled district word of mouth has spread and little else moves"
    claims = (("known_outlet_share", +1),)

    def on_month(self) -> None:
        pop = self.model.population
        if not self.acting:
            if pop.map_user.any():  # the map has stopped: users keep what they knew
                pop.knows[pop.map_user] = np.uint8((1 << self.model.reach.k) - 1)
                pop.map_user[:] = False
            return
        target = int(round(self.strength_now * self.config.adoption_share * pop.n))
        need = target - int(pop.map_user.sum())
        if need > 0:
            pool = np.flatnonzero(~pop.map_user)
            pop.map_user[self.rng.choice(pool, size=min(need, len(pool)), replace=False)] = True
