"""Big-data monitoring for precise outlet siting.

Without the lever a would-be entrant looks at one node with shop space, drawn at random. With it,
the entrant ranks ``candidate_nodes`` shop-space nodes -- half next to the homes with the most
unmet needs of its category last month (the monitoring data), half at random -- by expected
profit and takes the best, so new outlets open where unmet demand is highest.
"""

from __future__ import annotations

import numpy as np

from sim.levers.base import Lever


class Siting(Lever):
    name = "siting"
    measure = "big-data monitoring for precise outlet siting"
    mechanism = "entrants rank candidate sites by unmet demand and open at the best"
    indicator = "coverage per outlet, gaps closed (basic_coverage_15), merchant survival"

    def choose_site(self, model, category: int, shops: np.ndarray) -> int:
        from sim.entry import expected_revenue

        n_cand = self.config.candidate_nodes
        unmet = model.unmet_last_month[:, category]
        hot = np.argsort(-unmet, kind="stable")[: max(1, n_cand // 2)]
        hot = hot[unmet[hot] > 0]
        xy = model.city.node_xy
        near_hot = []
        for h in hot:
            d = np.abs(xy[shops] - xy[h]).sum(axis=1)
            near_hot.append(shops[int(np.argmin(d))])
        random_part = shops[self.rng.integers(len(shops), size=max(1, n_cand - len(near_hot)))]
        candidates = np.unique(np.concatenate([np.array(near_hot, dtype=np.int64), random_part]))
        scores = [expected_revenue(model, int(v), category) for v in candidates]
        margin = [rev - cost for rev, cost in scores]
        return int(candidates[int(np.argmax(margin))])
