"""Big-data monitoring for precise outlet siting.

Without the lever a would-be entrant views ``economy.sites_considered`` nodes with shop space,
drawn at random, and weighs the best-looking. With it,
the entrant reads the monitoring map of the category: how many residents live beyond the
category's walking tier from any outlet (a coverage gap) and how many needs went unmet last month,
node by node. It looks at ``candidate_nodes`` shop-space nodes -- half the ones nearest to the
largest gaps, half at random -- and, among those that pass its entry test, opens at the one that
brings the most uncovered residents within the tier (then the most unmet needs; falling back to
the best expected margin), so new outlets open where unmet demand is highest.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class Siting(Lever):
    name = "siting"
    measure = "big-data monitoring for precise outlet siting"
    mechanism = "entrants open at the candidate site that closes the largest coverage gap"
    indicator = "in a settled district nothing measurable: would-be entrants (6 per trade a month) already find the viable sites, and the gaps left are ones no outlet pays in; demand-informed siting speeds up filling gaps that open"
    claims = ()

    def choose_site(self, model, category: int, shops: np.ndarray) -> int:
        """The shop-space node a demand-informed entrant of ``category`` opens at."""
        from sim.economy.entry import expected_revenues

        limit = model.catalogue.tier_minutes[category] * model.scenario.population.walk_speed_m_per_min
        uncovered = model.residents_at_node * (model.nearest_m[:, category] > limit)
        unmet = model.unmet_last_month[:, category]
        demand = uncovered * 1000.0 + unmet  # gaps first, then unmet needs
        n_cand = self.config.candidate_nodes
        hot = np.argsort(-demand, kind="stable")[: max(1, n_cand // 2)]
        hot = hot[demand[hot] > 0]
        xy = model.city.node_xy
        near_hot = [shops[int(np.argmin(np.abs(xy[shops] - xy[h]).sum(axis=1)))] for h in hot]
        random_part = shops[self.rng.integers(len(shops), size=max(1, n_cand - len(near_hot)))]
        candidates = np.unique(np.concatenate([np.array(near_hot, dtype=np.int64), random_part]))
        scores = expected_revenues(model, candidates, category)  # weighed together: one compiled call
        margin = np.array([rev - cost * model.scenario.economy.entry_hurdle for rev, cost in scores])
        gain = np.array([demand[model.nodes_within(int(v), limit)[0]].sum() for v in candidates])
        viable = margin >= 0
        if viable.any() and gain[viable].max() > 0:
            return int(candidates[viable][int(np.argmax(gain[viable]))])
        return int(candidates[int(np.argmax(margin))])
