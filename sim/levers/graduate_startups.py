"""Graduates start businesses (creative, specialty, boutique shops).

While the lever acts, each recent graduate opens an outlet with ``startup_per_month`` (at full
strength, replacing the economy's default founding rate), as any founder does: of five ideas --
a trade drawn with odds that follow last month's unmet needs (plus an even share), a random site --
the one with the best margin, if it passes the entry test (:func:`sim.economy.entry._found`); each such outlet receives ``strength x subsidy_cny`` from the
public budget towards its start-up capital.
"""

from __future__ import annotations

from sim.services.catalogue import FEN_PER_CNY
from sim.levers.base import Lever


class GraduateStartups(Lever):
    name = "graduate_startups"
    measure = "graduates start businesses (creative, specialty, boutique shops)"
    mechanism = "more graduates found outlets, with a start-up subsidy"
    indicator = "graduate_entrepreneurs, merchant_births, merchants_open"
    claims = (("graduate_entrepreneurs", +1), ("merchant_births", +1), ("merchants_open", +1))
    overrides = {"startup_per_month": "startup_per_month"}

    def subsidy_fen(self, model) -> int:
        """Subsidy for one graduate-founded outlet now, fen."""
        return int(round(self.strength_now * self.config.subsidy_cny * FEN_PER_CNY))
