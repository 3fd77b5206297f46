"""Smart stores: digitalising goods, stores, members and supply chains.

Each month the lever brings the digitalised share of open merchants up to
``strength x adoption_share``: convenience stores and pharmacies first, then other stores at
random. A store that adopts pays ``adoption_cost_cny`` to technology vendors, ``subsidy_share`` of
it from the public budget; only stores whose cash covers their own share adopt. A digitalised store has ``capacity_gain`` more daily capacity (self-checkout, pre-orders),
``cost_saving`` lower fixed operating costs (and a quarter of that off its cost of goods, through
supply-chain data), and -- convenience stores and pharmacies -- opens at night. Digitalisation
persists after the lever ends; subsidies stop.
"""

from __future__ import annotations

import numpy as np

from sim.services.catalogue import FEN_PER_CNY
from sim.economy.ledger import MERCHANT
from sim.levers.base import Lever

NIGHT_CATEGORIES = ("convenience_store", "pharmacy")


class SmartStores(Lever):
    name = "smart_stores"
    measure = "smart stores; digitalising goods, stores, members and supply chains"
    mechanism = "merchants digitalise: lower operating cost, more capacity, night opening"
    indicator = "night-time access (night_needs_met_share), merchants' profit (lower operating costs); survival barely moves in a settled district, where few outlets close"
    claims = (("night_needs_met_share", +1), ("merchant_profit_mean", +1), ("smart_store_share", +1))

    def on_month(self) -> None:
        if not self.acting:
            return
        model, mer, cfg = self.model, self.model.merchants, self.config
        open_ids = mer.open_ids()
        open_ids = open_ids[~mer.mobile[open_ids]]
        target = int(round(self.strength_now * cfg.adoption_share * len(open_ids)))
        adopters_needed = target - int(mer.smart[open_ids].sum())
        if adopters_needed <= 0:
            return
        cost = int(round(cfg.adoption_cost_cny * FEN_PER_CNY))
        subsidy = int(round(cost * cfg.subsidy_share))
        # A store adopts only if it can pay its own share now: digitalising a store that is
        # short of cash would push it into closure rather than save it.
        candidates = open_ids[~mer.smart[open_ids] & (model.ledger.merchant_cash[open_ids] >= cost - subsidy)]
        if len(candidates) == 0:
            return
        # The programme targets convenience stores and pharmacies first (the formats of the plan's
        # smart-store pilots, which can run unstaffed at night); other stores follow, at random.
        night_ids = [model.catalogue.names.index(n) for n in NIGHT_CATEGORIES if n in model.catalogue.names]
        candidates = self.rng.permutation(candidates)
        candidates = candidates[np.argsort(~np.isin(mer.category[candidates], night_ids), kind="stable")]
        adopt = candidates[:adopters_needed]
        if subsidy:
            model.ledger.transfer("public_budget", "technology_vendors", np.full(len(adopt), subsidy), "lever.smart_stores.subsidy")
        if cost - subsidy:
            model.ledger.transfer((MERCHANT, adopt), "technology_vendors", cost - subsidy, "smart_store_adoption")
        mer.smart[adopt] = True
        mer.capacity[adopt] = np.round(mer.capacity[adopt] * (1 + cfg.capacity_gain)).astype(np.int32)
        if cfg.night_opening:
            mer.night[adopt] |= np.isin(mer.category[adopt], night_ids)
